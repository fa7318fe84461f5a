#include "read_start.h"

#include <cstddef>

namespace lmdbtxn {

namespace {
// Starts tried before the last one is kept.
constexpr int kSettleAttempts = 16;

// The txnid a read txn starting now gets (begun and aborted at once, so it
// holds no reader slot), or 0 if none can start.
size_t StartTxnId(MDB_env* env) {
  MDB_txn* probe = nullptr;
  if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &probe) != MDB_SUCCESS) return 0;
  size_t id = mdb_txn_id(probe);
  mdb_txn_abort(probe);
  return id;
}
}  // namespace

// LMDB 0.9.24 starts a read txn by reading the last committed txnid N from
// the lock file, then copying meta page N&1. A reader preempted between the
// two can find that page rewritten, or half rewritten, by txn N+2: it reads
// a later, maybe torn, root under id N, and its next read can go back to
// N+1 (seen in the JetStream fault test; test/read-start.test.ts makes it
// happen in seconds). N+2 writes that page only after N+1 is committed and
// the lock file says N+1. So the copy was sound if, after it, no meta page
// is newer than N, or a read starting now still gets N.
int SettleReadTxn(MDB_env* env, MDB_txn* txn) {
  for (int attempt = 0; attempt < kSettleAttempts; ++attempt) {
    size_t id = mdb_txn_id(txn);
    MDB_envinfo info;
    if (mdb_env_info(env, &info) == MDB_SUCCESS && info.me_last_txnid <= id) return MDB_SUCCESS;
    if (StartTxnId(env) == id) return MDB_SUCCESS;
    mdb_txn_reset(txn);
    int rc = mdb_txn_renew(txn);
    if (rc != MDB_SUCCESS) return rc;
  }
  // A commit landed in every window (a writer committing back to back,
  // faster than this loop): keep the last start, as LMDB alone would.
  return MDB_SUCCESS;
}

}  // namespace lmdbtxn
