// Writes a goleveldb database for db/tests/goleveldb.rs with goleveldb's
// default options (Snappy blocks, a bloom filter only if asked: none) but a
// small write buffer, so that it has tables on several levels, overwrites
// and deletes, and records left only in its journal at close. Then prints
// every live key and value as hex, one pair a line, as goleveldb's own
// iterator sees them. With "scan" it writes nothing: it opens the existing
// database (strictly) and prints it the same way.
package main

import (
	"encoding/hex"
	"fmt"
	"os"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

func main() {
	if len(os.Args) != 3 {
		os.Exit(2)
	}
	scan := os.Args[2] == "scan"
	options := &opt.Options{WriteBuffer: 64 << 10, ErrorIfMissing: scan}
	if scan {
		options.Strict = opt.StrictAll
	}
	db, err := leveldb.OpenFile(os.Args[1], options)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	for round := 0; !scan && round < 3; round++ {
		for i := 0; i < 20000; i++ {
			key := []byte(fmt.Sprintf("key%08d", (i*7919)%20000))
			if round == 2 && i%5 == 0 {
				err = db.Delete(key, nil)
			} else {
				err = db.Put(key, []byte(fmt.Sprintf("value %d of round %d", i, round)), nil)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "write:", err)
				os.Exit(4)
			}
		}
	}
	it := db.NewIterator(nil, nil)
	for it.Next() {
		fmt.Printf("%s\t%s\n", hex.EncodeToString(it.Key()), hex.EncodeToString(it.Value()))
	}
	it.Release()
	if err := it.Error(); err != nil {
		fmt.Fprintln(os.Stderr, "scan:", err)
		os.Exit(5)
	}
	if err := db.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		os.Exit(6)
	}
}
