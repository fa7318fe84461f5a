#include "group_writer.h"

#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <chrono>

#include "addon.h"
#include "change_log.h"
#include "errors.h"
#include "group_ops.h"
#include "store.h"
#include "txn.h"

namespace lmdbtxn {

namespace {

// MDB_MAP_FULL while a snapshot of this process postpones growth: a few
// short waits for it to end before the batch's callbacks fail.
constexpr int kPostponedRetries = 3;
// Each growth doubles the map: this bounds attempts, not sizes.
constexpr int kMaxGrowths = 64;
// Op vectors kept for reuse: two batches in flight at most need two; a
// huge one is freed rather than kept.
constexpr size_t kSpareOps = 2;
constexpr size_t kMaxSpareBytes = 8u << 20;

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

Napi::Value MakeError(Napi::Env env, int rc, bool retryable, const std::string& during) {
  try {
    if (rc == MDB_MAP_FULL) {
      ThrowMapFull(env,
                   during + (retryable ? ": the map is full and could not grow while other transactions or "
                                         "snapshots of this process stayed open; nothing of it was written"
                                       : ": the map is full at maxMapSize; nothing of it was written"),
                   retryable, false);
    }
    ThrowLmdb(env, rc, during);
  } catch (const Napi::Error& e) {
    return e.Value();
  }
}

// Builds the JS event object on the JS thread.
void Deliver(Napi::Env env, Napi::Function onEvent, const std::weak_ptr<StoreCore>& weak,
             GroupWriter::Event* ev) {
  std::unique_ptr<GroupWriter::Event> event(ev);
  std::shared_ptr<StoreCore> core = weak.lock();
  if (env == nullptr || !core) return;  // the environment is being torn down
  Napi::Object out = Napi::Object::New(env);
  out.Set("gen", static_cast<double>(event->gen));
  out.Set("id", event->id);
  switch (event->kind) {
    case GroupWriter::Event::Committed: {
      out.Set("type", "committed");
      out.Set("applyMs", event->applyMs);
      out.Set("commitMs", event->commitMs);
      out.Set("firstSeq", event->firstSeq);
      Napi::Array dropped = Napi::Array::New(env, event->dropped.size());
      for (size_t i = 0; i < event->dropped.size(); ++i) {
        Napi::Array pair = Napi::Array::New(env, 2);
        pair.Set(0u, static_cast<double>(event->dropped[i].first));
        pair.Set(1u, MakeError(env, event->dropped[i].second, event->retryable, "applying this transaction() callback"));
        dropped.Set(static_cast<uint32_t>(i), pair);
      }
      out.Set("dropped", dropped);
      break;
    }
    case GroupWriter::Event::Failed:
      out.Set("type", "failed");
      out.Set("error", MakeError(env, event->rc, event->retryable, "committing a transaction() batch"));
      break;
    case GroupWriter::Event::Synced:
      out.Set("type", "synced");
      break;
    case GroupWriter::Event::SyncFailed:
      out.Set("type", "syncFailed");
      out.Set("error", MakeError(env, event->rc, false, "mdb_env_sync"));
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
  // Close the whole store, in its order: a batch view's child txns first,
  // then Stop() (the writer aborts the root), then the env. Close() deletes
  // this GroupWriter: touch nothing after it.
  writer->core_->Close();
}

GroupWriter::~GroupWriter() { Stop(); }

void GroupWriter::Push(Command command) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    commands_.push_back(std::move(command));
  }
  cv_.notify_one();
}

GroupWriter::HoldResult GroupWriter::Hold(uint64_t gen, bool regrow) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    holdDone_ = false;
    Command cmd(Command::Hold);
    cmd.gen = gen;
    cmd.regrow = regrow;
    commands_.push_back(std::move(cmd));
  }
  cv_.notify_one();
  std::unique_lock<std::mutex> lock(mu_);
  holdCv_.wait(lock, [&] { return holdDone_; });
  return holdResult_;
}

