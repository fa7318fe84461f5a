#include "txn.h"

#include <thread>

#include "addon.h"
#include "args.h"
#include "errors.h"
#include "group_ops.h"
#include "store.h"

namespace lmdbtxn {

Napi::Function Txn::Define(Napi::Env env) {
  return DefineClass(env, "NativeTxn",
                     {
                         InstanceMethod<&Txn::ReadMethod<ReadOp::Read>>("read"),
                         InstanceMethod<&Txn::ReadMethod<ReadOp::ReadString>>("readString"),
                         InstanceMethod<&Txn::ReadMethod<ReadOp::ReadInto>>("readInto"),
                         InstanceMethod<&Txn::ReadMethod<ReadOp::Type>>("type"),
                         InstanceMethod<&Txn::ReadMethod<ReadOp::Exists>>("exists"),
                         InstanceMethod<&Txn::ReadMethod<ReadOp::Resolve>>("resolve"),
                         InstanceMethod<&Txn::ReadMethod<ReadOp::List>>("list"),
                         InstanceMethod<&Txn::ReadMethod<ReadOp::Keys>>("keys"),
                         InstanceMethod<&Txn::ReadMethod<ReadOp::ReadLink>>("readLink"),
                         InstanceMethod<&Txn::ReadMethod<ReadOp::ReadMessage>>("readMessage"),
                         InstanceMethod<&Txn::ReadMethod<ReadOp::Entries>>("entries"),
                         InstanceMethod<&Txn::ReadMethod<ReadOp::KeyEntries>>("keyEntries"),
                         InstanceMethod<&Txn::ReadMethod<ReadOp::ReadMany>>("readMany"),
                         InstanceMethod<&Txn::Write>("write"),
                         InstanceMethod<&Txn::MakeGroup>("makeGroup"),
                         InstanceMethod<&Txn::MakeLink>("makeLink"),
                         InstanceMethod<&Txn::Remove>("remove"),
                         InstanceMethod<&Txn::BeginChild>("beginChild"),
                         InstanceMethod<&Txn::CommitChild>("commitChild"),
                         InstanceMethod<&Txn::AbortChild>("abortChild"),
                         InstanceMethod<&Txn::Commit>("commit"),
                         InstanceMethod<&Txn::Abort>("abort"),
                         InstanceAccessor<&Txn::Active>("active"),
                         InstanceAccessor<&Txn::MapFullGrown>("mapFullGrown"),
                         InstanceMethod<&Txn::HasKey>("hasKey"),
                         InstanceMethod<&Txn::Changes>("changes"),
                         InstanceMethod<&Txn::TrimChanges>("trimChanges"),
                         InstanceMethod<&Txn::RestoreChange>("restoreChange"),
                         InstanceMethod<&Txn::SyncGet>("syncGet"),
                         InstanceMethod<&Txn::SyncPut>("syncPut"),
                         InstanceMethod<&Txn::SyncDelete>("syncDelete"),
                         InstanceMethod<&Txn::ApplyOps>("applyOps"),
                     });
}

Txn::Txn(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Txn>(info) {
  failure_ = "the transaction was never started";
}

// Collected while open: abort, so the writer lock is never left held. This
// runs on the thread that began it (finalizers run on the owning JS thread).
Txn::~Txn() {
  if (root_ != nullptr) End(false, State::Aborted, nullptr);
}

void Txn::StartWrite(std::shared_ptr<StoreCore> core, MDB_txn* root, double maxOps,
                     double maxBytes) {
  core_ = std::move(core);
  write_ = true;
  root_ = root;
  state_ = State::Active;
  maxOps_ = maxOps;
  maxBytes_ = maxBytes;
  logging_ = core_->entry().ChangeLogOn(root);
  core_->Track(this);
}

void Txn::StartSnapshot(std::shared_ptr<StoreCore> core, MDB_txn* root) {
  core_ = std::move(core);
  write_ = false;
  root_ = root;
  state_ = State::Active;
  core_->Track(this);
}

void Txn::StartGroup(std::shared_ptr<StoreCore> core, MDB_txn* root, uint64_t gen) {
  StartWrite(std::move(core), root, 1e300, 1e300);  // limits are counted per callback in lib/
  group_ = true;
  gen_ = gen;
}

void Txn::DetachGroup() {
  if (!group_ || root_ == nullptr) return;
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) mdb_txn_abort(it->txn);
  children_.clear();
  root_ = nullptr;
  state_ = State::Committed;
  failure_ = "the transaction() callback has returned; its transaction is no longer usable";
  core_->Untrack(this);
}

void Txn::EndBecauseStoreClosed() {
  if (root_ != nullptr) End(false, State::StoreClosed, nullptr);
}

void Txn::End(bool commit, State next, int* commitRc) {
  changes_.Clear();
  if (group_) {
    // The writer thread owns the root (and LMDB's lock): children are ours
    // to abort; the root is released by generation, so a late finalizer can
    // never end another batch.
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) mdb_txn_abort(it->txn);
    children_.clear();
    root_ = nullptr;
    state_ = next;
    core_->Untrack(this);
    if (next != State::StoreClosed) core_->ReleaseGroupView(this, gen_);
    if (next == State::Aborted) failure_ = "the batch transaction was aborted";
    if (next == State::StoreClosed) failure_ = "the store was closed; the batch was aborted";
    return;
  }
  // Aborting or committing the root ends its children too.
  int rc = MDB_SUCCESS;
  if (commit) {
    rc = mdb_txn_commit(root_);  // frees the txn even when it fails
  } else {
    mdb_txn_abort(root_);
  }
  if (commitRc) *commitRc = rc;
  root_ = nullptr;
  children_.clear();
  state_ = next;
  EnvEntry& entry = core_->entry();
  if (write_) entry.ClearWriter();
  entry.EndTxn();
  core_->Untrack(this);
  switch (next) {
    case State::Committed: failure_ = "the transaction was committed"; break;
    case State::Aborted: failure_ = write_ ? "the transaction was aborted" : "the snapshot is closed"; break;
    case State::StoreClosed:
      failure_ = write_ ? "the store was closed while this transaction was open; it was aborted"
                        : "the store was closed; the snapshot is gone";
      break;
    default: break;  // the caller sets failure_
  }
}

