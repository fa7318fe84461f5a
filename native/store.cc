#include "store.h"

#include <cstring>
#include <thread>

#include "addon.h"
#include "backup.h"
#include "change_log.h"
#include "args.h"
#include "errors.h"
#include "txn.h"

namespace lmdbtxn {

// ---- StoreCore -------------------------------------------------------------

StoreCore::StoreCore(Napi::Env env, std::shared_ptr<EnvEntry> entry, bool readOnly,
                     unsigned durabilityFlags, int maxLinkDepth)
    : entry_(std::move(entry)),
      readOnly_(readOnly),
      durabilityFlags_(durabilityFlags),
      maxLinkDepth_(maxLinkDepth) {
  addon_ = GetAddonData(env);
  if (addon_) addon_->stores.insert(this);
}

StoreCore::~StoreCore() { Close(); }

void StoreCore::Close() {
  if (closed_) return;
  closed_ = true;
  // Copy: ending a txn untracks it.
  std::vector<Txn*> open(txns_.begin(), txns_.end());
  for (Txn* txn : open) txn->EndBecauseStoreClosed();
  txns_.clear();
  if (group_) {
    group_->Stop();  // aborts what the writer holds, on the writer thread
    group_.reset();
  }
  groupHolds = 0;
  groupView = nullptr;
  groupViewGen = 0;
  if (readTxn_ != nullptr) {
    mdb_txn_abort(readTxn_);  // it is reset, so it holds no snapshot and no count
    readTxn_ = nullptr;
  }
  entry_->Release();
  if (addon_) addon_->stores.erase(this);
}

void StoreCore::ReleaseGroupView(Txn* view, uint64_t gen) {
  if (view != groupView || gen != groupViewGen) return;  // long released: never touch another batch
  groupView = nullptr;
  groupViewGen = 0;
  if (group_) group_->Release(gen);  // else Stop() already aborted it
}

MDB_txn* StoreCore::AcquireReadTxn(Napi::Env env) {
  int rc;
  if (readTxn_ == nullptr) {
    rc = entry_->BeginTxn(MDB_RDONLY, &readTxn_);
    if (rc != MDB_SUCCESS) readTxn_ = nullptr;
  } else {
    rc = entry_->RenewTxn(readTxn_);
  }
  Check(env, rc, "mdb_txn_begin (read)");
  return readTxn_;
}

void StoreCore::ReleaseReadTxn() {
  mdb_txn_reset(readTxn_);
  entry_->EndTxn();
}

// ---- Store -----------------------------------------------------------------

Napi::Function Store::Define(Napi::Env env) {
  return DefineClass(env, "NativeStore",
                     {
                         InstanceMethod<&Store::ReadMethod<ReadOp::Read>>("read"),
                         InstanceMethod<&Store::ReadMethod<ReadOp::ReadString>>("readString"),
                         InstanceMethod<&Store::ReadMethod<ReadOp::ReadInto>>("readInto"),
                         InstanceMethod<&Store::ReadMethod<ReadOp::Type>>("type"),
                         InstanceMethod<&Store::ReadMethod<ReadOp::Exists>>("exists"),
                         InstanceMethod<&Store::ReadMethod<ReadOp::Resolve>>("resolve"),
                         InstanceMethod<&Store::ReadMethod<ReadOp::List>>("list"),
                         InstanceMethod<&Store::ReadMethod<ReadOp::Keys>>("keys"),
                         InstanceMethod<&Store::ReadMethod<ReadOp::ReadLink>>("readLink"),
                         InstanceMethod<&Store::ReadMethod<ReadOp::ReadMessage>>("readMessage"),
                         InstanceMethod<&Store::ReadMethod<ReadOp::Entries>>("entries"),
                         InstanceMethod<&Store::ReadMethod<ReadOp::KeyEntries>>("keyEntries"),
                         InstanceMethod<&Store::ReadMethod<ReadOp::ReadMany>>("readMany"),
                         InstanceMethod<&Store::Begin>("begin"),
                         InstanceMethod<&Store::Snapshot>("snapshot"),
                         InstanceMethod<&Store::Stat>("stat"),
                         InstanceMethod<&Store::Close>("close"),
                         InstanceMethod<&Store::WriterBusy>("writerBusy"),
                         InstanceMethod<&Store::GroupStart>("groupStart"),
                         InstanceMethod<&Store::GroupHold>("groupHold"),
                         InstanceMethod<&Store::GroupCommit>("groupCommit"),
                         InstanceMethod<&Store::GroupRelease>("groupRelease"),
                         InstanceMethod<&Store::GroupRunning>("groupRunning"),
                         InstanceMethod<&Store::GroupFlush>("groupFlush"),
                         InstanceMethod<&Store::GroupRef>("groupRef"),
                         InstanceMethod<&Store::Changes>("changes"),
                         InstanceMethod<&Store::ChangeLogInfo>("changeLogInfo"),
                         InstanceMethod<&Store::SyncGet>("syncGet"),
                         InstanceMethod<&Store::SyncList>("syncList"),
                         InstanceMethod<&Store::Backup>("backup"),
                         InstanceAccessor<&Store::IsOpen>("isOpen"),
                     });
}

// new NativeStore(path, { readOnly, mapSize, maxMapSize, maxReaders,
//                         durabilityFlags, maxLinkDepth }) — lib/ validates.
Store::Store(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Store>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsObject()) {
    throw Napi::TypeError::New(env, "NativeStore(path, options)");
  }
  Napi::Object o = info[1].As<Napi::Object>();
  EnvOptions options;
  options.path = info[0].As<Napi::String>().Utf8Value();
  options.readOnly = o.Get("readOnly").ToBoolean();
  options.mapSize = static_cast<uint64_t>(o.Get("mapSize").ToNumber().DoubleValue());
  options.maxMapSize = static_cast<uint64_t>(o.Get("maxMapSize").ToNumber().DoubleValue());
  options.maxReaders = o.Get("maxReaders").ToNumber().Uint32Value();
  options.changeLog = o.Get("changeLog").ToBoolean();
  unsigned durability = o.Get("durabilityFlags").ToNumber().Uint32Value();
  int maxLinkDepth = o.Get("maxLinkDepth").ToNumber().Int32Value();
  std::shared_ptr<EnvEntry> entry = EnvEntry::Acquire(env, options);
  core_ = std::make_shared<StoreCore>(env, std::move(entry), options.readOnly, durability,
                                      maxLinkDepth);
}

