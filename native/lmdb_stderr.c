/* mdb.o's reference to `stderr` is renamed to this hidden symbol at build
 * time (scripts/lmdb-object.sh) because the archive is not PIC. LMDB only
 * uses it in mdb_reader_list's default printer and assertion output. */
#include <stdio.h>

__attribute__((visibility("hidden"))) FILE *lmdb_txn_stderr;

__attribute__((constructor)) static void lmdb_txn_stderr_init(void) {
  lmdb_txn_stderr = stderr;
}