void GroupWriter::Commit(Batch batch) {
  Command cmd(Command::Commit);
  cmd.gen = batch.gen;
  cmd.batch = std::make_unique<Batch>(std::move(batch));
  Push(std::move(cmd));
}

std::vector<uint8_t> GroupWriter::TakeOpsBuffer() {
  std::lock_guard<std::mutex> lock(mu_);
  if (spareOps_.empty()) return {};
  std::vector<uint8_t> ops = std::move(spareOps_.back());
  spareOps_.pop_back();
  return ops;
}

void GroupWriter::Release(uint64_t gen) {
  Command cmd(Command::Release);
  cmd.gen = gen;
  Push(std::move(cmd));
}

void GroupWriter::Sync(double id) {
  Command cmd(Command::Sync);
  cmd.id = id;
  Push(std::move(cmd));
}

void GroupWriter::Post(Event event) {
  auto* ev = new Event(std::move(event));
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
  Push(Command(Command::Stop));
  if (writer_.joinable()) writer_.join();
  tsfn_.Release();
}

int GroupWriter::BeginHeld(uint64_t gen) {
  EnvEntry& entry = core_->entry();
  entry.GrowIfNeeded();
  MDB_txn* txn = nullptr;
  int rc = entry.BeginTxn(0, &txn);  // blocks while another writer holds LMDB's lock
  if (rc != MDB_SUCCESS) return rc;
  entry.writer.store(std::this_thread::get_id());
  held_ = txn;
  heldGen_ = gen;
  return MDB_SUCCESS;
}

int GroupWriter::EndHeld(bool commit) {
  EnvEntry& entry = core_->entry();
  int rc = MDB_SUCCESS;
  if (commit) {
    // LMDB's own commit, with the store's durability: for 'sync' both fsyncs
    // happen inside it, so a failed sync fails the commit and LMDB keeps the
    // previous meta page (a commit is durable or not there).
    rc = entry.ApplyDurability(core_->durabilityFlags());
    if (rc == MDB_SUCCESS) {
      rc = mdb_txn_commit(held_);  // frees the txn even when it fails
    } else {
      mdb_txn_abort(held_);  // never commit with the wrong durability
    }
  } else {
    mdb_txn_abort(held_);
  }
  held_ = nullptr;
  heldGen_ = 0;
  entry.ClearWriter();
  entry.EndTxn();
  return rc;
}

void GroupWriter::FinishHold(HoldResult result) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    holdResult_ = result;
    holdDone_ = true;
  }
  holdCv_.notify_all();
}

void GroupWriter::DoHold(const Command& cmd) {
  EnvEntry& entry = core_->entry();
  if (held_ != nullptr && !(cmd.regrow && heldGen_ == cmd.gen)) {
    // A second begin while a txn is held would deadlock on LMDB's
    // non-recursive mutex: refuse it.
    return FinishHold({EBUSY});
  }
  if (cmd.regrow) {
    if (held_ != nullptr) EndHeld(false);
    EnvEntry::Growth growth = entry.Grow();  // only MDB_MAP_FULL grows the map
    if (!growth.grown) return FinishHold({MDB_MAP_FULL, nullptr, growth.retryable});
  }
  int rc = BeginHeld(cmd.gen);
  FinishHold({rc, rc == MDB_SUCCESS ? held_ : nullptr});
}

