#include "env_registry.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <utility>

#include "errors.h"
#include "read_start.h"

namespace lmdbtxn {

namespace {

std::mutex registryMutex;
std::map<std::pair<uint64_t, uint64_t>, std::shared_ptr<EnvEntry>> registry;

constexpr const char* kDataDb = "data";
constexpr const char* kMetaDb = "meta";
constexpr const char* kVersionKey = "format-version";
constexpr const char* kChangesDb = "changes";
constexpr const char* kSyncDb = "sync";
constexpr const char* kStoreIdKey = "store-id";
constexpr const char* kChangeLogKey = "change-log";

MDB_val MetaKey(const char* name) { return MDB_val{std::strlen(name), const_cast<char*>(name)}; }

std::string Hex(const unsigned char* b, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[b[i] >> 4]);
    out.push_back(digits[b[i] & 15]);
  }
  return out;
}

void RandomBytes(unsigned char* out, size_t n) {
  std::random_device rd;  // /dev/urandom on Linux
  for (size_t i = 0; i < n; i += 4) {
    uint32_t r = rd();
    for (size_t j = 0; j < 4 && i + j < n; ++j) out[i + j] = static_cast<unsigned char>(r >> (8 * j));
  }
}

// Growth starts before the map is full so most writes never see MDB_MAP_FULL.
constexpr double kGrowAt = 0.75;

}  // namespace

std::shared_ptr<EnvEntry> EnvEntry::Acquire(Napi::Env env, const EnvOptions& options) {
  struct stat st;
  if (::stat(options.path.c_str(), &st) != 0) {
    ThrowLmdb(env, errno, "open " + options.path);
  }
  if (!S_ISDIR(st.st_mode)) ThrowLmdb(env, ENOTDIR, "open " + options.path);
  auto key = std::make_pair(static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino));

  std::unique_lock<std::mutex> lock(registryMutex);
  auto it = registry.find(key);
  if (it != registry.end()) {
    std::shared_ptr<EnvEntry> entry = it->second;
    if (entry->readOnly_ && !options.readOnly) {
      Throw(env, ErrorKind::ReadOnly,
            "'" + options.path + "' is already open read-only in this process; close those "
            "stores before opening it for writing");
    }
    // Clear reader slots of processes that died since (cheap; LMDB only
    // does it on the first open of an environment otherwise).
    int dead = 0;
    mdb_reader_check(entry->env_, &dead);
    entry->openCount_++;
    if (options.changeLog && !entry->readOnly_) {
      lock.unlock();  // it may wait for LMDB's writer lock
      try {
        entry->EnableChangeLog(env);
      } catch (...) {
        entry->Release();
        throw;
      }
    }
    return entry;
  }
  auto entry = std::make_shared<EnvEntry>();
  entry->key_[0] = key.first;
  entry->key_[1] = key.second;
  entry->OpenOrThrow(env, options);  // on throw, entry's destructor path below frees env_
  entry->openCount_ = 1;
  registry.emplace(key, entry);
  return entry;
}

