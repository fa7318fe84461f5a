// Starting a read txn soundly on LMDB 0.9.24 (read_start.cc says what goes
// wrong). Plain LMDB, no Node-API: test/read-start.test.ts builds it into a
// stress program of its own.
#pragma once
#include <lmdb.h>

namespace lmdbtxn {

// `txn`, a read txn of `env`, was just begun or renewed. Returns
// MDB_SUCCESS once it reads the snapshot its id names (renewing it when
// unsure), or the LMDB code of a failed renew; `txn` is then reset.
int SettleReadTxn(MDB_env* env, MDB_txn* txn);

}  // namespace lmdbtxn