void GroupWriter::DoCommit(Batch& batch) {
  EnvEntry& entry = core_->entry();
  Event ev(Event::Committed, batch.gen);
  if (held_ != nullptr && heldGen_ != batch.gen) {
    ev.kind = Event::Failed;  // stale: another batch holds the txn (never happens by protocol)
    ev.rc = EBUSY;
    return Post(std::move(ev));
  }
  size_t applied = held_ != nullptr ? batch.applied : 0;
  int postponed = 0;
  for (int attempt = 0;; ++attempt) {
    if (held_ == nullptr) {
      int rc = BeginHeld(batch.gen);
      if (rc != MDB_SUCCESS) {
        ev.kind = Event::Failed;
        ev.rc = rc;
        return Post(std::move(ev));
      }
      applied = 0;
    }
    auto t0 = std::chrono::steady_clock::now();
    int rc = applied > batch.ops.size()
                 ? MDB_CORRUPTED
                 : ApplyGroupOps(held_, entry.dataDbi(), batch.ops.data(), applied, batch.ops.size());
    // Each callback is a logical transaction: one change record per
    // callback with ops, in call order, in this same txn (SPEC §11.1).
    ev.firstSeq = 0;
    if (rc == MDB_SUCCESS && entry.ChangeLogOn(held_)) {
      size_t start = 0;
      double now = NowMs();
      for (size_t i = 0; i < batch.ends.size() && rc == MDB_SUCCESS; ++i) {
        size_t end = batch.ends[i];
        if (end < start || end > batch.ops.size()) rc = MDB_CORRUPTED;
        if (rc != MDB_SUCCESS || end == start) continue;
        uint64_t seq = 0;
        rc = AppendChangeRecord(held_, entry.changesDbi(), entry.metaDbi(), batch.ops.data() + start, end - start, now, &seq);
        if (ev.firstSeq == 0) ev.firstSeq = static_cast<double>(seq);
        start = end;
      }
    }
    ev.applyMs += MsSince(t0);
    bool applyFailed = rc != MDB_SUCCESS;
    if (!applyFailed) {
      t0 = std::chrono::steady_clock::now();
      rc = EndHeld(true);
      ev.commitMs += MsSince(t0);
      if (rc == MDB_SUCCESS) return Post(std::move(ev));
    } else {
      EndHeld(false);
    }
    if (rc == MDB_MAP_FULL && attempt < kMaxGrowths) {
      // The callbacks are not run again: the buffer is applied again.
      EnvEntry::Growth growth = entry.Grow();
      if (growth.grown) continue;
      if (growth.retryable && postponed++ < kPostponedRetries) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2 * postponed));
        continue;
      }
      ev.retryable = growth.retryable;
    }
    if (!applyFailed && rc != MDB_MAP_FULL) {
      // The commit itself failed (a write or sync): nothing of the batch is there.
      ev.kind = Event::Failed;
      ev.rc = rc;
      return Post(std::move(ev));
    }
    // One callback's ops may be what LMDB refuses (e.g. too big at
    // maxMapSize): apply callback by callback, dropping only those.
    return CommitIsolated(batch, &ev);
  }
}

void GroupWriter::CommitIsolated(Batch& batch, Event* ev) {
  EnvEntry& entry = core_->entry();
  int rc = BeginHeld(batch.gen);
  if (rc != MDB_SUCCESS) {
    ev->kind = Event::Failed;
    ev->rc = rc;
    return Post(std::move(*ev));
  }
  ev->dropped.clear();
  ev->firstSeq = 0;
  bool logging = entry.ChangeLogOn(held_);
  double now = NowMs();
  size_t start = 0;
  for (uint32_t i = 0; i < batch.ends.size(); ++i) {
    size_t end = batch.ends[i];
    MDB_txn* child = nullptr;
    rc = end < start || end > batch.ops.size() ? MDB_CORRUPTED : mdb_txn_begin(entry.env(), held_, 0, &child);
    if (rc == MDB_SUCCESS) {
      rc = ApplyGroupOps(child, entry.dataDbi(), batch.ops.data(), start, end);
      // its record goes in with its data, or neither does
      if (rc == MDB_SUCCESS && logging && end > start) {
        uint64_t seq = 0;
        rc = AppendChangeRecord(child, entry.changesDbi(), entry.metaDbi(), batch.ops.data() + start, end - start, now, &seq);
        if (rc == MDB_SUCCESS && ev->firstSeq == 0) ev->firstSeq = static_cast<double>(seq);
      }
      if (rc == MDB_SUCCESS) {
        rc = mdb_txn_commit(child);  // merges into the batch txn; frees the child either way
      } else {
        mdb_txn_abort(child);
      }
    }
    if (rc != MDB_SUCCESS) ev->dropped.emplace_back(i, rc);
    if (end >= start) start = end;
  }
  if (rc == MDB_MAP_FULL || !ev->dropped.empty()) ev->retryable = !entry.AtCeiling();
  rc = EndHeld(true);
  if (rc != MDB_SUCCESS) {
    ev->kind = Event::Failed;
    ev->rc = rc;
    ev->dropped.clear();
    ev->firstSeq = 0;
    if (rc == MDB_MAP_FULL) ev->retryable = !entry.AtCeiling();
  }
  Post(std::move(*ev));
}

