// A LevelDB table tool for db/tests/leveldb_tables.rs: builds and reads
// table files with C++ LevelDB's TableBuilder and Table, through its public
// headers only.
//
//   shim write ENTRIES OUT           ENTRIES: "hex(internal_key) hex(value)"
//                                    per line, in order; writes table OUT
//   shim read TABLE [--seek HEX...]  prints "hex(key) hex(value)" per entry
//                                    of a full forward iteration, then
//                                    "seek HEX KEY VALUE" or "seek HEX none"
//                                    per target
//
// LevelDB keeps its internal-key comparator and filter policy out of its
// public headers, so this file has its own, written to behave as
// db/dbformat.cc does. Any error exits 1 with the status on stderr.

#include <leveldb/comparator.h>
#include <leveldb/env.h>
#include <leveldb/filter_policy.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/table.h>
#include <leveldb/table_builder.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using leveldb::Slice;

constexpr size_t kTrailer = 8;
// The largest sequence number with the seek kind (a put): the trailer that
// sorts first among the versions of a user key.
constexpr uint64_t kMaxSequence = (uint64_t{1} << 56) - 1;
constexpr uint64_t kSeparatorTrailer = (kMaxSequence << 8) | 1;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "shim: %s\n", what.c_str());
  std::exit(1);
}

void Check(const leveldb::Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

// A key too short for a trailer (only a damaged file has one) counts as a
// user key with the largest trailer, as Tributary orders it.
Slice UserPart(const Slice& k) {
  return k.size() < kTrailer ? k : Slice(k.data(), k.size() - kTrailer);
}

uint64_t TrailerOf(const Slice& k) {
  if (k.size() < kTrailer) return UINT64_MAX;
  uint64_t t = 0;
  for (size_t i = 0; i < kTrailer; ++i) {
    t |= uint64_t{static_cast<uint8_t>(k[k.size() - kTrailer + i])} << (8 * i);
  }
  return t;
}

void PutTrailer(std::string* out, uint64_t t) {
  for (size_t i = 0; i < kTrailer; ++i) out->push_back(static_cast<char>(t >> (8 * i)));
}

// User key ascending (bytewise), then trailer descending.
class InternalOrder final : public leveldb::Comparator {
 public:
  const char* Name() const override { return "leveldb.InternalKeyComparator"; }

  int Compare(const Slice& a, const Slice& b) const override {
    int c = user_->Compare(UserPart(a), UserPart(b));
    if (c != 0) return c;
    uint64_t ta = TrailerOf(a), tb = TrailerOf(b);
    return ta > tb ? -1 : (ta < tb ? 1 : 0);
  }

  void FindShortestSeparator(std::string* start, const Slice& limit) const override {
    if (start->size() < kTrailer || limit.size() < kTrailer) return;
    std::string user = UserPart(*start).ToString();
    user_->FindShortestSeparator(&user, UserPart(limit));
    Adopt(start, std::move(user));
  }

  void FindShortSuccessor(std::string* key) const override {
    if (key->size() < kTrailer) return;
    std::string user = UserPart(*key).ToString();
    user_->FindShortSuccessor(&user);
    Adopt(key, std::move(user));
  }

 private:
  // Takes the shortened user key only if it is physically shorter and
  // logically larger, with the separator trailer.
  void Adopt(std::string* key, std::string shorter) const {
    Slice user = UserPart(*key);
    if (shorter.size() < user.size() && user_->Compare(user, shorter) < 0) {
      PutTrailer(&shorter, kSeparatorTrailer);
      key->swap(shorter);
    }
  }

  const leveldb::Comparator* user_ = leveldb::BytewiseComparator();
};

// LevelDB's Bloom filter over user keys: the trailer is stripped first.
class UserKeyBloom final : public leveldb::FilterPolicy {
 public:
  const char* Name() const override { return "leveldb.BuiltinBloomFilter2"; }

  void CreateFilter(const Slice* keys, int n, std::string* dst) const override {
    std::vector<Slice> users;
    users.reserve(n);
    for (int i = 0; i < n; ++i) users.push_back(UserPart(keys[i]));
    bloom_->CreateFilter(users.data(), n, dst);
  }

  bool KeyMayMatch(const Slice& key, const Slice& filter) const override {
    return bloom_->KeyMayMatch(UserPart(key), filter);
  }

 private:
  std::unique_ptr<const leveldb::FilterPolicy> bloom_{leveldb::NewBloomFilterPolicy(10)};
};

int Nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  Die(std::string("bad hex digit '") + c + "'");
}

