// GroupWriter: the native side of store.transaction() (group commit).
//
// LMDB's writer lock is a mutex owned by the thread that began the write
// txn, and commit must happen on that thread. So a dedicated writer thread
// begins, fills and commits each batch txn. The JS thread runs the callbacks
// of a batch without touching LMDB: their writes are encoded into one op
// buffer (group_ops.h) that travels to the writer in one command; while the
// writer applies and commits it, the JS thread runs the next batch's
// callbacks. One event comes back per batch. The writer holds LMDB's lock
// only while it applies and commits — except for a batch whose callbacks
// read: a read must see the batch's earlier writes, so the JS thread asks the
// writer (synchronously) to begin the batch txn and park, applies the pending
// ops itself and reads; the txn then goes back to the writer for the rest.
//
// Batches are identified by a 64-bit generation (LMDB reuses the same
// MDB_txn* for every write txn), so a stale command can never end another
// batch.
#pragma once
#include <lmdb.h>
#include <napi.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace lmdbtxn {

class StoreCore;

class GroupWriter {
 public:
  struct Batch {
    uint64_t gen = 0;
    std::vector<uint8_t> ops;     // every successful callback's ops, in call order
    std::vector<uint32_t> ends;   // callback i's slice is [ends[i-1] or 0, ends[i])
    size_t applied = 0;           // prefix the JS thread already applied to the held txn
  };

  struct Event {
    enum Kind { Committed, Failed, Synced, SyncFailed } kind;
    explicit Event(Kind k, uint64_t g = 0) : kind(k), gen(g) {}
    uint64_t gen = 0;
    double id = 0;
    int rc = 0;
    bool retryable = false;  // for MDB_MAP_FULL: below maxMapSize
    // Callbacks whose slice LMDB refused (applied one by one after the batch
    // as a whole failed): index and LMDB code; the others committed.
    std::vector<std::pair<uint32_t, int>> dropped;
    double applyMs = 0, commitMs = 0;  // writer busy time for this batch
    // Change log: seq of the first callback's record (one per committed
    // callback with ops, in order); 0 when the log is off.
    double firstSeq = 0;
  };

  // What a synchronous Hold() reports.
  struct HoldResult {
    int rc = MDB_SUCCESS;
    MDB_txn* txn = nullptr;
    bool retryable = false;  // for MDB_MAP_FULL
  };

  // `onEvent` is called on the JS thread with one event object per event.
  GroupWriter(Napi::Env env, std::shared_ptr<StoreCore> core, Napi::Function onEvent);
  ~GroupWriter();

  uint64_t NextGen() { return ++lastGen_; }  // JS thread only

  // Blocks the calling (JS) thread until the writer has begun a txn for
  // `gen` (after every command queued before) and parked with it. `regrow`:
  // the held txn of `gen` hit MDB_MAP_FULL; abort it and grow first.
  HoldResult Hold(uint64_t gen, bool regrow);
  // Applies [applied, end) of the batch (all of it unless held) and commits.
  void Commit(Batch batch);
  // An op vector the writer is done with (capacity kept), or an empty one:
  // copying a batch into memory already touched costs no page faults.
  std::vector<uint8_t> TakeOpsBuffer();
  // Aborts the held txn if it is still `gen`'s.
  void Release(uint64_t gen);
  void Sync(double id);
  // Keeps the event loop alive while work is in flight (JS thread only).
  void SetRef(Napi::Env env, bool ref);
  // Aborts a txn the writer still holds, joins the thread and releases
  // the thread-safe function (events already queued are still delivered).
  void Stop();
  static void OnEnvCleanup(void* self);

 private:
  struct Command {
    enum Kind { Hold, Commit, Release, Sync, Stop } kind;
    explicit Command(Kind k) : kind(k) {}
    uint64_t gen = 0;
    bool regrow = false;
    double id = 0;
    std::unique_ptr<Batch> batch;
  };

  void WriterLoop();
  void Run(Command& cmd);
  void Fail(Command& cmd, int rc);
  void DoHold(const Command& cmd);
  void DoCommit(Batch& batch);
  void CommitIsolated(Batch& batch, Event* ev);
  int BeginHeld(uint64_t gen);
  int EndHeld(bool commit);
  void FinishHold(HoldResult result);
  void Post(Event event);
  void Push(Command command);

  StoreCore* core_;                 // outlives the writer: Close() stops it first
  std::weak_ptr<StoreCore> weak_;   // for events delivered after close
  Napi::ThreadSafeFunction tsfn_;
  napi_env env_ = nullptr;
  uint64_t lastGen_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Command> commands_;
  std::vector<std::vector<uint8_t>> spareOps_;  // capacity handed back by the writer
  std::condition_variable holdCv_;  // Hold() waits here for the writer
  bool holdDone_ = false;
  HoldResult holdResult_;

  // Writer thread only.
  MDB_txn* held_ = nullptr;  // the txn this writer began and has not ended
  uint64_t heldGen_ = 0;
  bool stopped_ = false;
  std::thread writer_;
};

}  // namespace lmdbtxn