// A Store collected without close(): its transactions are unreachable too
// (each JS Transaction references its Store), so closing is safe.
Store::~Store() {
  if (core_) core_->Close();
}

StoreCore& Store::RequireOpen(Napi::Env env) {
  if (core_->closed()) Throw(env, ErrorKind::StoreClosed, "the store is closed");
  return *core_;
}

template <typename F>
Napi::Value Store::WithRead(Napi::Env env, F read) {
  StoreCore& core = RequireOpen(env);
  MDB_txn* txn = core.AcquireReadTxn(env);
  struct Release {
    StoreCore& core;
    ~Release() { core.ReleaseReadTxn(); }
  } release{core};
  return read(ReadContext{env, txn, core.entry().dataDbi(), core.maxLinkDepth()});
}

// Arguments first: a bad one throws before the read txn is renewed.
template <ReadOp op>
Napi::Value Store::ReadMethod(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env());
  ReadArgs args = ParseReadArgs(info, op);
  return WithRead(info.Env(), [&](const ReadContext& ctx) { return RunRead(ctx, op, args); });
}

// begin(maxOps, maxBytes)
Napi::Value Store::Begin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double maxOps = NumberArg(info, 0, "maxOps");
  double maxBytes = NumberArg(info, 1, "maxBytes");
  StoreCore& core = RequireOpen(env);
  if (core.readOnly()) Throw(env, ErrorKind::ReadOnly, "the store was opened readOnly");
  EnvEntry& entry = core.entry();
  if (entry.writer.load() == std::this_thread::get_id()) {
    Throw(env, ErrorKind::TransactionBusy,
          "a write transaction is already open on this thread for this store; commit or "
          "abort it first (waiting would deadlock)");
  }
  for (StoreCore* other : GetAddonData(env)->stores) {
    if (&other->entry() == &entry && other->groupHolds > 0) {
      Throw(env, ErrorKind::TransactionBusy,
            "begin()/transactionSync() inside a store.transaction() callback of this store: "
            "the batch may hold the write lock for this thread, so waiting would deadlock");
    }
  }
  entry.GrowIfNeeded();
  MDB_txn* root = nullptr;
  // Blocks while another thread or process holds LMDB's writer lock.
  Check(env, entry.BeginTxn(0, &root), "mdb_txn_begin");
  entry.writer.store(std::this_thread::get_id());
  Napi::Object obj;
  try {
    obj = GetAddonData(env)->txnConstructor.New({});
  } catch (...) {
    mdb_txn_abort(root);
    entry.ClearWriter();
    entry.EndTxn();
    throw;
  }
  Txn::Unwrap(obj)->StartWrite(core_, root, maxOps, maxBytes);
  return obj;
}

