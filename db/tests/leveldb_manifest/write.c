/* Writes a LevelDB database for db/tests/leveldb_manifest.rs: block
 * compression as the second argument says ("snappy", LevelDB's default,
 * or "none", as Bitcoin Core's chainstate is), a small write buffer so
 * that it has tables on several levels, overwrites and deletes, and
 * records left only in its journal at close. Then prints every live key
 * and value as hex, one pair a line, as LevelDB's own iterator sees them.
 * With "scan" it writes nothing: it opens the existing database (with
 * paranoid checks) and prints it the same way. */
#include <leveldb/c.h>
#include <stdio.h>
#include <string.h>

static void hex(const char *bytes, size_t len) {
    for (size_t i = 0; i < len; i++) printf("%02x", (unsigned char)bytes[i]);
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    char *err = NULL;
    leveldb_options_t *options = leveldb_options_create();
    int scan = strcmp(argv[2], "scan") == 0;
    leveldb_options_set_create_if_missing(options, !scan);
    leveldb_options_set_paranoid_checks(options, scan);
    leveldb_options_set_compression(
        options, strcmp(argv[2], "none") == 0 ? leveldb_no_compression : leveldb_snappy_compression);
    leveldb_options_set_write_buffer_size(options, 64 << 10);
    leveldb_t *db = leveldb_open(options, argv[1], &err);
    if (err) {
        fprintf(stderr, "open: %s\n", err);
        return 3;
    }
    leveldb_writeoptions_t *write = leveldb_writeoptions_create();
    char key[32], value[128];
    for (int round = 0; round < (scan ? 0 : 3); round++) {
        for (int i = 0; i < 20000; i++) {
            snprintf(key, sizeof key, "key%08d", (i * 7919) % 20000);
            snprintf(value, sizeof value, "value %d of round %d", i, round);
            if (round == 2 && i % 5 == 0) {
                leveldb_delete(db, write, key, strlen(key), &err);
            } else {
                leveldb_put(db, write, key, strlen(key), value, strlen(value), &err);
            }
            if (err) {
                fprintf(stderr, "write: %s\n", err);
                return 4;
            }
        }
    }
    leveldb_readoptions_t *read = leveldb_readoptions_create();
    leveldb_iterator_t *it = leveldb_create_iterator(db, read);
    for (leveldb_iter_seek_to_first(it); leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = leveldb_iter_key(it, &klen);
        const char *v = leveldb_iter_value(it, &vlen);
        hex(k, klen);
        printf("\t");
        hex(v, vlen);
        printf("\n");
    }
    leveldb_iter_destroy(it);
    leveldb_readoptions_destroy(read);
    leveldb_writeoptions_destroy(write);
    leveldb_close(db);
    leveldb_options_destroy(options);
    return 0;
}