ReadContext Txn::Context(Napi::Env env) const {
  return ReadContext{env, Current(), core_->entry().dataDbi(), core_->maxLinkDepth()};
}

void Txn::RequireUsable(Napi::Env env) {
  switch (state_) {
    case State::Active: return;
    case State::TooLarge:
      Throw(env, ErrorKind::TransactionTooLarge,
            "the transaction exceeded its limits (" + failure_ + (root_ != nullptr
                ? "); it can only be aborted"
                : "); it was aborted, nothing of it was written"));
    case State::StoreClosed: Throw(env, ErrorKind::StoreClosed, failure_);
    default: Throw(env, ErrorKind::TransactionFinished, failure_);
  }
}

void Txn::RequireWritable(Napi::Env env) {
  RequireUsable(env);
  if (!write_) throw Napi::TypeError::New(env, "a snapshot is read-only");
}

void Txn::CountOp(Napi::Env env, size_t bytes) {
  if (ops_ + 1 > maxOps_) {
    state_ = State::TooLarge;
    failure_ = "more than limits.maxOps = " + std::to_string(static_cast<uint64_t>(maxOps_)) + " operations";
    RequireUsable(env);
  }
  if (bytes_ + static_cast<double>(bytes) > maxBytes_) {
    state_ = State::TooLarge;
    failure_ = "more than limits.maxBytes = " + std::to_string(static_cast<uint64_t>(maxBytes_)) + " bytes";
    RequireUsable(env);
  }
  ops_ += 1;
  bytes_ += static_cast<double>(bytes);
}