Napi::Value Store::Snapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  StoreCore& core = RequireOpen(env);
  MDB_txn* root = nullptr;
  Check(env, core.entry().BeginTxn(MDB_RDONLY, &root), "mdb_txn_begin (snapshot)");
  Napi::Object obj;
  try {
    obj = GetAddonData(env)->txnConstructor.New({});
  } catch (...) {
    mdb_txn_abort(root);
    core.entry().EndTxn();
    throw;
  }
  Txn::Unwrap(obj)->StartSnapshot(core_, root);
  return obj;
}

Napi::Value Store::Stat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  WithRead(env, [&](const ReadContext& ctx) {
    MDB_stat ms;
    Check(env, mdb_stat(ctx.txn, ctx.dbi, &ms), "mdb_stat");
    out.Set("entries", static_cast<double>(ms.ms_entries));
    out.Set("depth", ms.ms_depth);
    out.Set("pageSize", ms.ms_psize);
    return env.Undefined();
  });
  EnvEntry& entry = core_->entry();
  MDB_envinfo ei;
  Check(env, entry.Info(&ei), "mdb_env_info");
  out.Set("mapSize", static_cast<double>(ei.me_mapsize));
  out.Set("maxMapSize", static_cast<double>(entry.maxMapSize()));
  out.Set("usedBytes", static_cast<double>(entry.UsedBytes()));
  out.Set("lastTxnId", static_cast<double>(ei.me_last_txnid));
  // me_numreaders is a high-water mark; count the slots in use instead.
  int active = 0;
  mdb_reader_list(
      entry.env(),
      [](const char* line, void* ctx) -> int {
        if (line[0] != '(' && std::strstr(line, "pid") == nullptr) ++*static_cast<int*>(ctx);
        return 0;
      },
      &active);
  out.Set("readers", active);
  out.Set("maxReaders", ei.me_maxreaders);
  out.Set("formatVersion", kFormatVersion);
  if (!entry.storeId().empty()) out.Set("storeId", entry.storeId());
  return out;
}

Napi::Value Store::Close(const Napi::CallbackInfo& info) {
  core_->Close();
  return info.Env().Undefined();
}

Napi::Value Store::IsOpen(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !core_->closed());
}

// Whether this thread holds the environment's write txn (through any store).
Napi::Value Store::WriterBusy(const Napi::CallbackInfo& info) {
  bool busy = !core_->closed() && core_->entry().writer.load() == std::this_thread::get_id();
  return Napi::Boolean::New(info.Env(), busy);
}