void GroupWriter::Fail(Command& cmd, int rc) {
  // After an exception: end what is held, and tell whoever waits.
  try {
    if (held_ != nullptr) EndHeld(false);
  } catch (...) {
  }
  try {
    switch (cmd.kind) {
      case Command::Hold: FinishHold({rc}); break;
      case Command::Commit: {
        Event ev(Event::Failed, cmd.gen);
        ev.rc = rc;
        Post(std::move(ev));
        break;
      }
      case Command::Sync: {
        Event ev(Event::SyncFailed);
        ev.id = cmd.id;
        ev.rc = rc;
        Post(std::move(ev));
        break;
      }
      default: break;
    }
  } catch (...) {
    if (cmd.kind == Command::Hold) {
      std::lock_guard<std::mutex> lock(mu_);  // no allocation: cannot throw bad_alloc
      holdResult_ = HoldResult{rc};
      holdDone_ = true;
      holdCv_.notify_all();
    }
  }
}

void GroupWriter::Run(Command& cmd) {
  EnvEntry& entry = core_->entry();
  switch (cmd.kind) {
    case Command::Hold: DoHold(cmd); break;
    case Command::Commit: {
      DoCommit(*cmd.batch);
      std::vector<uint8_t>& ops = cmd.batch->ops;
      if (ops.capacity() <= kMaxSpareBytes) {
        ops.clear();
        std::lock_guard<std::mutex> lock(mu_);
        if (spareOps_.size() < kSpareOps) spareOps_.push_back(std::move(ops));
      }
      break;
    }
    case Command::Release:
      if (held_ != nullptr && heldGen_ == cmd.gen) EndHeld(false);  // never grows the map
      break;
    case Command::Sync: {
      // flush(): ordered after every commit queued before it.
      int rc = mdb_env_sync(entry.env(), 1);
      Event ev(rc == MDB_SUCCESS ? Event::Synced : Event::SyncFailed);
      ev.id = cmd.id;
      ev.rc = rc;
      Post(std::move(ev));
      break;
    }
    case Command::Stop: break;
  }
}

void GroupWriter::WriterLoop() {
  pthread_setname_np(pthread_self(), "lmdb-txn-writer");
  // SCHED_BATCH: woken by a hand-over, the writer must not preempt the JS
  // thread that woke it (it did, on 2 cores: 0.3-0.5 ms of event-loop stall
  // per batch inside groupCommit(); 0.03 ms with this). Best effort: any
  // thread may choose it, and the writer works the same without it.
  sched_param param{};
  param.sched_priority = 0;
  (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
  for (;;) {
    Command cmd(Command::Stop);
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !commands_.empty(); });
      cmd = std::move(commands_.front());
      commands_.pop_front();
    }
    if (cmd.kind == Command::Stop) {
      if (held_ != nullptr) EndHeld(false);
      return;
    }
    // Nothing may escape this thread (std::terminate): bad_alloc from a
    // vector, system_error from a mutex, anything else.
    try {
      Run(cmd);
    } catch (const std::bad_alloc&) {
      Fail(cmd, ENOMEM);
    } catch (...) {
      Fail(cmd, EIO);
    }
  }
}

}  // namespace lmdbtxn