// After an LMDB failure in a write the txn is unusable (LMDB marks it
// MDB_TXN_ERROR): end it, grow the map when that was the cause, and throw.
void Txn::FailWith(Napi::Env env, int rc, const char* during) {
  std::shared_ptr<StoreCore> core = core_;
  if (rc == MDB_MAP_FULL) {
    End(false, State::MapFull, nullptr);
    EnvEntry& entry = core->entry();
    // A group batch's root is aborted by the writer thread, which grows the
    // map then; growing here would find that txn still active.
    EnvEntry::Growth growth = group_ ? EnvEntry::Growth{false, !entry.AtCeiling()} : entry.Grow();
    bool grown = growth.grown, retryable = growth.retryable;
    mapFullGrown_ = grown;
    std::string size = std::to_string(entry.MapSize());
    if (grown) {
      failure_ = "the transaction was aborted: the map was full (it has grown to " + size + " bytes)";
    } else if (group_ && retryable) {
      failure_ = "the batch transaction was aborted: the map is full; it grows and the batch runs again";
    } else if (retryable) {
      failure_ = "the transaction was aborted: the map is full and cannot grow while a snapshot "
                 "or transaction of this process is open; it grows at the next begin() after they end";
    } else {
      failure_ = "the transaction was aborted: the map is full at maxMapSize (" + size + " bytes)";
    }
    ThrowMapFull(env, failure_, retryable, grown);
  }
  End(false, State::Failed, nullptr);
  failure_ = std::string("the transaction was aborted after ") + during + " failed with " +
             LmdbCodeName(rc);
  ThrowLmdb(env, rc, during);
}

void Txn::Put(Napi::Env env, Key& key, uint8_t tag, const void* data, size_t size) {
  CountOp(env, key.size + 1 + size);
  MDB_val k = key.val();
  MDB_val v{1 + size, nullptr};
  int rc = mdb_put(Current(), core_->entry().dataDbi(), &k, &v, MDB_RESERVE);
  if (rc != MDB_SUCCESS) FailWith(env, rc, "mdb_put");
  // Filled before any other LMDB call, as MDB_RESERVE requires.
  uint8_t* dst = static_cast<uint8_t*>(v.mv_data);
  dst[0] = tag;
  if (size) std::memcpy(dst + 1, data, size);
  if (!logging_) return;
  if (tag == kSimple) changes_.Write(key.view(), data, size);
  else if (tag == kGroup) changes_.Group(key.view());
  else changes_.Link(key.view(), std::string_view(static_cast<const char*>(data), size));
}

template <ReadOp op>
Napi::Value Txn::ReadMethod(const Napi::CallbackInfo& info) {
  RequireUsable(info.Env());
  ReadArgs args = ParseReadArgs(info, op);
  return RunRead(Context(info.Env()), op, args);
}

// write(path, value: Uint8Array | string)
Napi::Value Txn::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireWritable(env);
  Key key;
  ReadKey(env, info[0], "path", key);
  Napi::Value value = info[1];
  if (value.IsString()) {
    size_t len = 0;
    napi_get_value_string_utf8(env, value, nullptr, 0, &len);
    scratch_.resize(len + 1);
    napi_get_value_string_utf8(env, value, scratch_.data(), len + 1, &len);
    Put(env, key, kSimple, scratch_.data(), len);
  } else if (value.IsTypedArray() &&
             value.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    Napi::Uint8Array bytes = value.As<Napi::Uint8Array>();
    Put(env, key, kSimple, bytes.Data(), bytes.ByteLength());
  } else {
    throw Napi::TypeError::New(env, "value must be a Uint8Array or a string");
  }
  return env.Undefined();
}

Napi::Value Txn::MakeGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireWritable(env);
  Key key;
  ReadKey(env, info[0], "path", key);
  Put(env, key, kGroup, nullptr, 0);
  return env.Undefined();
}

// makeLink(target, path), in the order of fs.symlink(target, path).
Napi::Value Txn::MakeLink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireWritable(env);
  Key target, key;
  ReadKey(env, info[0], "target", target);
  ReadKey(env, info[1], "path", key);
  Put(env, key, kLink, target.bytes, target.size);
  return env.Undefined();
}