GroupWriter& Store::RequireGroup(Napi::Env env) {
  StoreCore& core = RequireOpen(env);
  if (core.group() == nullptr) throw Napi::TypeError::New(env, "groupStart() was not called");
  return *core.group();
}

// groupStart(onEvent): creates the writer thread (once).
Napi::Value Store::GroupStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Function onEvent = FunctionArg(info, 0, "onEvent");
  StoreCore& core = RequireOpen(env);
  if (core.readOnly()) Throw(env, ErrorKind::ReadOnly, "the store was opened readOnly");
  if (core.group() == nullptr) core.StartGroup(std::make_unique<GroupWriter>(env, core_, onEvent));
  return env.Undefined();
}

// groupHold(regrow) → a view of the batch txn, begun by the writer thread
// after every batch queued before it has committed (this blocks the JS
// thread meanwhile). regrow: the held view hit MDB_MAP_FULL; the writer
// aborts it, grows the map and begins again (same generation).
Napi::Value Store::GroupHold(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool regrow = info[0].ToBoolean();
  GroupWriter& writer = RequireGroup(env);
  StoreCore& core = *core_;
  if (core.groupView != nullptr && !regrow) throw Napi::Error::New(env, "a batch view is already held");
  Napi::Object obj = GetAddonData(env)->txnConstructor.New({});  // before the lock is taken
  uint64_t gen;
  if (core.groupView != nullptr) {
    gen = core.groupViewGen;
    core.groupView->DetachGroup();
    core.groupView = nullptr;
  } else {
    gen = writer.NextGen();
  }
  core.groupViewGen = gen;
  GroupWriter::HoldResult held = writer.Hold(gen, regrow);
  if (held.rc != MDB_SUCCESS) {
    core.groupViewGen = 0;
    if (held.rc == MDB_MAP_FULL) {
      ThrowMapFull(env,
                   held.retryable ? "the map is full and cannot grow while a snapshot or transaction of this "
                                    "process is open"
                                  : "the map is full at maxMapSize (" + std::to_string(core.entry().MapSize()) + " bytes)",
                   held.retryable, false);
    }
    ThrowLmdb(env, held.rc, "mdb_txn_begin (group)");
  }
  Txn* view = Txn::Unwrap(obj);
  view->StartGroup(core_, held.txn, gen);
  core.groupView = view;
  return obj;
}

// groupCommit(ops: Uint8Array, length, ends: Uint32Array, applied) → the
// batch's generation. Copies the ops; the writer applies what the JS thread
// has not (everything unless a view was held) and commits.
Napi::Value Store::GroupCommit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || !info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    throw Napi::TypeError::New(env, "groupCommit(ops, length, ends, applied)");
  }
  Napi::Uint8Array ops = info[0].As<Napi::Uint8Array>();
  Napi::Uint32Array ends = info[2].As<Napi::Uint32Array>();
  double length = NumberArg(info, 1, "length"), applied = NumberArg(info, 3, "applied");
  if (!(length >= 0 && length <= static_cast<double>(ops.ByteLength()) && applied >= 0 && applied <= length)) {
    throw Napi::RangeError::New(env, "groupCommit: lengths outside the buffer");
  }
  GroupWriter& writer = RequireGroup(env);
  StoreCore& core = *core_;
  GroupWriter::Batch batch;
  batch.ops = writer.TakeOpsBuffer();
  batch.ops.assign(ops.Data(), ops.Data() + static_cast<size_t>(length));
  batch.ends.assign(ends.Data(), ends.Data() + ends.ElementLength());
  if (core.groupView != nullptr) {
    batch.gen = core.groupViewGen;
    batch.applied = static_cast<size_t>(applied);
    core.groupView->DetachGroup();
    core.groupView = nullptr;
    core.groupViewGen = 0;
  } else {
    batch.gen = writer.NextGen();
  }
  uint64_t gen = batch.gen;
  writer.Commit(std::move(batch));
  return Napi::Number::New(env, static_cast<double>(gen));
}