void EnvEntry::OpenOrThrow(Napi::Env env, const EnvOptions& options) {
  path_ = options.path;
  readOnly_ = options.readOnly;
  maxMapSize_ = options.maxMapSize;
  int rc = mdb_env_create(&env_);
  if (rc != MDB_SUCCESS) {
    env_ = nullptr;
    ThrowLmdb(env, rc, "mdb_env_create");
  }
  try {
    Check(env, mdb_env_set_maxdbs(env_, 8), "mdb_env_set_maxdbs");
    Check(env, mdb_env_set_mapsize(env_, options.mapSize), "mdb_env_set_mapsize");
    Check(env, mdb_env_set_maxreaders(env_, options.maxReaders), "mdb_env_set_maxreaders");
    // MDB_NOTLS: reader slots belong to txn objects, not threads, so a
    // snapshot, the store's read txn and a write txn can coexist on a thread.
    unsigned flags = MDB_NOTLS | (readOnly_ ? MDB_RDONLY : 0);
    rc = mdb_env_open(env_, path_.c_str(), flags, 0664);
    if (rc == ENOENT && readOnly_) {
      ThrowLmdb(env, rc, "mdb_env_open " + path_ + " (no store here; open it writable once to create it)");
    }
    if (rc != MDB_SUCCESS) ThrowLmdb(env, rc, "mdb_env_open " + path_);
    int dead = 0;
    Check(env, mdb_reader_check(env_, &dead), "mdb_reader_check");
    MDB_stat ms;
    Check(env, mdb_env_stat(env_, &ms), "mdb_env_stat");
    pageSize_ = ms.ms_psize;
    // A data file shorter than its meta page claims (truncated by a copy or a
    // bad disk) would SIGBUS at the first read through the map: refuse it.
    MDB_envinfo info;
    mdb_filehandle_t fd;
    struct stat fileStat;
    Check(env, mdb_env_info(env_, &info), "mdb_env_info");
    Check(env, mdb_env_get_fd(env_, &fd), "mdb_env_get_fd");
    if (fstat(fd, &fileStat) == 0 &&
        static_cast<uint64_t>(fileStat.st_size) < (static_cast<uint64_t>(info.me_last_pgno) + 1) * pageSize_) {
      ThrowLmdb(env, MDB_CORRUPTED,
                "open " + path_ + ": data.mdb has " + std::to_string(fileStat.st_size) +
                    " bytes but its meta page needs " +
                    std::to_string((static_cast<uint64_t>(info.me_last_pgno) + 1) * pageSize_) +
                    " (truncated file)");
    }
    // A store opened with a mapSize above the ceiling keeps its size.
    if (maxMapSize_ < MapSize()) maxMapSize_ = MapSize();
    CheckFormat(env);
    OpenAux(env, options.changeLog);
  } catch (...) {
    mdb_env_close(env_);
    env_ = nullptr;
    throw;
  }
}

