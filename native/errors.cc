#include "errors.h"

#include <cerrno>

#include "addon.h"

namespace lmdbtxn {

namespace {

const char* KindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidPath: return "INVALID_PATH";
    case ErrorKind::KeyTooLong: return "KEY_TOO_LONG";
    case ErrorKind::TransactionBusy: return "TRANSACTION_BUSY";
    case ErrorKind::TransactionFinished: return "TRANSACTION_FINISHED";
    case ErrorKind::TransactionTooLarge: return "TRANSACTION_TOO_LARGE";
    case ErrorKind::MapFull: return "MAP_FULL";
    case ErrorKind::LinkLoop: return "LINK_LOOP";
    case ErrorKind::StoreClosed: return "STORE_CLOSED";
    case ErrorKind::ReadOnly: return "READ_ONLY";
    case ErrorKind::Format: return "FORMAT";
    case ErrorKind::BackupTarget: return "BACKUP_TARGET";
    case ErrorKind::Lmdb: return "LMDB";
  }
  return "LMDB";
}

Napi::Value BuildError(Napi::Env env, ErrorKind kind, const std::string& message, Napi::Object extra) {
  AddonData* data = GetAddonData(env);
  Napi::Value error;
  if (data != nullptr && !data->errorFactory.IsEmpty()) {
    error = data->errorFactory.Call({Napi::String::New(env, KindName(kind)),
                                     Napi::String::New(env, message), extra});
  } else {
    // Only reachable if lib/ failed to install the factory; still typed by code.
    Napi::Error plain = Napi::Error::New(env, message);
    plain.Value().Set("code", KindName(kind));
    error = plain.Value();
  }
  return error;
}

[[noreturn]] void ThrowWith(Napi::Env env, ErrorKind kind, const std::string& message,
                            Napi::Object extra) {
  throw Napi::Error(env, BuildError(env, kind, message, extra));
}

Napi::Object LmdbExtra(Napi::Env env, int rc) {
  Napi::Object extra = Napi::Object::New(env);
  extra.Set("lmdbCode", LmdbCodeName(rc));
  extra.Set("errno", rc);
  return extra;
}

}  // namespace

void Throw(Napi::Env env, ErrorKind kind, const std::string& message) {
  ThrowWith(env, kind, message, Napi::Object::New(env));
}

void ThrowMapFull(Napi::Env env, const std::string& message, bool retryable, bool grown) {
  Napi::Object extra = Napi::Object::New(env);
  extra.Set("retryable", retryable);
  extra.Set("grown", grown);
  ThrowWith(env, ErrorKind::MapFull, message, extra);
}

void ThrowLmdb(Napi::Env env, int rc, const std::string& during) {
  throw Napi::Error(env, MakeLmdbError(env, rc, during));
}

Napi::Value MakeLmdbError(Napi::Env env, int rc, const std::string& during) {
  std::string message = during + ": " + mdb_strerror(rc) + " (" + LmdbCodeName(rc) + ")";
  return BuildError(env, rc == MDB_MAP_FULL ? ErrorKind::MapFull : ErrorKind::Lmdb, message, LmdbExtra(env, rc));
}

Napi::Value MakeBackupTargetError(Napi::Env env, const std::string& reason, const std::string& message, int err) {
  Napi::Object extra = err != 0 ? LmdbExtra(env, err) : Napi::Object::New(env);
  extra.Set("reason", reason);
  std::string text = err != 0 ? message + ": " + mdb_strerror(err) + " (" + LmdbCodeName(err) + ")" : message;
  return BuildError(env, ErrorKind::BackupTarget, text, extra);
}

std::string LmdbCodeName(int rc) {
  switch (rc) {
    case MDB_KEYEXIST: return "MDB_KEYEXIST";
    case MDB_NOTFOUND: return "MDB_NOTFOUND";
    case MDB_PAGE_NOTFOUND: return "MDB_PAGE_NOTFOUND";
    case MDB_CORRUPTED: return "MDB_CORRUPTED";
    case MDB_PANIC: return "MDB_PANIC";
    case MDB_VERSION_MISMATCH: return "MDB_VERSION_MISMATCH";
    case MDB_INVALID: return "MDB_INVALID";
    case MDB_MAP_FULL: return "MDB_MAP_FULL";
    case MDB_DBS_FULL: return "MDB_DBS_FULL";
    case MDB_READERS_FULL: return "MDB_READERS_FULL";
    case MDB_TLS_FULL: return "MDB_TLS_FULL";
    case MDB_TXN_FULL: return "MDB_TXN_FULL";
    case MDB_CURSOR_FULL: return "MDB_CURSOR_FULL";
    case MDB_PAGE_FULL: return "MDB_PAGE_FULL";
    case MDB_MAP_RESIZED: return "MDB_MAP_RESIZED";
    case MDB_INCOMPATIBLE: return "MDB_INCOMPATIBLE";
    case MDB_BAD_RSLOT: return "MDB_BAD_RSLOT";
    case MDB_BAD_TXN: return "MDB_BAD_TXN";
    case MDB_BAD_VALSIZE: return "MDB_BAD_VALSIZE";
    case MDB_BAD_DBI: return "MDB_BAD_DBI";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EAGAIN: return "EAGAIN";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case ENOMEM: return "ENOMEM";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ENOTDIR: return "ENOTDIR";
    case EPERM: return "EPERM";
    case EEXIST: return "EEXIST";
    case EDQUOT: return "EDQUOT";
    default: return "E" + std::to_string(rc);
  }
}

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "factory must be a function");
  AddonData* data = GetAddonData(info.Env());
  data->errorFactory = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace lmdbtxn
