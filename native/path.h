// Path normalisation (SPEC §2): the one place where a JS path becomes a key.
#pragma once
#include <lmdb.h>
#include <napi.h>

#include <string>
#include <string_view>

namespace lmdbtxn {

// LMDB's compiled-in key limit (mdb_env_get_maxkeysize of the default build).
constexpr size_t kMaxKeySize = 511;

// A normalised path, always 1..kMaxKeySize bytes, no empty/./.. segment, no NUL.
struct Key {
  char bytes[kMaxKeySize];
  size_t size = 0;

  std::string_view view() const { return {bytes, size}; }
  MDB_val val() { return MDB_val{size, bytes}; }
};

// Reads `value` (argument `argName`) as a path: TypeError when not a string,
// InvalidPathError / KeyTooLongError when it cannot be a key.
void ReadKey(Napi::Env env, Napi::Value value, const char* argName, Key& out);

}  // namespace lmdbtxn