// The `meta` database marks an lmdb-txn store and carries its format version.
// A fresh (empty) environment is initialised; anything else is refused rather
// than written into.
void EnvEntry::CheckFormat(Napi::Env env) {
  MDB_txn* txn = nullptr;
  Check(env, mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
  int rc = mdb_dbi_open(txn, kMetaDb, 0, &metaDbi_);
  if (rc == MDB_SUCCESS) {
    MDB_val k{std::strlen(kVersionKey), const_cast<char*>(kVersionKey)}, v;
    rc = mdb_get(txn, metaDbi_, &k, &v);
    uint32_t version = 0;
    if (rc == MDB_SUCCESS && v.mv_size == sizeof(version)) std::memcpy(&version, v.mv_data, 4);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
      mdb_txn_abort(txn);
      ThrowLmdb(env, rc, "mdb_get format-version");
    }
    if (version != kFormatVersion) {
      mdb_txn_abort(txn);
      Throw(env, ErrorKind::Format,
            "'" + path_ + "' has store format version " + std::to_string(version) +
                "; this lmdb-txn reads version " + std::to_string(kFormatVersion));
    }
    rc = mdb_dbi_open(txn, kDataDb, 0, &dataDbi_);
    if (rc != MDB_SUCCESS) {
      mdb_txn_abort(txn);
      if (rc == MDB_NOTFOUND) Throw(env, ErrorKind::Format, "'" + path_ + "' has no data database");
      ThrowLmdb(env, rc, "mdb_dbi_open data");
    }
    rc = mdb_txn_commit(txn);  // keeps the dbi handles open for the env
    Check(env, rc, "mdb_txn_commit");
    return;
  }
  if (rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    ThrowLmdb(env, rc, "mdb_dbi_open meta");
  }
  MDB_stat main;
  MDB_dbi mainDbi = 0;
  rc = mdb_dbi_open(txn, nullptr, 0, &mainDbi);
  if (rc == MDB_SUCCESS) rc = mdb_stat(txn, mainDbi, &main);
  mdb_txn_abort(txn);
  Check(env, rc, "mdb_stat");
  if (main.ms_entries != 0) {
    Throw(env, ErrorKind::Format,
          "'" + path_ + "' holds an LMDB environment that is not an lmdb-txn store");
  }
  if (readOnly_) {
    Throw(env, ErrorKind::Format,
          "'" + path_ + "' is not an lmdb-txn store yet; open it writable once to create it");
  }
  // Another process may initialise it between our read and write txns: the
  // write txn re-checks under the writer lock by using MDB_CREATE throughout.
  Check(env, mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
  try {
    Check(env, mdb_dbi_open(txn, kMetaDb, MDB_CREATE, &metaDbi_), "mdb_dbi_open meta");
    Check(env, mdb_dbi_open(txn, kDataDb, MDB_CREATE, &dataDbi_), "mdb_dbi_open data");
    uint32_t version = kFormatVersion;
    MDB_val k{std::strlen(kVersionKey), const_cast<char*>(kVersionKey)};
    MDB_val v{sizeof(version), &version};
    Check(env, mdb_put(txn, metaDbi_, &k, &v, 0), "mdb_put format-version");
  } catch (...) {
    mdb_txn_abort(txn);
    throw;
  }
  Check(env, mdb_txn_commit(txn), "mdb_txn_commit");
}

void EnvEntry::OpenAux(Napi::Env env, bool enableLog) {
  MDB_txn* txn = nullptr;
  Check(env, mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
  int rc = mdb_dbi_open(txn, kChangesDb, 0, &changesDbi_);
  if (rc == MDB_SUCCESS) rc = mdb_dbi_open(txn, kSyncDb, 0, &syncDbi_);
  MDB_val k = MetaKey(kStoreIdKey), v;
  if (rc == MDB_SUCCESS) rc = mdb_get(txn, metaDbi_, &k, &v);
  if (rc == MDB_SUCCESS && v.mv_size == 16) storeId_ = Hex(static_cast<unsigned char*>(v.mv_data), 16);
  bool logOn = rc == MDB_SUCCESS && ChangeLogOn(txn);
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    ThrowLmdb(env, rc, "open the change log");
  }
  Check(env, mdb_txn_commit(txn), "mdb_txn_commit");  // keeps the dbi handles
  if (rc == MDB_SUCCESS && (logOn || !enableLog)) return;
  if (readOnly_) {
    changesDbi_ = syncDbi_ = 0;  // an older store: no log until a writable open
    return;
  }
  // Created under the writer lock; another process may have won the race,
  // so every step is idempotent.
  Check(env, mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
  try {
    Check(env, mdb_dbi_open(txn, kChangesDb, MDB_CREATE, &changesDbi_), "mdb_dbi_open changes");
    Check(env, mdb_dbi_open(txn, kSyncDb, MDB_CREATE, &syncDbi_), "mdb_dbi_open sync");
    rc = mdb_get(txn, metaDbi_, &k, &v);
    if (rc == MDB_NOTFOUND) {
      unsigned char id[16];
      RandomBytes(id, sizeof id);
      MDB_val idv{sizeof id, id};
      Check(env, mdb_put(txn, metaDbi_, &k, &idv, 0), "mdb_put store-id");
      storeId_ = Hex(id, 16);
    } else {
      Check(env, rc, "mdb_get store-id");
      storeId_ = Hex(static_cast<unsigned char*>(v.mv_data), v.mv_size);
    }
    if (enableLog) {
      unsigned char on = 1;
      MDB_val lk = MetaKey(kChangeLogKey), lv{1, &on};
      Check(env, mdb_put(txn, metaDbi_, &lk, &lv, 0), "mdb_put change-log");
    }
  } catch (...) {
    mdb_txn_abort(txn);
    changesDbi_ = syncDbi_ = 0;
    throw;
  }
  Check(env, mdb_txn_commit(txn), "mdb_txn_commit");
}

void EnvEntry::EnableChangeLog(Napi::Env env) {
  MDB_txn* txn = nullptr;
  Check(env, mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
  bool on = ChangeLogOn(txn);
  mdb_txn_abort(txn);
  if (on) return;
  if (writer.load() == std::this_thread::get_id()) {
    Throw(env, ErrorKind::TransactionBusy,
          "turning the change log on needs the write lock, which a transaction of this thread holds");
  }
  Check(env, BeginTxn(0, &txn), "mdb_txn_begin");
  unsigned char one = 1;
  MDB_val lk = MetaKey(kChangeLogKey), lv{1, &one};
  int rc = mdb_put(txn, metaDbi_, &lk, &lv, 0);
  if (rc == MDB_SUCCESS) {
    rc = mdb_txn_commit(txn);
  } else {
    mdb_txn_abort(txn);
  }
  EndTxn();
  Check(env, rc, "turn the change log on");
}

bool EnvEntry::ChangeLogOn(MDB_txn* txn) const {
  if (changesDbi_ == 0) return false;
  MDB_val k = MetaKey(kChangeLogKey), v;
  int rc = mdb_get(txn, metaDbi_, &k, &v);
  // A failed lookup records anyway: a record too many is harmless, one missing is not.
  return rc != MDB_NOTFOUND;
}

void EnvEntry::Retain() {
  std::lock_guard<std::mutex> lock(registryMutex);
  openCount_++;
}

void EnvEntry::Release() {
  std::lock_guard<std::mutex> lock(registryMutex);
  if (--openCount_ > 0) return;
  registry.erase(std::make_pair(key_[0], key_[1]));
  if (env_ != nullptr) {
    mdb_env_close(env_);
    env_ = nullptr;
  }
}

// mdb_env_info reads the meta pages through the map: never while another
// thread remaps it in mdb_env_set_mapsize (GrowLocked/AdoptMapSize hold mu_).
int EnvEntry::Info(MDB_envinfo* out) {
  std::lock_guard<std::mutex> lock(mu_);
  return mdb_env_info(env_, out);
}

uint64_t EnvEntry::MapSizeLocked() {
  MDB_envinfo info;
  if (mdb_env_info(env_, &info) != MDB_SUCCESS) return 0;
  return info.me_mapsize;
}

uint64_t EnvEntry::MapSize() {
  MDB_envinfo info;
  if (Info(&info) != MDB_SUCCESS) return 0;
  return info.me_mapsize;
}

uint64_t EnvEntry::UsedBytes() {
  MDB_envinfo info;
  if (Info(&info) != MDB_SUCCESS) return 0;
  return (static_cast<uint64_t>(info.me_last_pgno) + 1) * pageSize_;
}

namespace {
// Root txns (of any env) this thread holds: a thread that holds one must not
// wait for the process to drain, it would wait for itself.
thread_local int heldByThisThread = 0;
constexpr auto kGrowDrainWait = std::chrono::milliseconds(200);
// Adopting another process's size cannot be postponed (nothing can be read
// before it): wait longer for this process's txns to end.
constexpr auto kAdoptDrainWait = std::chrono::seconds(10);
constexpr int kAdoptAttempts = 8;
}  // namespace

void EnvEntry::EnterTxnLocked(std::unique_lock<std::mutex>& lock) {
  // A growth is draining the process: let it remap before we pin the map.
  if (heldByThisThread == 0) cv_.wait(lock, [&] { return draining_ == 0; });
  active_++;
  heldByThisThread++;
}

int EnvEntry::BeginTxn(unsigned flags, MDB_txn** out) {
  for (int attempt = 0;; ++attempt) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      EnterTxnLocked(lock);
    }
    int rc = mdb_txn_begin(env_, nullptr, flags, out);
    // Settled while the txn counts as active: no remap races mdb_env_info.
    if (rc == MDB_SUCCESS && (flags & MDB_RDONLY) != 0) {
      rc = SettleReadTxn(env_, *out);
      if (rc != MDB_SUCCESS) {
        mdb_txn_abort(*out);
        *out = nullptr;
      }
    }
    if (rc == MDB_SUCCESS) return rc;
    EndTxn();
    // Another process grew the map: adopt its size, invisibly, and retry.
    if (rc != MDB_MAP_RESIZED || attempt >= kAdoptAttempts || AdoptMapSize() != MDB_SUCCESS) return rc;
  }
}

int EnvEntry::RenewTxn(MDB_txn* txn) {
  for (int attempt = 0;; ++attempt) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      EnterTxnLocked(lock);
    }
    int rc = mdb_txn_renew(txn);
    if (rc == MDB_SUCCESS) rc = SettleReadTxn(env_, txn);
    if (rc == MDB_SUCCESS) return rc;
    EndTxn();
    if (rc != MDB_MAP_RESIZED || attempt >= kAdoptAttempts || AdoptMapSize() != MDB_SUCCESS) return rc;
  }
}

