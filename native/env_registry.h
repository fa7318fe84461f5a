// One MDB_env per directory per process (LMDB forbids opening one twice: its
// fcntl locks are per process). Every open() of a directory, on any thread,
// shares the EnvEntry; the last release closes the environment.
#pragma once
#include <lmdb.h>
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace lmdbtxn {

constexpr uint32_t kFormatVersion = 1;

struct EnvOptions {
  std::string path;
  bool readOnly = false;
  uint64_t mapSize = 0;
  uint64_t maxMapSize = 0;
  unsigned maxReaders = 126;
  bool changeLog = false;  // turn the change log on (it stays on, in `meta`)
};

class EnvEntry {
 public:
  // Opens (or shares) the environment of `options.path`, checks the on-disk
  // format and clears stale reader slots. Throws typed errors.
  static std::shared_ptr<EnvEntry> Acquire(Napi::Env env, const EnvOptions& options);
  // Balances one Acquire. The environment closes with the last one; the
  // caller must have ended its own transactions first.
  void Release();
  // One more holder, as if opened again (a running backup keeps the
  // environment open after its store is closed); balanced by Release().
  void Retain();

  // mdb_env_copyfd2 into `fd` (at offset 0) on the calling thread, counted as
  // an active txn of this process (the copy reads through the map, so the map
  // must not be resized under it). Another process's growth is adopted and
  // the copy restarted. Returns an LMDB code or errno.
  int CopyTo(int fd, unsigned flags);

  MDB_env* env() const { return env_; }
  MDB_dbi dataDbi() const { return dataDbi_; }
  MDB_dbi metaDbi() const { return metaDbi_; }
  // `changes` (the change log) and `sync` (replication state: cursors, the
  // replica's applied seq, staged parts). 0 only for an old store opened
  // read-only before any writable open created them.
  MDB_dbi changesDbi() const { return changesDbi_; }
  MDB_dbi syncDbi() const { return syncDbi_; }
  bool hasAux() const { return changesDbi_ != 0; }
  // Random 128-bit id created with the store (hex), empty as for hasAux().
  const std::string& storeId() const { return storeId_; }
  // Whether the change log is on, read in `txn` (a write txn reads it under
  // LMDB's writer lock, so it is exact even if another process just turned
  // it on).
  bool ChangeLogOn(MDB_txn* txn) const;
  bool readOnly() const { return readOnly_; }
  const std::string& path() const { return path_; }
  uint64_t maxMapSize() const { return maxMapSize_; }
  uint64_t MapSize();
  uint64_t UsedBytes();
  int Info(MDB_envinfo* out);  // mdb_env_info, serialised with map resizes

  // Root transactions go through these so the process knows when none is
  // active: mdb_env_set_mapsize requires that, for every thread's txns.
  int BeginTxn(unsigned flags, MDB_txn** out);
  // Read txns are settled (read_start.h) before they are handed out.
  int RenewTxn(MDB_txn* txn);  // for a reset read-only txn
  void EndTxn();               // after the root txn was committed, aborted or reset

  // What a txn that hit MDB_MAP_FULL may tell its caller: whether the map
  // grew, and whether running the txn again can succeed.
  struct Growth {
    bool grown;
    bool retryable;
  };
  // Grows the map (doubling, capped at maxMapSize) if no transaction of this
  // process is active. If growth is impossible now (a snapshot is held), it
  // is remembered for the next begin; retrying is then still worthwhile.
  Growth Grow();
  // Called before a write txn: grows when the map is nearly used or a growth
  // was postponed. Never throws.
  void GrowIfNeeded();
  bool AtCeiling();

  // Sets the sync flags (MDB_NOSYNC / MDB_NOMETASYNC) a commit will use.
  // Durability belongs to the store handle and handles sharing the
  // environment may differ, so every committer calls this while holding
  // the writer lock, just before mdb_txn_commit. Returns an LMDB code.
  int ApplyDurability(unsigned flags);

  // The thread holding this process's write transaction (LMDB's writer mutex
  // belongs to a thread; a second begin on the same thread would deadlock).
  std::atomic<std::thread::id> writer{};
  // Clears `writer` only if this thread still owns it: another thread may
  // already have begun (and recorded) the next write txn.
  void ClearWriter() {
    std::thread::id me = std::this_thread::get_id();
    writer.compare_exchange_strong(me, std::thread::id());
  }

  EnvEntry() = default;
  EnvEntry(const EnvEntry&) = delete;
  EnvEntry& operator=(const EnvEntry&) = delete;

 private:
  void OpenOrThrow(Napi::Env env, const EnvOptions& options);
  void CheckFormat(Napi::Env env);
  // Opens (creating when writable) `changes`, `sync` and the store id; with
  // `enableLog`, turns the change log on.
  void OpenAux(Napi::Env env, bool enableLog);
  void EnableChangeLog(Napi::Env env);
  bool GrowLocked();
  uint64_t MapSizeLocked();
  // Another process grew the map: take its size. Waits (bounded) for this
  // process's other txns to end, a group writer still waiting for LMDB's
  // lock included — it comes back with MDB_MAP_RESIZED itself.
  int AdoptMapSize();

  MDB_env* env_ = nullptr;
  MDB_dbi dataDbi_ = 0;
  MDB_dbi metaDbi_ = 0;
  MDB_dbi changesDbi_ = 0;
  MDB_dbi syncDbi_ = 0;
  std::string storeId_;
  bool readOnly_ = false;
  std::string path_;
  uint64_t maxMapSize_ = 0;
  unsigned pageSize_ = 4096;
  uint64_t key_[2] = {0, 0};  // st_dev, st_ino
  int openCount_ = 0;         // guarded by the registry mutex

  std::mutex mu_;             // guards active_, growPending_, draining_ and resizing
  std::condition_variable cv_;
  int draining_ = 0;          // Grow()/AdoptMapSize() wait for active_ to reach 0; new txns wait
  void EnterTxnLocked(std::unique_lock<std::mutex>& lock);
  int active_ = 0;
  bool growPending_ = false;

  friend class Registry;
};

}  // namespace lmdbtxn
