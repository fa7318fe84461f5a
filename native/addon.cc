// Module entry: registers the classes and the per-thread state. Context
// aware (NODE_API_MODULE), so it loads in worker_threads.
#include <napi.h>

#include <vector>

#include "addon.h"
#include "errors.h"
#include "path.h"
#include "raw_env.h"
#include "store.h"
#include "txn.h"

#ifndef LMDB_TXN_SOURCE_HASH
#define LMDB_TXN_SOURCE_HASH "unknown"
#endif

namespace lmdbtxn {

AddonData::~AddonData() {
  // Environment teardown (process or worker exit): abort what is still open
  // on this thread, so no writer lock or reader slot outlives it.
  std::vector<StoreCore*> open(stores.begin(), stores.end());
  stores.clear();
  for (StoreCore* store : open) {
    store->DetachAddon();
    store->Close();
  }
}

AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

namespace {

// normalizePath(path) → the key a path is stored under; throws like a write.
Napi::Value NormalizePath(const Napi::CallbackInfo& info) {
  Key key;
  const char* name = info.Length() > 1 && info[1].IsString() ? nullptr : "path";
  std::string argName = name ? name : info[1].As<Napi::String>().Utf8Value();
  ReadKey(info.Env(), info[0], argName.c_str(), key);
  return Napi::String::New(info.Env(), key.bytes, key.size);
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  data->txnConstructor = Napi::Persistent(Txn::Define(env));
  exports.Set("NativeStore", Store::Define(env));
  exports.Set("NativeTxn", data->txnConstructor.Value());
  exports.Set("setErrorFactory", Napi::Function::New<SetErrorFactory>(env, "setErrorFactory"));
  exports.Set("normalizePath", Napi::Function::New<NormalizePath>(env, "normalizePath"));
  exports.Set("sourceHash", Napi::String::New(env, LMDB_TXN_SOURCE_HASH));
  exports.Set("raw", RawEnvFunctions(env));  // CLI only: its own MDB_env per call
  Napi::ArrayBuffer readBuffer = Napi::ArrayBuffer::New(env, 64 * 1024);
  data->readBuffer = Napi::Persistent(readBuffer);
  data->readBufferData = static_cast<uint8_t*>(readBuffer.Data());
  data->readBufferSize = readBuffer.ByteLength();
  exports.Set("readBuffer", readBuffer);
  int major = 0, minor = 0, patch = 0;
  mdb_version(&major, &minor, &patch);
  exports.Set("lmdbVersion", Napi::String::New(env, std::to_string(major) + "." +
                                                       std::to_string(minor) + "." +
                                                       std::to_string(patch)));
  exports.Set("MDB_NOSYNC", Napi::Number::New(env, MDB_NOSYNC));
  exports.Set("MDB_NOMETASYNC", Napi::Number::New(env, MDB_NOMETASYNC));
  return exports;
}

}  // namespace lmdbtxn

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return lmdbtxn::Init(env, exports);
}

NODE_API_MODULE(lmdb_txn, InitModule)