int EnvEntry::CopyTo(int fd, unsigned flags) {
  for (int attempt = 0;; ++attempt) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      EnterTxnLocked(lock);
    }
    int rc = mdb_env_copyfd2(env_, fd, flags);
    EndTxn();
    if (rc != MDB_MAP_RESIZED || attempt >= kAdoptAttempts || AdoptMapSize() != MDB_SUCCESS) return rc;
    if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) < 0) return errno;
  }
}

void EnvEntry::EndTxn() {
  std::lock_guard<std::mutex> lock(mu_);
  active_--;
  heldByThisThread--;
  if (active_ == 0) cv_.notify_all();
}

int EnvEntry::AdoptMapSize() {
  std::unique_lock<std::mutex> lock(mu_);
  if (active_ != 0) {
    if (heldByThisThread != 0) return MDB_MAP_RESIZED;  // this thread pins the old map itself
    draining_++;
    cv_.wait_for(lock, kAdoptDrainWait, [&] { return active_ == 0; });
    draining_--;
    cv_.notify_all();
    if (active_ != 0) return MDB_MAP_RESIZED;
  }
  return mdb_env_set_mapsize(env_, 0);
}

bool EnvEntry::AtCeiling() { return MapSize() >= maxMapSize_; }

EnvEntry::Growth EnvEntry::Grow() {
  std::unique_lock<std::mutex> lock(mu_);
  if (active_ != 0 && heldByThisThread == 0 && draining_ == 0 && MapSizeLocked() < maxMapSize_) {
    // Other threads' reads and snapshots are usually short: stop new ones
    // from starting and give the current ones a moment to end.
    draining_++;
    cv_.wait_for(lock, kGrowDrainWait, [&] { return active_ == 0; });
    draining_--;
    cv_.notify_all();
  }
  bool grown = GrowLocked();
  return Growth{grown, grown || MapSizeLocked() < maxMapSize_};
}

