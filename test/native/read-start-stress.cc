// Stress for native/read_start.cc, built by test/read-start.test.ts.
// A writer commits back to back (nosync), each commit storing its own txnid
// under "n". Reader threads start read txns in a loop (renew) and check that
// "n" equals the txn's id: anything else is a snapshot that is not the one
// its id names. `raw` starts them with LMDB alone, `settled` through
// SettleReadTxn. Stops after `seconds` or `stopAfter` such reads and prints
// {"reads","anomalies","back","commits","seconds"} as one JSON line.
//   read-start-stress <dir> raw|settled <seconds> <readers> <stopAfter>
#include <lmdb.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "read_start.h"

namespace {

MDB_env* env = nullptr;
MDB_dbi dbi = 0;
std::atomic<bool> stop{false};
std::atomic<unsigned long> anomalies{0}, backs{0}, reads{0};
bool settled = false;
unsigned long stopAfter = 0;

void Die(const char* what, int rc) {
  std::fprintf(stderr, "%s: %s\n", what, mdb_strerror(rc));
  std::exit(2);
}

unsigned long Writer() {
  unsigned long commits = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env, nullptr, 0, &txn);
    if (rc != MDB_SUCCESS) Die("mdb_txn_begin", rc);
    size_t id = mdb_txn_id(txn);
    MDB_val key{1, const_cast<char*>("n")}, val{sizeof id, &id};
    if ((rc = mdb_put(txn, dbi, &key, &val, 0)) != MDB_SUCCESS) Die("mdb_put", rc);
    if ((rc = mdb_txn_commit(txn)) != MDB_SUCCESS) Die("mdb_txn_commit", rc);
    commits++;
  }
  return commits;
}

void Reader() {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  if (rc != MDB_SUCCESS) Die("mdb_txn_begin (read)", rc);
  mdb_txn_reset(txn);
  size_t last = 0;
  unsigned long n = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    if ((rc = mdb_txn_renew(txn)) != MDB_SUCCESS) Die("mdb_txn_renew", rc);
    if (settled && (rc = lmdbtxn::SettleReadTxn(env, txn)) != MDB_SUCCESS) Die("SettleReadTxn", rc);
    size_t id = mdb_txn_id(txn), value = 0;
    MDB_val key{1, const_cast<char*>("n")}, val;
    if (mdb_get(txn, dbi, &key, &val) == MDB_SUCCESS && val.mv_size == sizeof value) std::memcpy(&value, val.mv_data, sizeof value);
    mdb_txn_reset(txn);
    n++;
    if (value != 0 && value != id) {
      if (anomalies.fetch_add(1) + 1 >= stopAfter) stop = true;
    }
    if (value < last) backs++;
    if (value > last) last = value;
  }
  reads += n;
  mdb_txn_abort(txn);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s <dir> raw|settled <seconds> <readers> <stopAfter>\n", argv[0]);
    return 2;
  }
  settled = std::strcmp(argv[2], "settled") == 0;
  double seconds = std::atof(argv[3]);
  int readers = std::atoi(argv[4]);
  stopAfter = std::strtoul(argv[5], nullptr, 10);
  int rc = mdb_env_create(&env);
  if (rc == MDB_SUCCESS) rc = mdb_env_set_mapsize(env, size_t(1) << 28);
  if (rc == MDB_SUCCESS) rc = mdb_env_set_maxreaders(env, 2 * readers + 8);
  if (rc == MDB_SUCCESS) rc = mdb_env_open(env, argv[1], MDB_NOTLS | MDB_NOSYNC, 0644);
  if (rc != MDB_SUCCESS) Die("mdb_env_open", rc);
  MDB_txn* txn = nullptr;
  if ((rc = mdb_txn_begin(env, nullptr, 0, &txn)) != MDB_SUCCESS) Die("mdb_txn_begin", rc);
  if ((rc = mdb_dbi_open(txn, nullptr, 0, &dbi)) != MDB_SUCCESS) Die("mdb_dbi_open", rc);
  if ((rc = mdb_txn_commit(txn)) != MDB_SUCCESS) Die("mdb_txn_commit", rc);

  auto t0 = std::chrono::steady_clock::now();
  unsigned long commits = 0;
  std::thread writer([&] { commits = Writer(); });
  std::vector<std::thread> threads;
  for (int i = 0; i < readers; i++) threads.emplace_back(Reader);
  while (!stop && std::chrono::steady_clock::now() - t0 < std::chrono::duration<double>(seconds)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  writer.join();
  for (auto& t : threads) t.join();
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"reads\":%lu,\"anomalies\":%lu,\"back\":%lu,\"commits\":%lu,\"seconds\":%.3f}\n",
              reads.load(), anomalies.load(), backs.load(), commits, took);
  mdb_env_close(env);
  return 0;
}
