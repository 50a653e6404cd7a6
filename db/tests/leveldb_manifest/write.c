/* Writes a LevelDB database with LevelDB's default options (Snappy, no
 * filter) and a small write buffer, so that its manifest lists tables on
 * several levels, deletions and overwrites among them; for
 * db/tests/leveldb_manifest.rs. */
#include <leveldb/c.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    char *err = NULL;
    leveldb_options_t *options = leveldb_options_create();
    leveldb_options_set_create_if_missing(options, 1);
    leveldb_options_set_write_buffer_size(options, 64 << 10);
    leveldb_t *db = leveldb_open(options, argv[1], &err);
    if (err) {
        fprintf(stderr, "open: %s\n", err);
        return 3;
    }
    leveldb_writeoptions_t *write = leveldb_writeoptions_create();
    char key[32], value[128];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 20000; i++) {
            snprintf(key, sizeof key, "key%08d", (i * 7919) % 20000);
            snprintf(value, sizeof value, "value %d of round %d, padded to be longer than its key", i, round);
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
    leveldb_writeoptions_destroy(write);
    leveldb_close(db);
    leveldb_options_destroy(options);
    return 0;
}
