// store.backup(): a consistent copy of a live environment (mdb_env_copyfd2),
// written on the libuv thread pool into <dest>/data.mdb.partial, fsynced and
// renamed to <dest>/data.mdb only when complete (docs/api.md, "Backup").
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "env_registry.h"

namespace lmdbtxn {

// Name of the file a backup writes before it is complete. Fixed (not random)
// so a second backup into the same directory finds the first one's lock, and
// the CLI can watch it grow.
constexpr const char* kBackupPartialName = "data.mdb.partial";

// Queues the copy and returns its Promise. `entry` is retained until the copy
// ends, so closing (or collecting) the store does not close the environment
// under it. `dest` is an existing directory (lib/ creates and checks it).
Napi::Promise StartBackup(Napi::Env env, std::shared_ptr<EnvEntry> entry, std::string dest, bool compact);

}  // namespace lmdbtxn
