/* LevelDB's RepairDB as an oracle for db/tests/repair.rs: repairs the
 * directory given (writing uncompressed tables, which Tributary reads),
 * opens it, and prints every key and value as hex, one pair a line. */
#include <leveldb/c.h>
#include <stdio.h>

static void hex(const char *bytes, size_t len) {
    for (size_t i = 0; i < len; i++) printf("%02x", (unsigned char)bytes[i]);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    char *err = NULL;
    leveldb_options_t *options = leveldb_options_create();
    leveldb_options_set_compression(options, leveldb_no_compression);
    leveldb_repair_db(options, argv[1], &err);
    if (err) {
        fprintf(stderr, "repair: %s\n", err);
        return 3;
    }
    leveldb_t *db = leveldb_open(options, argv[1], &err);
    if (err) {
        fprintf(stderr, "open: %s\n", err);
        return 4;
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
    leveldb_iter_get_error(it, &err);
    if (err) fprintf(stderr, "iterate: %s\n", err);
    leveldb_iter_destroy(it);
    leveldb_readoptions_destroy(read);
    leveldb_close(db);
    leveldb_options_destroy(options);
    return 0;
}
