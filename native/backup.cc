#include "backup.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include "errors.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

namespace lmdbtxn {

namespace {

// Every failure of a backup, decided on the pool thread and turned into a JS
// error on the JS thread.
struct Failure {
  enum Kind { None, Target, Io } kind = None;
  std::string reason;  // Target: exists | busy | not-writable
  std::string what;    // the message (Target) or the step that failed (Io)
  int err = 0;         // errno or LMDB code; 0 when none applies
};

// The partial file's descriptor: closed on every path, and the file unlinked
// unless it was renamed into place (a crash leaves only data.mdb.partial,
// never a data.mdb that looks complete).
class PartialFile {
 public:
  explicit PartialFile(std::string path) : path_(std::move(path)) {}
  ~PartialFile() {
    if (fd_ < 0) return;
    if (owned_) ::unlink(path_.c_str());
    ::close(fd_);
  }
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;

  // Opens or creates the file and takes its flock (another backup into the
  // same directory, in any process, holds it while it runs). A stale file of
  // a backup that died holds no lock and is reused. 0 or an errno; EWOULDBLOCK
  // when another backup holds it.
  int OpenLocked() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd_ < 0) return errno;
      if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        ::close(fd_);
        fd_ = -1;
        return e;
      }
      // The lock holder before us may have unlinked the path after we opened
      // it: only a lock on the inode the path names now counts.
      struct stat byFd, byPath;
      if (::fstat(fd_, &byFd) == 0 && ::stat(path_.c_str(), &byPath) == 0 && byFd.st_dev == byPath.st_dev &&
          byFd.st_ino == byPath.st_ino) {
        owned_ = true;
        return 0;
      }
      ::close(fd_);
      fd_ = -1;
    }
    return EAGAIN;
  }

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // Renamed into place: the name is no longer ours to unlink. The fd (and
  // its lock) stays open until the destructor, so no second backup can
  // truncate the file before the rename.
  void Disown() { owned_ = false; }

 private:
  std::string path_;
  int fd_ = -1;
  bool owned_ = false;
};

// rename(2) that never replaces an existing data.mdb (renameat2 NOREPLACE,
// or link+unlink where the file system lacks it). 0, EEXIST or an errno.
int RenameNoReplace(const std::string& from, const std::string& to) {
  if (::syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (::link(from.c_str(), to.c_str()) != 0) return errno;
  ::unlink(from.c_str());
  return 0;
}

// The rename is durable only once the directory entry is.
int SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

class BackupWorker : public Napi::AsyncWorker {
 public:
  BackupWorker(Napi::Env env, std::shared_ptr<EnvEntry> entry, std::string dest, bool compact)
      : Napi::AsyncWorker(env, "lmdb-txn:backup"),
        deferred_(Napi::Promise::Deferred::New(env)),
        entry_(std::move(entry)),
        dest_(std::move(dest)),
        compact_(compact) {
    entry_->Retain();
  }
  ~BackupWorker() override { ReleaseEnv(); }

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      Copy();
    } catch (const std::bad_alloc&) {
      failure_ = Failure{Failure::Io, "", "backup", ENOMEM};
    }
    ReleaseEnv();  // the copy is over: the environment may close now
  }

  void OnOK() override {
    Napi::Env env = Env();
    const std::string& dest = dest_;
    switch (failure_.kind) {
      case Failure::Target:
        deferred_.Reject(MakeBackupTargetError(env, failure_.reason, failure_.what, failure_.err));
        return;
      case Failure::Io:
        deferred_.Reject(MakeLmdbError(env, failure_.err, "backup to " + dest + ": " + failure_.what));
        return;
      case Failure::None:
        break;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("path", dest + "/data.mdb");
    result.Set("bytes", static_cast<double>(bytes_));
    result.Set("compact", compact_);
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  void Target(const char* reason, const std::string& message, int err) {
    failure_ = Failure{Failure::Target, reason, message, err};
  }
  void Io(const char* step, int err) { failure_ = Failure{Failure::Io, "", step, err}; }

  void Copy() {
    const std::string finalPath = dest_ + "/data.mdb";
    struct stat st;
    if (::lstat(finalPath.c_str(), &st) == 0) return Target("exists", dest_ + " already holds a data.mdb", 0);
    if (errno != ENOENT) return Target("not-writable", "cannot inspect " + finalPath, errno);
    PartialFile partial(dest_ + "/" + kBackupPartialName);
    int rc = partial.OpenLocked();
    if (rc == EWOULDBLOCK) return Target("busy", "another backup is writing into " + dest_, 0);
    if (rc != 0) return Target("not-writable", "cannot create " + partial.path(), rc);
    if (::ftruncate(partial.fd(), 0) != 0) return Io("truncating data.mdb.partial", errno);
    rc = entry_->CopyTo(partial.fd(), compact_ ? MDB_CP_COMPACT : 0);
    if (rc != MDB_SUCCESS) return Io(compact_ ? "mdb_env_copyfd2 (compact)" : "mdb_env_copyfd2", rc);
    if (::fstat(partial.fd(), &st) != 0) return Io("fstat", errno);
    bytes_ = static_cast<uint64_t>(st.st_size);
    if (::fsync(partial.fd()) != 0) return Io("fsync", errno);
    rc = RenameNoReplace(partial.path(), finalPath);
    if (rc == EEXIST) return Target("exists", dest_ + " got a data.mdb while the backup ran", 0);
    if (rc != 0) return Io("rename to data.mdb", rc);
    partial.Disown();
    rc = SyncDirectory(dest_);
    if (rc != 0) return Io("fsync of the directory", rc);
  }

  void ReleaseEnv() {
    if (!entry_) return;
    entry_->Release();
    entry_.reset();
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<EnvEntry> entry_;
  const std::string dest_;
  const bool compact_;
  uint64_t bytes_ = 0;
  Failure failure_;
};

}  // namespace

Napi::Promise StartBackup(Napi::Env env, std::shared_ptr<EnvEntry> entry, std::string dest, bool compact) {
  auto* worker = new BackupWorker(env, std::move(entry), std::move(dest), compact);
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // owned by the async work from here; deletes itself after OnOK
  return promise;
}

}  // namespace lmdbtxn