// remove(path, recursive) → whether anything existed
Napi::Value Txn::Remove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireWritable(env);
  Key key;
  ReadKey(env, info[0], "path", key);
  bool recursive = info[1].ToBoolean();
  CountOp(env, key.size);
  bool existed = false;
  int rc = RemoveEntries(Context(env), key.view(), recursive, &existed);
  if (rc != MDB_SUCCESS) FailWith(env, rc, "mdb_del");
  if (logging_) changes_.Remove(key.view(), recursive);
  return Napi::Boolean::New(env, existed);
}

// beginChild(isolated?: boolean, maxOps?: number, maxBytes?: number)
Napi::Value Txn::BeginChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool isolated = info.Length() > 0 && info[0].ToBoolean();
  bool ownLimits = isolated && info.Length() > 2;
  double maxOps = ownLimits ? NumberArg(info, 1, "maxOps") : maxOps_;
  double maxBytes = ownLimits ? NumberArg(info, 2, "maxBytes") : maxBytes_;
  RequireWritable(env);
  MDB_txn* child = nullptr;
  Check(env, mdb_txn_begin(core_->entry().env(), Current(), 0, &child), "mdb_txn_begin (nested)");
  children_.push_back(Level{child, isolated, ops_, bytes_, maxOps_, maxBytes_, state_, failure_, changes_.mark()});
  if (isolated) {
    ops_ = bytes_ = 0;
    maxOps_ = maxOps;
    maxBytes_ = maxBytes;
  }
  return env.Undefined();
}

void Txn::PopChild(bool commit, int* rc) {
  Level level = children_.back();
  children_.pop_back();
  if (commit) {
    *rc = mdb_txn_commit(level.txn);  // merges into the parent; frees the child either way
  } else {
    mdb_txn_abort(level.txn);
    changes_.Truncate(level.mark);  // a savepoint's undone ops never reach the log
  }
  if (level.isolated) {
    ops_ = level.ops;
    bytes_ = level.bytes;
    maxOps_ = level.maxOps;
    maxBytes_ = level.maxBytes;
    state_ = level.state;
    failure_ = level.failure;
  }
}

Napi::Value Txn::CommitChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireUsable(env);
  if (children_.empty()) throw Napi::TypeError::New(env, "no nested transaction is open");
  int rc = MDB_SUCCESS;
  PopChild(true, &rc);
  if (rc != MDB_SUCCESS) FailWith(env, rc, "mdb_txn_commit (nested)");
  return env.Undefined();
}

// Undoes the innermost savepoint. A no-op when the whole transaction has
// already ended (e.g. MapFull inside the callback), so the original error
// reaches the caller.
Napi::Value Txn::AbortChild(const Napi::CallbackInfo& info) {
  if (root_ != nullptr && !children_.empty()) PopChild(false, nullptr);
  return info.Env().Undefined();
}

