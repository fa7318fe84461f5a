// Store: one open() of a directory on one thread. Reads go through a
// reusable read-only txn that is renewed per call, so each read sees the
// latest commit of any process; between calls it is reset: it keeps its reader
// slot (one per handle) but pins no snapshot.
#pragma once
#include <lmdb.h>
#include <napi.h>

#include <memory>
#include <unordered_set>

#include "entries.h"
#include "env_registry.h"
#include "group_writer.h"

namespace lmdbtxn {

class Txn;
struct AddonData;

// State shared by a Store and the transactions it began; it outlives the JS
// Store object if a transaction object is still reachable.
class StoreCore {
 public:
  StoreCore(Napi::Env env, std::shared_ptr<EnvEntry> entry, bool readOnly,
            unsigned durabilityFlags, int maxLinkDepth);
  ~StoreCore();

  // Aborts every open transaction and snapshot of this store, then releases
  // the environment. Idempotent; never throws (runs from finalizers too).
  void Close();
  bool closed() const { return closed_; }
  EnvEntry& entry() { return *entry_; }
  const std::shared_ptr<EnvEntry>& sharedEntry() const { return entry_; }
  bool readOnly() const { return readOnly_; }
  unsigned durabilityFlags() const { return durabilityFlags_; }
  int maxLinkDepth() const { return maxLinkDepth_; }

  // The thread's addon state is going away (environment teardown).
  void DetachAddon() { addon_ = nullptr; }

  void Track(Txn* txn) { txns_.insert(txn); }
  void Untrack(Txn* txn) { txns_.erase(txn); }

  // Group commit (store.transaction): the writer thread, created on demand.
  GroupWriter* group() const { return group_.get(); }
  void StartGroup(std::unique_ptr<GroupWriter> writer) { group_ = std::move(writer); }
  // transaction() callbacks are running on this thread (a batch view may be
  // held): a begin() here throws TransactionBusyError, as it could wait for
  // the writer, which may be waiting for this thread.
  int groupHolds = 0;
  // The view of the batch txn the writer holds for this thread's reading
  // callbacks (null when none is held).
  Txn* groupView = nullptr;
  uint64_t groupViewGen = 0;
  // A view ended on its own (abort, finalizer): release its hold if the
  // writer still holds that generation for it.
  void ReleaseGroupView(Txn* view, uint64_t gen);

  // The reusable read txn, renewed for one read and reset after it.
  MDB_txn* AcquireReadTxn(Napi::Env env);
  void ReleaseReadTxn();

 private:
  AddonData* addon_ = nullptr;
  std::shared_ptr<EnvEntry> entry_;
  bool readOnly_;
  unsigned durabilityFlags_;
  int maxLinkDepth_;
  bool closed_ = false;
  MDB_txn* readTxn_ = nullptr;  // reset (no reader snapshot) between reads
  std::unique_ptr<GroupWriter> group_;
  std::unordered_set<Txn*> txns_;
};

// changes(after, limit) glue, shared by Store (its read txn) and Txn.
Napi::Value JsChanges(const Napi::CallbackInfo& info, MDB_txn* txn, EnvEntry& entry);

class Store : public Napi::ObjectWrap<Store> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Store(const Napi::CallbackInfo& info);
  ~Store() override;

 private:
  StoreCore& RequireOpen(Napi::Env env);
  GroupWriter& RequireGroup(Napi::Env env);
  template <typename F>
  Napi::Value WithRead(Napi::Env env, F read);
  template <ReadOp op>
  Napi::Value ReadMethod(const Napi::CallbackInfo& info);

  Napi::Value Begin(const Napi::CallbackInfo& info);
  Napi::Value Snapshot(const Napi::CallbackInfo& info);
  Napi::Value Stat(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value IsOpen(const Napi::CallbackInfo& info);
  Napi::Value WriterBusy(const Napi::CallbackInfo& info);
  Napi::Value GroupStart(const Napi::CallbackInfo& info);
  Napi::Value GroupHold(const Napi::CallbackInfo& info);
  Napi::Value GroupCommit(const Napi::CallbackInfo& info);
  Napi::Value GroupRelease(const Napi::CallbackInfo& info);
  Napi::Value GroupRunning(const Napi::CallbackInfo& info);
  Napi::Value GroupFlush(const Napi::CallbackInfo& info);
  Napi::Value GroupRef(const Napi::CallbackInfo& info);
  Napi::Value Changes(const Napi::CallbackInfo& info);
  Napi::Value ChangeLogInfo(const Napi::CallbackInfo& info);
  Napi::Value SyncGet(const Napi::CallbackInfo& info);
  Napi::Value SyncList(const Napi::CallbackInfo& info);
  Napi::Value Backup(const Napi::CallbackInfo& info);

  std::shared_ptr<StoreCore> core_;
};

}  // namespace lmdbtxn