// groupRelease(): the held view's batch will not commit (nothing succeeded,
// or the view failed): the writer aborts it. A no-op when none is held.
Napi::Value Store::GroupRelease(const Napi::CallbackInfo& info) {
  StoreCore& core = *core_;
  if (core.groupView != nullptr) {
    Txn* view = core.groupView;
    uint64_t gen = core.groupViewGen;
    view->DetachGroup();
    core.ReleaseGroupView(view, gen);
  }
  return info.Env().Undefined();
}

// groupRunning(bool): callbacks are running on this thread (begin() inside
// one throws TransactionBusyError).
Napi::Value Store::GroupRunning(const Napi::CallbackInfo& info) {
  if (info[0].ToBoolean()) core_->groupHolds++;
  else if (core_->groupHolds > 0) core_->groupHolds--;
  return info.Env().Undefined();
}

Napi::Value Store::GroupFlush(const Napi::CallbackInfo& info) {
  double id = NumberArg(info, 0, "id");
  RequireGroup(info.Env()).Sync(id);
  return info.Env().Undefined();
}

Napi::Value Store::GroupRef(const Napi::CallbackInfo& info) {
  if (!core_->closed() && core_->group()) core_->group()->SetRef(info.Env(), info[0].ToBoolean());
  return info.Env().Undefined();
}

// changes(after, limit) → [seq, record, seq, record, ...] (records copied),
// read in `txn` (the store's read txn, a snapshot or a write txn).
Napi::Value JsChanges(const Napi::CallbackInfo& info, MDB_txn* txn, EnvEntry& entry) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  if (!entry.hasAux()) return out;
  uint64_t after = static_cast<uint64_t>(info[0].ToNumber().DoubleValue());
  double limit = info[1].ToNumber().DoubleValue();
  MDB_cursor* cur = nullptr;
  Check(env, mdb_cursor_open(txn, entry.changesDbi(), &cur), "mdb_cursor_open");
  struct Close {
    MDB_cursor* c;
    ~Close() { mdb_cursor_close(c); }
  } close{cur};
  unsigned char start[8];
  EncodeSeq(after + 1, start);
  MDB_val k{8, start}, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  uint32_t n = 0;
  while (rc == MDB_SUCCESS && n < 2 * limit) {
    if (k.mv_size != 8) ThrowLmdb(env, MDB_CORRUPTED, "a change log key is not 8 bytes");
    out.Set(n++, static_cast<double>(DecodeSeq(k.mv_data)));
    out.Set(n++, Napi::Buffer<uint8_t>::Copy(env, static_cast<uint8_t*>(v.mv_data), v.mv_size));
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) ThrowLmdb(env, rc, "reading the change log");
  return out;
}

Napi::Value Store::Changes(const Napi::CallbackInfo& info) {
  EnvEntry& entry = RequireOpen(info.Env()).entry();
  return WithRead(info.Env(), [&](const ReadContext& ctx) { return JsChanges(info, ctx.txn, entry); });
}

// changeLogInfo() → { on, first, last, count } (first = last + 1 when empty)
Napi::Value Store::ChangeLogInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  EnvEntry& entry = RequireOpen(env).entry();
  if (!entry.hasAux()) {
    out.Set("on", false);
    return out;
  }
  WithRead(info.Env(), [&](const ReadContext& ctx) {
    uint64_t last = 0, first = 0;
    Check(env, LastChangeSeq(ctx.txn, entry.changesDbi(), entry.metaDbi(), &last), "reading the change log");
    MDB_stat ms;
    Check(env, mdb_stat(ctx.txn, entry.changesDbi(), &ms), "mdb_stat");
    MDB_cursor* cur = nullptr;
    Check(env, mdb_cursor_open(ctx.txn, entry.changesDbi(), &cur), "mdb_cursor_open");
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    mdb_cursor_close(cur);
    if (rc == MDB_SUCCESS && k.mv_size == 8) first = DecodeSeq(k.mv_data);
    else if (rc == MDB_NOTFOUND) first = last + 1;
    else ThrowLmdb(env, rc == MDB_SUCCESS ? MDB_CORRUPTED : rc, "reading the change log");
    out.Set("on", entry.ChangeLogOn(ctx.txn));
    out.Set("first", static_cast<double>(first));
    out.Set("last", static_cast<double>(last));
    out.Set("count", static_cast<double>(ms.ms_entries));
    return env.Undefined();
  });
  return out;
}

