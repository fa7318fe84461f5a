// Typed errors. Native code never builds JS error classes itself: lib/errors.ts
// hands the addon a factory at load time (setErrorFactory), so every class,
// `code` and message format lives in one place on the JS side.
#pragma once
#include <lmdb.h>
#include <napi.h>

#include <string>

namespace lmdbtxn {

enum class ErrorKind {
  InvalidPath,
  KeyTooLong,
  TransactionBusy,
  TransactionFinished,
  TransactionTooLarge,
  MapFull,
  LinkLoop,
  StoreClosed,
  ReadOnly,
  Format,
  BackupTarget,
  Lmdb,
};

[[noreturn]] void Throw(Napi::Env env, ErrorKind kind, const std::string& message);
[[noreturn]] void ThrowMapFull(Napi::Env env, const std::string& message, bool retryable,
                               bool grown);
// `during` names the operation, e.g. "mdb_txn_commit".
[[noreturn]] void ThrowLmdb(Napi::Env env, int rc, const std::string& during);

inline void Check(Napi::Env env, int rc, const char* during) {
  if (rc != MDB_SUCCESS) ThrowLmdb(env, rc, during);
}

// The error objects themselves, for a Promise to reject with (async work).
// A BackupTarget error carries `reason` and, when a system call failed, its errno.
Napi::Value MakeLmdbError(Napi::Env env, int rc, const std::string& during);
Napi::Value MakeBackupTargetError(Napi::Env env, const std::string& reason, const std::string& message, int err);

// "MDB_MAP_FULL", "EIO", ... ; "E<number>" for an errno without a name here.
std::string LmdbCodeName(int rc);

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info);

}  // namespace lmdbtxn
