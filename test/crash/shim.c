/*
 * crash-shim: an LD_PRELOAD library for the lmdb-txn crash suite.
 *
 * It watches the calls that make LMDB's data file durable -- write, pwrite,
 * writev, pwritev (and their 64 variants), fdatasync, fsync and msync -- on
 * file descriptors (or mappings) whose file is named CRASH_SHIM_FILE
 * (default "data.mdb"), optionally only in directory CRASH_SHIM_DIR.
 * The addon links LMDB statically but reaches libc through the PLT, so these
 * definitions interpose LMDB's own calls.
 *
 * Events are counted only while the shim is ARMED. A process arms it by
 * writing "arm" to any file whose basename is "crash-shim.ctl" (e.g. with
 * fs.writeFileSync), or from the start with CRASH_SHIM_ARMED=1; "disarm"
 * stops counting, "reset" zeroes the counter.
 *
 * Environment:
 *   CRASH_SHIM_MODE    count | exit | fail            (default count)
 *   CRASH_SHIM_AT      N: the N-th counted event (1-based) triggers
 *   CRASH_SHIM_WHEN    before | after  (exit mode: _exit before or after
 *                      performing the N-th call)
 *   CRASH_SHIM_KINDS   write,sync (which calls count; default both)
 *   CRASH_SHIM_ERRNO   EIO | ENOSPC | EDQUOT | SHORT (fail mode; SHORT makes
 *                      a write transfer half its bytes and return that count)
 *   CRASH_SHIM_STICKY  1: in fail mode every event from the N-th on fails
 *                      (a disk that stays full) until "disarm"
 *   CRASH_SHIM_FAIL_AFTER 1: in fail mode the failing call is performed
 *                      first and then reports the error (the data reached
 *                      the page cache, the device then failed: what the
 *                      kernel does for a failed O_DSYNC write or fsync)
 *   CRASH_SHIM_EXIT_CODE  status of the simulated crash (default 86)
 *   CRASH_SHIM_TRACE   file: one line per counted event,
 *                      "<n> <kind> <fd> <offset> <length>\n", kind W = write,
 *                      M = write on an O_DSYNC descriptor (LMDB's meta-page
 *                      fd), S = fdatasync/fsync, Y = msync;
 *                      "<n> X <action>" marks the injected fault or crash
 *   CRASH_SHIM_JOURNAL file: binary journal of EVERY write and completed
 *                      sync of the data file (armed or not), for the
 *                      power-loss reconstruction in powerloss.cjs.
 *                      Record = 32-byte header {u8 kind, u8 flags, u16 0,
 *                      u32 len, u64 seq, i64 off, i64 aux} + len data bytes.
 *                      kind 'W': a write is about to be issued (off, data;
 *                      flags bit 0 = O_DSYNC descriptor); 'R': write seq
 *                      returned aux bytes (negative = failed); 'S': a
 *                      sync of the file returned success; 'T': ftruncate to
 *                      off returned aux.
 *
 * The shim's own I/O uses raw syscalls, never the interposed functions.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { FD_UNKNOWN = 0, FD_OTHER, FD_DATA, FD_DATA_DSYNC, FD_CONTROL };
enum { MODE_COUNT = 0, MODE_EXIT, MODE_FAIL };
enum { ACT_NONE = 0, ACT_FAIL, ACT_SHORT, ACT_EXIT_AFTER, ACT_FAIL_AFTER };
#define MAX_FD 65536
#define KIND_WRITE 1
#define KIND_SYNC 2

static unsigned char fd_class_cache[MAX_FD];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static char target_name[256] = "data.mdb";
static char target_dir[4096];
static int mode = MODE_COUNT;
static long at_event = 0;
static int exit_after = 0;
static int kinds = KIND_WRITE | KIND_SYNC;
static int fail_errno = EIO; /* 0 = SHORT */
static int sticky = 0;
static int fail_after = 0;
static int exit_code = 86;
static int armed = 0;
static long counter = 0;
static int trace_fd = -1;
static int journal_fd = -1;
static uint64_t journal_seq = 0;

struct jrec {
  uint8_t kind;
  uint8_t flags;
  uint16_t zero;
  uint32_t len;
  uint64_t seq;
  int64_t off;
  int64_t aux;
};

/* ---- raw helpers ------------------------------------------------------- */