Napi::Value Txn::Commit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Over its limits: nothing of it may be committed, and nobody may be left
  // holding the writer because they took commit() for the end of it.
  if (state_ == State::TooLarge && root_ != nullptr) End(false, State::TooLarge, nullptr);
  RequireWritable(env);
  if (!children_.empty()) {
    throw Napi::TypeError::New(env,
                               "commit() was called inside a nested transaction(fn) callback; "
                               "return from the callback instead");
  }
  if (ops_ == 0 && !dirty_) {  // an empty transaction commits nothing: no txn id, no sync
    End(false, State::Committed, nullptr);
    return env.Undefined();
  }
  uint64_t seq = 0;
  if (logging_ && !changes_.empty()) {
    EnvEntry& e = core_->entry();
    int lrc = AppendChangeRecord(root_, e.changesDbi(), e.metaDbi(), changes_, NowMs(), &seq);
    if (lrc != MDB_SUCCESS) FailWith(env, lrc, "writing the change record");
  }
  Check(env, core_->entry().ApplyDurability(core_->durabilityFlags()), "mdb_env_set_flags");
  std::shared_ptr<StoreCore> core = core_;
  int rc = MDB_SUCCESS;
  End(true, State::Committed, &rc);
  if (rc != MDB_SUCCESS) {
    // LMDB freed the txn; redo the bookkeeping End did for success.
    state_ = State::CommitFailed;
    if (rc == MDB_MAP_FULL) {
      EnvEntry::Growth growth = core->entry().Grow();
      mapFullGrown_ = growth.grown;
      state_ = State::MapFull;
      failure_ = "the commit failed because the map was full; nothing was written";
      ThrowMapFull(env, failure_, growth.retryable, growth.grown);
    }
    failure_ = "the commit failed with " + LmdbCodeName(rc) + "; nothing was written";
    ThrowLmdb(env, rc, "mdb_txn_commit");
  }
  if (seq == 0) return env.Undefined();
  return Napi::Number::New(env, static_cast<double>(seq));
}

// Aborting a transaction over its limits is what it is for; once commit()
// has released it, a second abort is a no-op (the README's finally idiom).
Napi::Value Txn::Abort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::TooLarge) RequireUsable(env);
  if (root_ != nullptr) End(false, State::Aborted, nullptr);
  return env.Undefined();
}

// Whether the native transaction is still open (and so holds LMDB's writer
// or a reader slot): true over its limits until aborted. The one invariant:
// no write transaction is open while this reads false.
Napi::Value Txn::Active(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), root_ != nullptr);
}

Napi::Value Txn::MapFullGrown(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), mapFullGrown_);
}

// hasKey(path): whether the literal key exists, no link resolution at all
// (batch insert/update test the key they write, as hb_store does).
Napi::Value Txn::HasKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireUsable(env);
  Key key;
  ReadKey(env, info[0], "path", key);
  Entry e;
  return Napi::Boolean::New(env, Lookup(Context(env), key.view(), &e));
}

Napi::Value Txn::Changes(const Napi::CallbackInfo& info) {
  RequireUsable(info.Env());
  return JsChanges(info, Current(), core_->entry());
}

void Txn::RequireAux(Napi::Env env) {
  RequireWritable(env);
  if (!core_->entry().hasAux()) {
    Throw(env, ErrorKind::ReadOnly, "this store has no change log or sync database yet; open it writable once");
  }
}

// trimChanges(upTo) → records removed
Napi::Value Txn::TrimChanges(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireAux(env);
  EnvEntry& e = core_->entry();
  uint64_t removed = 0;
  int rc = lmdbtxn::TrimChanges(Current(), e.changesDbi(), e.metaDbi(),
                                static_cast<uint64_t>(info[0].ToNumber().DoubleValue()), &removed);
  if (rc != MDB_SUCCESS) FailWith(env, rc, "trimming the change log");
  dirty_ = true;
  return Napi::Number::New(env, static_cast<double>(removed));
}

static MDB_val BytesArg(Napi::Env env, Napi::Value v, const char* name);

// restoreChange(seq, record): `lmdb-txn load` of a dump with its change log.
// The records keep their seqs, so this transaction records none of its own
// (its writes are the dump's entries, already described by those records).
Napi::Value Txn::RestoreChange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireAux(env);
  if (!children_.empty()) throw Napi::TypeError::New(env, "restoreChange() inside a savepoint");
  logging_ = false;
  changes_.Clear();
  EnvEntry& e = core_->entry();
  uint64_t seq = static_cast<uint64_t>(info[0].ToNumber().DoubleValue());
  MDB_val v = BytesArg(env, info[1], "record");
  uint64_t last = 0;
  int rc = LastChangeSeq(root_, e.changesDbi(), e.metaDbi(), &last);
  if (rc != MDB_SUCCESS) FailWith(env, rc, "reading the change log");
  if (seq <= last) {
    throw Napi::RangeError::New(env, "change " + std::to_string(seq) + " is not after the last seq " +
                                         std::to_string(last) + " of this store's log");
  }
  unsigned char key[8];
  EncodeSeq(seq, key);
  MDB_val k{8, key};
  rc = mdb_put(root_, e.changesDbi(), &k, &v, MDB_APPEND);
  if (rc != MDB_SUCCESS) FailWith(env, rc, "restoring a change record");
  dirty_ = true;
  return env.Undefined();
}