int EnvEntry::ApplyDurability(unsigned flags) {
  constexpr unsigned kSyncFlags = MDB_NOSYNC | MDB_NOMETASYNC;
  unsigned current = 0;
  int rc = mdb_env_get_flags(env_, &current);
  if (rc != MDB_SUCCESS || (current & kSyncFlags) == flags) return rc;
  rc = mdb_env_set_flags(env_, kSyncFlags & ~flags, 0);
  if (rc == MDB_SUCCESS && flags != 0) rc = mdb_env_set_flags(env_, flags, 1);
  return rc;
}

bool EnvEntry::GrowLocked() {
  uint64_t current = MapSizeLocked();
  if (current >= maxMapSize_) {
    growPending_ = false;
    return false;
  }
  if (active_ != 0) {
    growPending_ = true;
    return false;
  }
  uint64_t next = current * 2 < maxMapSize_ ? current * 2 : maxMapSize_;
  if (mdb_env_set_mapsize(env_, next) != MDB_SUCCESS) return false;
  growPending_ = false;
  return MapSizeLocked() > current;
}

void EnvEntry::GrowIfNeeded() {
  std::lock_guard<std::mutex> lock(mu_);
  if (active_ != 0) return;
  MDB_envinfo info;
  if (mdb_env_info(env_, &info) != MDB_SUCCESS) return;
  uint64_t used = (static_cast<uint64_t>(info.me_last_pgno) + 1) * pageSize_;
  if (growPending_ || used >= kGrowAt * static_cast<double>(info.me_mapsize)) GrowLocked();
}

}  // namespace lmdbtxn