static void raw_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    long n = syscall(SYS_write, fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    len -= (size_t)n;
  }
}

static int raw_open(const char *path, int flags, int mode_) {
  return (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, mode_);
}

static void die_now(void) { syscall(SYS_exit_group, exit_code); }

#define REAL(name, ret, args)                                   \
  static ret(*real_##name) args;                                \
  static ret(*get_##name(void)) args {                          \
    if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name);    \
    return real_##name;                                         \
  }

REAL(write, ssize_t, (int, const void *, size_t))
REAL(pwrite, ssize_t, (int, const void *, size_t, off_t))
REAL(pwrite64, ssize_t, (int, const void *, size_t, off_t))
REAL(writev, ssize_t, (int, const struct iovec *, int))
REAL(pwritev, ssize_t, (int, const struct iovec *, int, off_t))
REAL(pwritev64, ssize_t, (int, const struct iovec *, int, off_t))
REAL(fdatasync, int, (int))
REAL(fsync, int, (int))
REAL(msync, int, (void *, size_t, int))
REAL(close, int, (int))
REAL(open, int, (const char *, int, ...))
REAL(open64, int, (const char *, int, ...))
REAL(openat, int, (int, const char *, int, ...))
REAL(openat64, int, (int, const char *, int, ...))
REAL(ftruncate, int, (int, off_t))
REAL(ftruncate64, int, (int, off_t))

/* ---- configuration ----------------------------------------------------- */

