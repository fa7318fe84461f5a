#include "group_ops.h"

#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unistd.h>

#include "change_log.h"
#include "entries.h"
#include "path.h"

namespace lmdbtxn {

namespace {

uint32_t ReadU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// Crash-test hook (test/crash): LMDB_TXN_CRASH_APPLY_AT=N ends the process
// with status 86 (like the syscall shim) just before the N-th op applied by
// this process, so a kill lands inside the apply step. Read once.
long CrashAt() {
  static const long at = [] {
    const char* v = std::getenv("LMDB_TXN_CRASH_APPLY_AT");
    return v ? std::strtol(v, nullptr, 10) : 0L;
  }();
  return at;
}
long applied = 0;  // ops applied so far (only counted when the hook is armed)

}  // namespace

int ApplyGroupOps(MDB_txn* txn, MDB_dbi dbi, const uint8_t* ops, size_t from, size_t to) {
  const long crashAt = CrashAt();
  size_t at = from;
  ReadContext ctx{Napi::Env(nullptr), txn, dbi, 0};  // RemoveEntries needs no JS env
  while (at < to) {
    if (crashAt > 0 && ++applied >= crashAt) _exit(86);
    if (to - at < 5) return MDB_CORRUPTED;
    uint8_t kind = ops[at];
    uint32_t pathLen = ReadU32(ops + at + 1);
    at += 5;
    if (pathLen == 0 || pathLen > kMaxKeySize || to - at < pathLen) return MDB_CORRUPTED;
    MDB_val key{pathLen, const_cast<uint8_t*>(ops + at)};
    at += pathLen;
    int rc;
    switch (kind) {
      case kOpWrite:
      case kOpLink: {
        if (to - at < 4) return MDB_CORRUPTED;
        uint32_t len = ReadU32(ops + at);
        at += 4;
        if (to - at < len) return MDB_CORRUPTED;
        MDB_val v{1 + static_cast<size_t>(len), nullptr};
        rc = mdb_put(txn, dbi, &key, &v, MDB_RESERVE);
        if (rc != MDB_SUCCESS) return rc;
        uint8_t* dst = static_cast<uint8_t*>(v.mv_data);  // filled before any other LMDB call
        dst[0] = kind == kOpWrite ? kSimple : kLink;
        if (len) std::memcpy(dst + 1, ops + at, len);
        at += len;
        break;
      }
      case kOpGroup: {
        uint8_t tag = kGroup;
        MDB_val v{1, &tag};
        rc = mdb_put(txn, dbi, &key, &v, 0);
        if (rc != MDB_SUCCESS) return rc;
        break;
      }
      case kOpRemove:
      case kOpRemoveRecursive: {
        bool existed = false;
        rc = RemoveEntries(ctx, std::string_view(static_cast<const char*>(key.mv_data), pathLen),
                           kind == kOpRemoveRecursive, &existed);
        if (rc != MDB_SUCCESS) return rc;
        break;
      }
      default:
        return MDB_CORRUPTED;
    }
  }
  return MDB_SUCCESS;
}

}  // namespace lmdbtxn
