#include "group_writer.h"

#include "addon.h"
#include "errors.h"
#include "store.h"
#include "txn.h"

namespace lmdbtxn {

namespace {

// Builds the JS event object on the JS thread.
void Deliver(Napi::Env env, Napi::Function onEvent, const std::weak_ptr<StoreCore>& weak,
             GroupWriter::Event* ev) {
  std::unique_ptr<GroupWriter::Event> event(ev);
  std::shared_ptr<StoreCore> core = weak.lock();
  if (env == nullptr || !core) {
    // The environment is being torn down; a txn in a Ready event was already
    // aborted by Stop(). Nothing to tell anyone.
    return;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", event->id);
  auto makeError = [&](const std::string& during) -> Napi::Value {
    try {
      if (event->rc == MDB_MAP_FULL) {
        ThrowMapFull(env, during + ": the map is full" + (event->grown ? " (it has grown; retrying)" : ""),
                     event->retryable, event->grown);
      }
      ThrowLmdb(env, event->rc, during);
    } catch (const Napi::Error& e) {
      return e.Value();
    }
  };
  switch (event->kind) {
    case GroupWriter::Event::Ready: {
      if (core->closed()) return;  // Stop() aborted it
      Napi::Object txn = GetAddonData(env)->txnConstructor.New({});
      Txn::Unwrap(txn)->StartGroup(core, event->txn);
      out.Set("type", "ready");
      out.Set("txn", txn);
      break;
    }
    case GroupWriter::Event::BeginFailed:
      if (core->groupHolds > 0) core->groupHolds--;  // no txn will come back for this BEGIN
      out.Set("type", "beginFailed");
      out.Set("error", makeError("mdb_txn_begin (group)"));
      break;
    case GroupWriter::Event::Committed:
      out.Set("type", "committed");
      break;
    case GroupWriter::Event::CommitFailed:
      out.Set("type", "commitFailed");
      out.Set("grown", event->grown);
      out.Set("error", makeError("mdb_txn_commit (group)"));
      break;
    case GroupWriter::Event::Aborted:
      out.Set("type", "aborted");
      out.Set("grown", event->grown);
      out.Set("retryable", event->retryable);
      break;
    case GroupWriter::Event::Synced:
      out.Set("type", "synced");
      break;
    case GroupWriter::Event::SyncFailed:
      out.Set("type", "syncFailed");
      out.Set("error", makeError("mdb_env_sync"));
      break;
  }
  onEvent.Call({out});
}

}  // namespace

GroupWriter::GroupWriter(Napi::Env env, std::shared_ptr<StoreCore> core, Napi::Function onEvent)
    : core_(core.get()), weak_(core) {
  tsfn_ = Napi::ThreadSafeFunction::New(env, onEvent, "lmdb-txn group commit", 0, 1);
  // An idle writer must not keep the process alive: the JS side refs it
  // only while batches or flushes are in flight (SetRef).
  tsfn_.Unref(env);
  writer_ = std::thread(&GroupWriter::WriterLoop, this);
  // Registered after the TSFN's own hook, so it runs first at env teardown,
  // while the TSFN still exists (Node frees it in its own hook, whatever
  // threads still hold it).
  env_ = env;
  napi_add_env_cleanup_hook(env, &GroupWriter::OnEnvCleanup, this);
}

void GroupWriter::OnEnvCleanup(void* self) {
  auto* writer = static_cast<GroupWriter*>(self);
  writer->env_ = nullptr;  // the hook is consumed: Stop() must not remove it
  // Close the whole store, in its order: this thread's child txns of a
  // batch first, then Stop() (the writer aborts the root), then the env.
  // Close() deletes this GroupWriter: touch nothing after it.
  writer->core_->Close();
}

GroupWriter::~GroupWriter() { Stop(); }

void GroupWriter::Push(Command command) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    commands_.push_back(command);
  }
  cv_.notify_one();
}