// syncGet(key) → Buffer | undefined: replication state at the latest commit
Napi::Value Store::SyncGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvEntry& entry = RequireOpen(env).entry();
  if (!entry.hasAux()) return env.Undefined();
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "key must be a Buffer");
  Napi::Buffer<uint8_t> key = info[0].As<Napi::Buffer<uint8_t>>();
  if (key.Length() == 0 || key.Length() > kMaxKeySize) throw Napi::RangeError::New(env, "key size");
  return WithRead(info.Env(), [&](const ReadContext& ctx) -> Napi::Value {
    MDB_val k{key.Length(), key.Data()}, v;
    int rc = mdb_get(ctx.txn, entry.syncDbi(), &k, &v);
    if (rc == MDB_NOTFOUND) return env.Undefined();
    Check(env, rc, "mdb_get (sync)");
    return Napi::Buffer<uint8_t>::Copy(env, static_cast<uint8_t*>(v.mv_data), v.mv_size);
  });
}

// syncList(prefix) → [key, value, ...] of the sync database under `prefix`
Napi::Value Store::SyncList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  EnvEntry& entry = RequireOpen(env).entry();
  if (!entry.hasAux()) return out;
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "prefix must be a Buffer");
  Napi::Buffer<uint8_t> prefix = info[0].As<Napi::Buffer<uint8_t>>();
  if (prefix.Length() == 0 || prefix.Length() > kMaxKeySize) throw Napi::RangeError::New(env, "prefix size");
  WithRead(info.Env(), [&](const ReadContext& ctx) {
    MDB_cursor* cur = nullptr;
    Check(env, mdb_cursor_open(ctx.txn, entry.syncDbi(), &cur), "mdb_cursor_open");
    struct Close {
      MDB_cursor* c;
      ~Close() { mdb_cursor_close(c); }
    } close{cur};
    MDB_val k{prefix.Length(), prefix.Data()}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    uint32_t n = 0;
    while (rc == MDB_SUCCESS && k.mv_size >= prefix.Length() &&
           std::memcmp(k.mv_data, prefix.Data(), prefix.Length()) == 0) {
      out.Set(n++, Napi::Buffer<uint8_t>::Copy(env, static_cast<uint8_t*>(k.mv_data), k.mv_size));
      out.Set(n++, Napi::Buffer<uint8_t>::Copy(env, static_cast<uint8_t*>(v.mv_data), v.mv_size));
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) ThrowLmdb(env, rc, "reading the sync database");
    return env.Undefined();
  });
  return out;
}

// backup(dest, compact) → Promise<{ path, bytes, compact }> (native/backup.h).
// The copy holds the environment, not the store: close() does not wait for it.
Napi::Value Store::Backup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsBoolean()) throw Napi::TypeError::New(env, "backup(dest, compact)");
  std::string dest = info[0].As<Napi::String>().Utf8Value();
  if (dest.empty() || dest.find('\0') != std::string::npos) throw Napi::TypeError::New(env, "dest must be a path without NUL bytes");
  StoreCore& core = RequireOpen(env);
  return StartBackup(env, core.sharedEntry(), std::move(dest), info[1].As<Napi::Boolean>().Value());
}

}  // namespace lmdbtxn
