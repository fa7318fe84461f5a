// GroupWriter: the native side of store.transaction() (group commit).
//
// LMDB's writer lock is a mutex owned by the thread that began the write
// txn, and commit must happen on that thread. So a dedicated writer thread
// begins each batch txn and commits it; in between, the JS thread runs the
// batch's callbacks in child txns of it (the writer thread waits, so the txn
// is never used by two threads at once; command/event queues order them).
// Commit and fsync (LMDB's own, per the store's durability) thus never block
// the JS thread; callbacks queued meanwhile form the next batch. Promises
// resolve on the JS thread from events posted through a thread-safe function.
#pragma once
#include <lmdb.h>
#include <napi.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

namespace lmdbtxn {

class StoreCore;

class GroupWriter {
 public:
  struct Event {
    enum Kind { Ready, BeginFailed, Committed, CommitFailed, Aborted, Synced, SyncFailed } kind;
    MDB_txn* txn = nullptr;
    double id = 0;
    int rc = 0;
    bool grown = false;
    bool retryable = false;
  };

  // `onEvent` is called on the JS thread with one event object per event.
  GroupWriter(Napi::Env env, std::shared_ptr<StoreCore> core, Napi::Function onEvent);
  ~GroupWriter();

  void Begin();
  void Commit(MDB_txn* txn, double id);
  void Abort(MDB_txn* txn);
  void Sync(double id);
  // Keeps the event loop alive while work is in flight (JS thread only).
  void SetRef(Napi::Env env, bool ref);
  // Aborts a txn the writer still holds, joins the thread and releases
  // the thread-safe function (events already queued are still delivered).
  void Stop();
  static void OnEnvCleanup(void* self);

 private:
  struct Command {
    enum Kind { Begin, Commit, Abort, Sync, Stop } kind;
    MDB_txn* txn = nullptr;
    double id = 0;
  };

  void WriterLoop();
  void Post(Event event);
  void Push(Command command);
  void EndHeld(bool commit, int* rc);

  StoreCore* core_;                 // outlives the writer: Close() stops it first
  std::weak_ptr<StoreCore> weak_;   // for events delivered after close
  Napi::ThreadSafeFunction tsfn_;
  napi_env env_ = nullptr;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Command> commands_;

  MDB_txn* held_ = nullptr;  // the txn this writer began and has not ended
  bool stopped_ = false;
  std::thread writer_;
};

}  // namespace lmdbtxn
