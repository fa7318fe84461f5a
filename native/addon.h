// Per-thread addon state. Each Node environment (main thread or worker) that
// loads the addon gets its own AddonData; its destructor runs at environment
// teardown and closes that thread's stores, aborting their transactions on
// the thread that owns them.
#pragma once
#include <napi.h>

#include <unordered_set>

namespace lmdbtxn {

class StoreCore;

struct AddonData {
  Napi::FunctionReference errorFactory;
  Napi::FunctionReference txnConstructor;
  std::unordered_set<StoreCore*> stores;  // open stores of this thread
  // read() copies values up to 64 KiB here and lib/ copies them on into a
  // Buffer of their own (JS allocates it faster than a native Buffer copy).
  Napi::Reference<Napi::ArrayBuffer> readBuffer;
  uint8_t* readBufferData = nullptr;
  size_t readBufferSize = 0;
  ~AddonData();
};

AddonData* GetAddonData(Napi::Env env);

}  // namespace lmdbtxn