static MDB_val BytesArg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, std::string(name) + " must be a Uint8Array");
  }
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  return MDB_val{a.ByteLength(), a.Data()};
}

// syncGet(key: Uint8Array) → Buffer | undefined, in this txn's view
Napi::Value Txn::SyncGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireAux(env);
  MDB_val k = BytesArg(env, info[0], "key"), v;
  if (k.mv_size == 0 || k.mv_size > kMaxKeySize) throw Napi::RangeError::New(env, "key size");
  int rc = mdb_get(Current(), core_->entry().syncDbi(), &k, &v);
  if (rc == MDB_NOTFOUND) return env.Undefined();
  Check(env, rc, "mdb_get (sync)");
  return Napi::Buffer<uint8_t>::Copy(env, static_cast<uint8_t*>(v.mv_data), v.mv_size);
}

// syncPut(key, value): replication state, never logged, never counted
Napi::Value Txn::SyncPut(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireAux(env);
  MDB_val k = BytesArg(env, info[0], "key"), v = BytesArg(env, info[1], "value");
  if (k.mv_size == 0 || k.mv_size > kMaxKeySize) throw Napi::RangeError::New(env, "key size");
  int rc = mdb_put(Current(), core_->entry().syncDbi(), &k, &v, 0);
  if (rc != MDB_SUCCESS) FailWith(env, rc, "mdb_put (sync)");
  dirty_ = true;
  return env.Undefined();
}

// syncDelete(key) → whether it existed
Napi::Value Txn::SyncDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireAux(env);
  MDB_val k = BytesArg(env, info[0], "key");
  if (k.mv_size == 0 || k.mv_size > kMaxKeySize) throw Napi::RangeError::New(env, "key size");
  int rc = mdb_del(Current(), core_->entry().syncDbi(), &k, nullptr);
  if (rc == MDB_NOTFOUND) return Napi::Boolean::New(env, false);
  if (rc != MDB_SUCCESS) FailWith(env, rc, "mdb_del (sync)");
  dirty_ = true;
  return Napi::Boolean::New(env, true);
}

// applyOps(ops: Uint8Array, from, to): a group batch view applies encoded
// ops (group_ops.h) to its innermost txn before a callback reads. An LMDB
// failure throws (MapFullError carries whether growth can help) and leaves
// the view for lib/ to release or regrow.
Napi::Value Txn::ApplyOps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireWritable(env);
  if (!group_ || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "applyOps(ops, from, to) on a group view");
  Napi::Uint8Array ops = info[0].As<Napi::Uint8Array>();
  double from = NumberArg(info, 1, "from"), to = NumberArg(info, 2, "to");
  if (!(from >= 0 && from <= to && to <= static_cast<double>(ops.ByteLength()))) {
    throw Napi::RangeError::New(env, "applyOps: range outside the buffer");
  }
  int rc = ApplyGroupOps(Current(), core_->entry().dataDbi(), ops.Data(), static_cast<size_t>(from),
                         static_cast<size_t>(to));
  if (rc == MDB_MAP_FULL) {
    bool retryable = !core_->entry().AtCeiling();
    ThrowMapFull(env, retryable ? "the map is full (it grows and the batch's ops are applied again)"
                                : "the map is full at maxMapSize (" + std::to_string(core_->entry().MapSize()) + " bytes)",
                 retryable, false);
  }
  Check(env, rc, "applying transaction() ops");
  return env.Undefined();
}

}  // namespace lmdbtxn
