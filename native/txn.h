// Txn: a native LMDB transaction held open across JS calls. A write Txn owns
// the root MDB_txn plus a stack of child txns (savepoints); every operation
// acts on the innermost one, as LMDB allows no use of a parent while a child
// is open. A snapshot Txn is a read-only root txn.
#pragma once
#include <lmdb.h>
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "change_log.h"
#include "entries.h"

namespace lmdbtxn {

class StoreCore;

class Txn : public Napi::ObjectWrap<Txn> {
 public:
  enum class State { Active, TooLarge, Committed, Aborted, CommitFailed, MapFull, Failed, StoreClosed };

  static Napi::Function Define(Napi::Env env);
  explicit Txn(const Napi::CallbackInfo& info);
  ~Txn() override;

  // Called by Store right after construction.
  void StartWrite(std::shared_ptr<StoreCore> core, MDB_txn* root, double maxOps, double maxBytes);
  void StartSnapshot(std::shared_ptr<StoreCore> core, MDB_txn* root);
  // A view of group batch `gen`'s txn, begun and parked by the writer
  // thread for callbacks that read; only that thread ends the root.
  void StartGroup(std::shared_ptr<StoreCore> core, MDB_txn* root, uint64_t gen);
  // The root goes back to the writer: abort this thread's child txns and
  // refuse every later call.
  void DetachGroup();
  // The store is closing: abort, and say so in every later call.
  void EndBecauseStoreClosed();

 private:
  // One savepoint. An isolated one (a group-commit callback) has limits of
  // its own: the counters restart at zero and are restored when it ends.
  struct Level {
    MDB_txn* txn;
    bool isolated;
    double ops, bytes, maxOps, maxBytes;
    State state;
    std::string failure;
    ChangeOps::Mark mark;  // where its ops start in changes_
  };

  MDB_txn* Current() const { return children_.empty() ? root_ : children_.back().txn; }
  void PopChild(bool commit, int* rc);
  ReadContext Context(Napi::Env env) const;
  void RequireUsable(Napi::Env env);
  void RequireWritable(Napi::Env env);
  void CountOp(Napi::Env env, size_t bytes);
  // Ends the root txn (children included) and releases LMDB's writer lock.
  void End(bool commit, State next, int* commitRc);
  [[noreturn]] void FailWith(Napi::Env env, int rc, const char* during);
  void Put(Napi::Env env, Key& key, uint8_t tag, const void* data, size_t size);

  template <ReadOp op>
  Napi::Value ReadMethod(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value MakeGroup(const Napi::CallbackInfo& info);
  Napi::Value MakeLink(const Napi::CallbackInfo& info);
  Napi::Value Remove(const Napi::CallbackInfo& info);
  Napi::Value BeginChild(const Napi::CallbackInfo& info);
  Napi::Value CommitChild(const Napi::CallbackInfo& info);
  Napi::Value AbortChild(const Napi::CallbackInfo& info);
  Napi::Value Commit(const Napi::CallbackInfo& info);
  Napi::Value Abort(const Napi::CallbackInfo& info);
  Napi::Value Active(const Napi::CallbackInfo& info);
  Napi::Value MapFullGrown(const Napi::CallbackInfo& info);
  Napi::Value HasKey(const Napi::CallbackInfo& info);
  // Change log and replication state (lib/changes.ts, lib/sync/).
  Napi::Value Changes(const Napi::CallbackInfo& info);
  Napi::Value TrimChanges(const Napi::CallbackInfo& info);
  Napi::Value RestoreChange(const Napi::CallbackInfo& info);
  Napi::Value SyncGet(const Napi::CallbackInfo& info);
  Napi::Value SyncPut(const Napi::CallbackInfo& info);
  Napi::Value SyncDelete(const Napi::CallbackInfo& info);
  void RequireAux(Napi::Env env);
  Napi::Value ApplyOps(const Napi::CallbackInfo& info);

  std::shared_ptr<StoreCore> core_;
  bool write_ = false;
  bool group_ = false;
  uint64_t gen_ = 0;  // the group batch this view belongs to
  MDB_txn* root_ = nullptr;
  std::vector<Level> children_;
  bool mapFullGrown_ = false;  // the txn ended on MDB_MAP_FULL and the map grew
  State state_ = State::Aborted;
  std::string failure_;  // why the txn ended, for TransactionFinishedError
  double maxOps_ = 0, maxBytes_ = 0;
  double ops_ = 0, bytes_ = 0;
  std::string scratch_;  // UTF-8 of string values, reused
  // The change log: ops recorded while logging_ (read under the writer lock
  // at begin). Group-commit callbacks are logged by the writer thread.
  bool logging_ = false;
  ChangeOps changes_;
  bool dirty_ = false;  // wrote internal state (sync db, trim): commit even without ops
};

}  // namespace lmdbtxn