__attribute__((constructor)) static void shim_init(void) {
  const char *v;
  if ((v = getenv("CRASH_SHIM_FILE")) && *v) snprintf(target_name, sizeof target_name, "%s", v);
  if ((v = getenv("CRASH_SHIM_DIR")) && *v) {
    snprintf(target_dir, sizeof target_dir, "%s", v);
    size_t n = strlen(target_dir);
    while (n > 1 && target_dir[n - 1] == '/') target_dir[--n] = 0;
  }
  if ((v = getenv("CRASH_SHIM_MODE"))) {
    if (!strcmp(v, "exit")) mode = MODE_EXIT;
    else if (!strcmp(v, "fail")) mode = MODE_FAIL;
  }
  if ((v = getenv("CRASH_SHIM_AT"))) at_event = strtol(v, NULL, 10);
  if ((v = getenv("CRASH_SHIM_WHEN"))) exit_after = !strcmp(v, "after");
  if ((v = getenv("CRASH_SHIM_KINDS")) && *v) {
    kinds = 0;
    if (strstr(v, "write")) kinds |= KIND_WRITE;
    if (strstr(v, "sync")) kinds |= KIND_SYNC;
  }
  if ((v = getenv("CRASH_SHIM_ERRNO"))) {
    if (!strcmp(v, "ENOSPC")) fail_errno = ENOSPC;
    else if (!strcmp(v, "EDQUOT")) fail_errno = EDQUOT;
    else if (!strcmp(v, "SHORT")) fail_errno = 0;
    else fail_errno = EIO;
  }
  if ((v = getenv("CRASH_SHIM_STICKY"))) sticky = !strcmp(v, "1");
  if ((v = getenv("CRASH_SHIM_FAIL_AFTER"))) fail_after = !strcmp(v, "1");
  if ((v = getenv("CRASH_SHIM_EXIT_CODE"))) exit_code = (int)strtol(v, NULL, 10);
  if ((v = getenv("CRASH_SHIM_ARMED"))) armed = !strcmp(v, "1");
  if ((v = getenv("CRASH_SHIM_TRACE")) && *v) trace_fd = raw_open(v, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if ((v = getenv("CRASH_SHIM_JOURNAL")) && *v) journal_fd = raw_open(v, O_WRONLY | O_CREAT | O_APPEND, 0644);
}

/* ---- descriptor classification ----------------------------------------- */

static int path_is_target(const char *p) {
  const char *slash = strrchr(p, '/');
  const char *base = slash ? slash + 1 : p;
  if (strcmp(base, target_name) != 0) return 0;
  if (!target_dir[0]) return 1;
  size_t dlen = slash ? (size_t)(slash - p) : 0;
  return dlen == strlen(target_dir) && !strncmp(p, target_dir, dlen);
}

static int classify(int fd) {
  if (fd < 0 || fd >= MAX_FD) return FD_OTHER;
  int c = __atomic_load_n(&fd_class_cache[fd], __ATOMIC_ACQUIRE);
  if (c != FD_UNKNOWN) return c;
  char link[64], buf[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  long n = syscall(SYS_readlinkat, AT_FDCWD, link, buf, sizeof buf - 1);
  if (n < 0) return FD_OTHER;
  buf[n] = 0;
  const char *slash = strrchr(buf, '/');
  const char *base = slash ? slash + 1 : buf;
  if (!strcmp(base, "crash-shim.ctl")) {
    c = FD_CONTROL;
  } else if (path_is_target(buf)) {
    long fl = syscall(SYS_fcntl, fd, F_GETFL);
    c = (fl >= 0 && (fl & O_DSYNC)) ? FD_DATA_DSYNC : FD_DATA;
  } else {
    c = FD_OTHER;
  }
  __atomic_store_n(&fd_class_cache[fd], (unsigned char)c, __ATOMIC_RELEASE);
  return c;
}

static void forget_fd(int fd) {
  if (fd >= 0 && fd < MAX_FD) __atomic_store_n(&fd_class_cache[fd], FD_UNKNOWN, __ATOMIC_RELEASE);
}

/* Whether [addr, addr+len) lies in a mapping of the target file. */
static int addr_is_target(const void *addr) {
  int fd = raw_open("/proc/self/maps", O_RDONLY, 0);
  if (fd < 0) return 0;
  char buf[8192];
  char line[4608];
  size_t ll = 0;
  int found = 0;
  uintptr_t a = (uintptr_t)addr;
  for (;;) {
    long n = syscall(SYS_read, fd, buf, sizeof buf);
    if (n <= 0) break;
    for (long i = 0; i < n && !found; i++) {
      char ch = buf[i];
      if (ch != '\n') {
        if (ll < sizeof line - 1) line[ll++] = ch;
        continue;
      }
      line[ll] = 0;
      ll = 0;
      unsigned long lo = 0, hi = 0;
      if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || a < lo || a >= hi) continue;
      char *path = strchr(line, '/');
      found = path && path_is_target(path) ? 1 : -1;
    }
    if (found) break;
  }
  syscall(SYS_close, fd);
  return found == 1;
}

/* ---- control ----------------------------------------------------------- */

static void control(const void *buf, size_t len) {
  char cmd[32];
  size_t n = len < sizeof cmd - 1 ? len : sizeof cmd - 1;
  memcpy(cmd, buf, n);
  cmd[n] = 0;
  pthread_mutex_lock(&mu);
  if (!strncmp(cmd, "arm", 3)) armed = 1;
  else if (!strncmp(cmd, "disarm", 6)) armed = 0;
  else if (!strncmp(cmd, "reset", 5)) counter = 0;
  pthread_mutex_unlock(&mu);
}

/* ---- events ------------------------------------------------------------ */

static void trace_line(const char *fmt, ...) {
  if (trace_fd < 0) return;
  char line[160];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0) raw_write_all(trace_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* Decides what happens to one call on the data file. Caller holds mu. */
static int on_event(char kind, int fd, long long off, size_t len) {
  if (!armed) return ACT_NONE;
  int is_write = kind == 'W' || kind == 'M';
  if (!(kinds & (is_write ? KIND_WRITE : KIND_SYNC))) return ACT_NONE;
  long n = ++counter;
  trace_line("%ld %c %d %lld %zu\n", n, kind, fd, off, len);
  if (mode == MODE_EXIT && n == at_event) {
    if (!exit_after) {
      trace_line("%ld X exit-before\n", n);
      die_now();
    }
    trace_line("%ld X exit-after\n", n);
    return ACT_EXIT_AFTER;
  }
  if (mode == MODE_FAIL && (n == at_event || (sticky && at_event > 0 && n > at_event))) {
    if (fail_errno == 0 && is_write && len > 1) {
      trace_line("%ld X short\n", n);
      return ACT_SHORT;
    }
    trace_line("%ld X errno %d%s\n", n, fail_errno ? fail_errno : EIO, fail_after ? " after" : "");
    return fail_after ? ACT_FAIL_AFTER : ACT_FAIL;
  }
  return ACT_NONE;
}

static void journal_rec(uint8_t kind, uint8_t flags, uint64_t seq, int64_t off, int64_t aux,
                        const struct iovec *iov, int iovcnt, size_t len) {
  if (journal_fd < 0) return;
  struct jrec h = {kind, flags, 0, (uint32_t)len, seq, off, aux};
  raw_write_all(journal_fd, &h, sizeof h);
  size_t left = len;
  for (int i = 0; i < iovcnt && left > 0; i++) {
    size_t take = iov[i].iov_len < left ? iov[i].iov_len : left;
    raw_write_all(journal_fd, iov[i].iov_base, take);
    left -= take;
  }
}

static size_t iov_total(const struct iovec *iov, int cnt) {
  size_t t = 0;
  for (int i = 0; i < cnt; i++) t += iov[i].iov_len;
  return t;
}

/* Fails the intercepted call with the configured errno (EIO by default). */
static int injected_failure(void) {
  errno = fail_errno ? fail_errno : EIO;
  return -1;
}

/* After the real call ran: apply an "after" action, else hand back its own
 * result and errno. */
static ssize_t after_call(int act, ssize_t r, int saved) {
  if (act == ACT_EXIT_AFTER) die_now();
  if (act == ACT_FAIL_AFTER) return injected_failure();
  errno = saved;
  return r;
}

/* A completed sync: everything written before it is durable. */
static void journal_sync(void) {
  pthread_mutex_lock(&mu);
  journal_rec('S', 0, ++journal_seq, -1, 0, NULL, 0, 0);
  pthread_mutex_unlock(&mu);
}

/* One write (any flavour) to fd. off < 0: at the current file position. */
typedef ssize_t (*do_write_fn)(int fd, const struct iovec *iov, int cnt, off_t off, void *ctx);

static ssize_t handle_write(int fd, const struct iovec *iov, int cnt, off_t off, do_write_fn fn,
                            void *ctx) {
  int c = classify(fd);
  if (c == FD_CONTROL) {
    if (cnt > 0) control(iov[0].iov_base, iov[0].iov_len);
    return fn(fd, iov, cnt, off, ctx);
  }
  if (c != FD_DATA && c != FD_DATA_DSYNC) return fn(fd, iov, cnt, off, ctx);

  size_t len = iov_total(iov, cnt);
  long long where = off >= 0 ? (long long)off : (long long)syscall(SYS_lseek, fd, 0, SEEK_CUR);
  pthread_mutex_lock(&mu);
  int act = on_event(c == FD_DATA_DSYNC ? 'M' : 'W', fd, where, len);
  if (act == ACT_FAIL) {
    pthread_mutex_unlock(&mu);
    return injected_failure();
  }
  uint64_t seq = ++journal_seq;
  size_t want = len;
  if (act == ACT_SHORT) want = len / 2;
  journal_rec('W', c == FD_DATA_DSYNC ? 1 : 0, seq, where, 0, iov, cnt, want);
  ssize_t r;
  if (act == ACT_SHORT) {
    /* Transfer only the first half, as a device that filled up would. */
    struct iovec part[64];
    int pc = 0;
    size_t left = want;
    for (int i = 0; i < cnt && left > 0 && pc < 64; i++) {
      part[pc].iov_base = iov[i].iov_base;
      part[pc].iov_len = iov[i].iov_len < left ? iov[i].iov_len : left;
      left -= part[pc].iov_len;
      pc++;
    }
    r = fn(fd, part, pc, off, ctx);
  } else {
    r = fn(fd, iov, cnt, off, ctx);
  }
  int saved = errno;
  journal_rec('R', c == FD_DATA_DSYNC ? 1 : 0, seq, where, r < 0 ? -(int64_t)saved : r, NULL, 0, 0);
  pthread_mutex_unlock(&mu);
  return after_call(act, r, saved);
}

static int handle_sync(int fd, int (*fn)(int)) {
  int c = classify(fd);
  if (c != FD_DATA && c != FD_DATA_DSYNC) return fn(fd);
  pthread_mutex_lock(&mu);
  int act = on_event('S', fd, -1, 0);
  if (act == ACT_FAIL) {
    pthread_mutex_unlock(&mu);
    return injected_failure();
  }
  pthread_mutex_unlock(&mu);
  int r = fn(fd);
  int saved = errno;
  if (r == 0) {
    journal_sync();
  }
  return after_call(act, r, saved);
}

/* ---- the interposed functions ------------------------------------------ */

static ssize_t via_write(int fd, const struct iovec *iov, int cnt, off_t off, void *ctx) {
  (void)off; (void)ctx;
  return get_write()(fd, iov[0].iov_base, cnt ? iov[0].iov_len : 0);
}
static ssize_t via_pwrite(int fd, const struct iovec *iov, int cnt, off_t off, void *ctx) {
  (void)ctx;
  return get_pwrite()(fd, iov[0].iov_base, cnt ? iov[0].iov_len : 0, off);
}
static ssize_t via_pwrite64(int fd, const struct iovec *iov, int cnt, off_t off, void *ctx) {
  (void)ctx;
  return get_pwrite64()(fd, iov[0].iov_base, cnt ? iov[0].iov_len : 0, off);
}
static ssize_t via_writev(int fd, const struct iovec *iov, int cnt, off_t off, void *ctx) {
  (void)off; (void)ctx;
  return get_writev()(fd, iov, cnt);
}
static ssize_t via_pwritev(int fd, const struct iovec *iov, int cnt, off_t off, void *ctx) {
  (void)ctx;
  return get_pwritev()(fd, iov, cnt, off);
}
static ssize_t via_pwritev64(int fd, const struct iovec *iov, int cnt, off_t off, void *ctx) {
  (void)ctx;
  return get_pwritev64()(fd, iov, cnt, off);
}

ssize_t write(int fd, const void *buf, size_t n) {
  struct iovec v = {(void *)buf, n};
  return handle_write(fd, &v, 1, -1, via_write, NULL);
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  struct iovec v = {(void *)buf, n};
  return handle_write(fd, &v, 1, off, via_pwrite, NULL);
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
  struct iovec v = {(void *)buf, n};
  return handle_write(fd, &v, 1, off, via_pwrite64, NULL);
}
ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  return handle_write(fd, iov, cnt, -1, via_writev, NULL);
}
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
  return handle_write(fd, iov, cnt, off, via_pwritev, NULL);
}
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off) {
  return handle_write(fd, iov, cnt, off, via_pwritev64, NULL);
}