void GroupWriter::Begin() { Push({Command::Begin}); }
void GroupWriter::Commit(MDB_txn* txn, double id) { Push({Command::Commit, txn, id}); }
void GroupWriter::Abort(MDB_txn* txn) { Push({Command::Abort, txn}); }
void GroupWriter::Sync(double id) { Push({Command::Sync, nullptr, id}); }

void GroupWriter::Post(Event event) {
  auto* ev = new Event(event);
  std::weak_ptr<StoreCore> weak = weak_;
  napi_status st = tsfn_.NonBlockingCall(ev, [weak](Napi::Env env, Napi::Function fn, Event* e) {
    Deliver(env, fn, weak, e);
  });
  if (st != napi_ok) delete ev;
}

void GroupWriter::SetRef(Napi::Env env, bool ref) {
  if (stopped_) return;
  if (ref) tsfn_.Ref(env);
  else tsfn_.Unref(env);
}

void GroupWriter::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (env_ != nullptr) napi_remove_env_cleanup_hook(env_, &GroupWriter::OnEnvCleanup, this);
  env_ = nullptr;
  Push({Command::Stop});
  if (writer_.joinable()) writer_.join();
  tsfn_.Release();
}

void GroupWriter::EndHeld(bool commit, int* rc) {
  EnvEntry& entry = core_->entry();
  if (commit) {
    *rc = mdb_txn_commit(held_);
  } else {
    mdb_txn_abort(held_);
  }
  held_ = nullptr;
  entry.ClearWriter();
  entry.EndTxn();
}

void GroupWriter::WriterLoop() {
  EnvEntry& entry = core_->entry();
  for (;;) {
    Command cmd;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !commands_.empty(); });
      cmd = commands_.front();
      commands_.pop_front();
    }
    switch (cmd.kind) {
      case Command::Begin: {
        entry.GrowIfNeeded();
        MDB_txn* txn = nullptr;
        int rc = entry.BeginTxn(0, &txn);  // blocks while another writer holds LMDB's lock
        if (rc != MDB_SUCCESS) {
          Post({Event::BeginFailed, nullptr, 0, rc});
          break;
        }
        entry.writer.store(std::this_thread::get_id());
        held_ = txn;
        Post({Event::Ready, txn});
        break;
      }
      case Command::Commit: {
        if (cmd.txn != held_ || held_ == nullptr) break;  // stale (already aborted by Stop)
        // LMDB's own commit, with the store's durability: for 'sync' both
        // fsyncs happen inside it, so a failed sync fails the commit and LMDB
        // keeps the previous meta page (a commit is durable or not there).
        int rc = entry.ApplyDurability(core_->durabilityFlags());
        if (rc != MDB_SUCCESS) {
          EndHeld(false, nullptr);  // never commit with the wrong durability
          Post({Event::CommitFailed, nullptr, cmd.id, rc});
          break;
        }
        EndHeld(true, &rc);
        if (rc != MDB_SUCCESS) {
          Event ev{Event::CommitFailed, nullptr, cmd.id, rc};
          if (rc == MDB_MAP_FULL) {
            EnvEntry::Growth growth = entry.Grow();
            ev.grown = growth.grown;
            ev.retryable = growth.retryable;
          }
          Post(ev);
        } else {
          Post({Event::Committed, nullptr, cmd.id});
        }
        break;
      }
      case Command::Abort: {
        if (cmd.txn != held_ || held_ == nullptr) break;
        EndHeld(false, nullptr);
        Event ev{Event::Aborted};
        EnvEntry::Growth growth = entry.Grow();  // an abort is sent after MDB_MAP_FULL (or on close)
        ev.grown = growth.grown;
        ev.retryable = growth.retryable;
        Post(ev);
        break;
      }
      case Command::Sync: {
        // flush(): ordered after every commit queued before it.
        int rc = mdb_env_sync(entry.env(), 1);
        Post({rc == MDB_SUCCESS ? Event::Synced : Event::SyncFailed, nullptr, cmd.id, rc});
        break;
      }
      case Command::Stop:
        if (held_ != nullptr) EndHeld(false, nullptr);
        return;
    }
  }
}

}  // namespace lmdbtxn