std::string FromHex(const std::string& hex) {
  if (hex.size() % 2 != 0) Die("odd-length hex: " + hex);
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<char>(Nibble(hex[i]) << 4 | Nibble(hex[i + 1])));
  }
  return out;
}

std::string ToHex(const Slice& s) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (size_t i = 0; i < s.size(); ++i) {
    uint8_t b = static_cast<uint8_t>(s[i]);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

struct Setup {
  InternalOrder order;
  UserKeyBloom bloom;
  leveldb::Options options;
  Setup() {
    options.comparator = &order;
    options.filter_policy = &bloom;
    options.compression = leveldb::kNoCompression;
    options.block_size = 4096;
    options.block_restart_interval = 16;
  }
};

int Write(const Setup& setup, const char* entries_path, const char* out_path) {
  std::ifstream in(entries_path);
  if (!in) Die(std::string("cannot open ") + entries_path);
  leveldb::Env* env = leveldb::Env::Default();
  leveldb::WritableFile* file = nullptr;
  Check(env->NewWritableFile(out_path, &file), "create table");
  std::unique_ptr<leveldb::WritableFile> owned(file);
  leveldb::TableBuilder builder(setup.options, file);
  std::string line;
  while (std::getline(in, line)) {
    size_t space = line.find(' ');
    if (space == std::string::npos) Die("entry line without a space: " + line);
    std::string key = FromHex(line.substr(0, space));
    std::string value = FromHex(line.substr(space + 1));
    builder.Add(key, value);
    Check(builder.status(), "add");
  }
  Check(builder.Finish(), "finish");
  Check(file->Sync(), "sync");
  Check(file->Close(), "close");
  return 0;
}

void PrintEntry(const leveldb::Iterator& it) {
  std::printf("%s %s", ToHex(it.key()).c_str(), ToHex(it.value()).c_str());
}

int Read(const Setup& setup, const char* path, const std::vector<std::string>& seeks) {
  leveldb::Env* env = leveldb::Env::Default();
  uint64_t size = 0;
  Check(env->GetFileSize(path, &size), "size");
  leveldb::RandomAccessFile* file = nullptr;
  Check(env->NewRandomAccessFile(path, &file), "open file");
  std::unique_ptr<leveldb::RandomAccessFile> owned_file(file);
  leveldb::Table* table = nullptr;
  Check(leveldb::Table::Open(setup.options, file, size, &table), "open table");
  std::unique_ptr<leveldb::Table> owned_table(table);
  leveldb::ReadOptions read;
  read.verify_checksums = true;
  std::unique_ptr<leveldb::Iterator> it(table->NewIterator(read));

  std::vector<std::pair<std::string, std::string>> forward;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    forward.emplace_back(it->key().ToString(), it->value().ToString());
    PrintEntry(*it);
    std::printf("\n");
  }
  Check(it->status(), "forward iteration");

  // Backward must visit the same entries in reverse.
  size_t back = forward.size();
  for (it->SeekToLast(); it->Valid(); it->Prev()) {
    if (back == 0 || forward[back - 1].first != it->key().ToString() ||
        forward[back - 1].second != it->value().ToString()) {
      Die("backward iteration disagrees with forward at entry " + std::to_string(back));
    }
    --back;
  }
  Check(it->status(), "backward iteration");
  if (back != 0) Die("backward iteration stopped " + std::to_string(back) + " entries short");

  for (const std::string& hex : seeks) {
    it->Seek(FromHex(hex));
    std::printf("seek %s ", hex.c_str());
    if (it->Valid()) {
      PrintEntry(*it);
    } else {
      std::printf("none");
    }
    std::printf("\n");
    Check(it->status(), "seek");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Setup setup;
  if (argc == 4 && std::strcmp(argv[1], "write") == 0) return Write(setup, argv[2], argv[3]);
  if (argc >= 3 && std::strcmp(argv[1], "read") == 0) {
    std::vector<std::string> seeks;
    int i = 3;
    if (i < argc) {
      if (std::strcmp(argv[i], "--seek") != 0) Die(std::string("unknown argument ") + argv[i]);
      ++i;
    }
    for (; i < argc; ++i) seeks.emplace_back(argv[i]);
    return Read(setup, argv[2], seeks);
  }
  std::fprintf(stderr, "usage: shim write ENTRIES OUT | shim read TABLE [--seek HEXKEY...]\n");
  return 2;
}