int fdatasync(int fd) { return handle_sync(fd, get_fdatasync()); }
int fsync(int fd) { return handle_sync(fd, get_fsync()); }

int msync(void *addr, size_t len, int flags) {
  if (!addr_is_target(addr)) return get_msync()(addr, len, flags);
  pthread_mutex_lock(&mu);
  int act = on_event('Y', -1, (long long)(uintptr_t)addr, len);
  if (act == ACT_FAIL) {
    pthread_mutex_unlock(&mu);
    return injected_failure();
  }
  pthread_mutex_unlock(&mu);
  int r = get_msync()(addr, len, flags);
  int saved = errno;
  if (r == 0 && (flags & MS_SYNC)) {
    journal_sync();
  }
  return after_call(act, r, saved);
}

static int handle_truncate(int fd, off_t size, int (*fn)(int, off_t)) {
  int c = classify(fd);
  int r = fn(fd, size);
  if (c == FD_DATA || c == FD_DATA_DSYNC) {
    int saved = errno;
    pthread_mutex_lock(&mu);
    journal_rec('T', 0, ++journal_seq, size, r, NULL, 0, 0);
    pthread_mutex_unlock(&mu);
    errno = saved;
  }
  return r;
}
int ftruncate(int fd, off_t size) { return handle_truncate(fd, size, get_ftruncate()); }
int ftruncate64(int fd, off_t size) { return handle_truncate(fd, size, get_ftruncate64()); }

int close(int fd) {
  forget_fd(fd);
  return get_close()(fd);
}

static int mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  int m = mode_arg(flags, ap);
  va_end(ap);
  int fd = get_open()(path, flags, m);
  forget_fd(fd);
  return fd;
}
int open64(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  int m = mode_arg(flags, ap);
  va_end(ap);
  int fd = get_open64()(path, flags, m);
  forget_fd(fd);
  return fd;
}
int openat(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  int m = mode_arg(flags, ap);
  va_end(ap);
  int fd = get_openat()(dirfd, path, flags, m);
  forget_fd(fd);
  return fd;
}
int openat64(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  int m = mode_arg(flags, ap);
  va_end(ap);
  int fd = get_openat64()(dirfd, path, flags, m);
  forget_fd(fd);
  return fd;
}
