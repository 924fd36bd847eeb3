// txtdb_os.h — the operating-system half of the txtdb addon.
//
// Every function here is a thin, blocking wrapper around one OS primitive. No
// napi, no JS, no allocation: the caller (txtdb.cc) decides which thread runs
// it. Results are plain ints so they can cross threads:
//
//   0          success
//   kOsBusy    the range is held by someone else (tryLock said no)
//   kOsAgain   a wait slice ended without the lock (POSIX: EINTR from the
//              cancel signal or any other; Windows: poll interval)
//   > 0        the OS error: errno on POSIX, GetLastError() on Windows
//
// The contract and the numbered invariants (NATIVE-n) live at the top of
// txtdb.cc; this file notes the platform traps exactly where it handles them.

#ifndef TXTDB_OS_H_
#define TXTDB_OS_H_

#include <cstdint>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cstring>
#endif

namespace txtdb {
namespace os {

constexpr int kOsBusy = -2;
constexpr int kOsAgain = -1;

// A byte range as the contract states it: length 0 = from start to the end of
// the file and beyond. Both fields are in [0, 2^53), checked by the caller.
struct Range {
  int64_t start;
  int64_t length;
};

// A failed call: the error and the name of the call that failed.
struct Failure {
  int err;              // 0 = no failure
  const char* syscall;  // static string
};

enum class LockMode { kNone = 0, kShared = 1, kExclusive = 2 };

#ifndef _WIN32
// ===========================================================================
// POSIX (Linux, macOS): open-file-description locks.
//
// Trap: classic POSIX record locks (F_SETLK) belong to the (process, inode)
// pair. Two descriptors of one process never conflict, and closing ANY
// descriptor of the file drops every lock the process holds on it — so a
// library that opens the database file a second time silently unlocks the
// first. Open-file-description locks (F_OFD_*) belong to the open file
// description instead: they conflict between descriptors of one process and
// survive the close of other descriptors. We use OFD locks only and never
// fall back to F_SETLK (a kernel without them fails with EINVAL, which the JS
// side reports as "no native locks").
//
// Trap: l_pid must be 0 for OFD commands, or the kernel answers EINVAL.
//
// Trap: OFD locks and flock() locks do not see each other. txtdb uses one
// lock family per database.
//
// macOS: the F_OFD_* commands exist in XNU (bsd/sys/fcntl.h) but older SDKs
// hide them under PRIVATE; the values below are XNU's. Compile-guarded only:
// this code has not run on macOS.
// ===========================================================================

#if defined(__APPLE__)
#ifndef F_OFD_SETLK
#define F_OFD_SETLK 90
#endif
#ifndef F_OFD_SETLKW
#define F_OFD_SETLKW 91
#endif
#ifndef F_OFD_GETLK
#define F_OFD_GETLK 92
#endif
#ifndef F_BARRIERFSYNC
#define F_BARRIERFSYNC 85
#endif
#elif !defined(F_OFD_SETLK)
#error "txtdb needs open-file-description locks (F_OFD_SETLK): Linux >= 3.15 headers or macOS"
#endif

using Handle = int;  // the file descriptor JS opened

inline int OfdCall(Handle fd, int cmd, struct flock* fl) {
  int rc;
  do {
    rc = fcntl(fd, cmd, fl);
  } while (rc == -1 && errno == EINTR && cmd != F_OFD_SETLKW);
  return rc == -1 ? errno : 0;
}

inline struct flock OfdRange(short type, Range r) {
  struct flock fl;
  std::memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(r.start);
  fl.l_len = static_cast<off_t>(r.length);
  fl.l_pid = 0;  // required by OFD commands
  return fl;
}

inline short LockType(bool exclusive) { return exclusive ? F_WRLCK : F_RDLCK; }

// 0 granted, kOsBusy held elsewhere, else errno.
inline int TryLock(Handle fd, Range r, bool exclusive) {
  struct flock fl = OfdRange(LockType(exclusive), r);
  int err = OfdCall(fd, F_OFD_SETLK, &fl);
  if (err == EAGAIN || err == EACCES) return kOsBusy;
  return err;
}

// Blocks in F_OFD_SETLKW until granted or interrupted by a signal.
// 0 granted, kOsAgain interrupted (EINTR), else errno.
inline int LockWaitSlice(Handle fd, Range r, bool exclusive) {
  struct flock fl = OfdRange(LockType(exclusive), r);
  int err = OfdCall(fd, F_OFD_SETLKW, &fl);
  return err == EINTR ? kOsAgain : err;
}

// Releasing an unheld range is not an error (POSIX semantics).
inline int Unlock(Handle fd, Range r) {
  struct flock fl = OfdRange(F_UNLCK, r);
  return OfdCall(fd, F_OFD_SETLK, &fl);
}

// F_OFD_GETLK never reports the caller's own locks (same description).
inline int TestLock(Handle fd, Range r, bool exclusive, LockMode* out) {
  struct flock fl = OfdRange(LockType(exclusive), r);
  int err = OfdCall(fd, F_OFD_GETLK, &fl);
  if (err != 0) return err;
  *out = fl.l_type == F_UNLCK   ? LockMode::kNone
         : fl.l_type == F_RDLCK ? LockMode::kShared
                                : LockMode::kExclusive;
  return 0;
}

#define TXTDB_RETRY_EINTR(rc, call) \
  do {                              \
    (rc) = (call);                  \
  } while ((rc) == -1 && errno == EINTR)

inline bool SyncUnsupported(int err) {
  return err == ENOTSUP || err == EOPNOTSUPP || err == EINVAL;
}

// Makes data and size durable. A failed sync is never retried (after a
// failure the kernel may already have dropped the dirty pages and a retry
// would report success for data that is gone); only EINTR is retried.
// macOS: fsync() only reaches the drive's cache, F_FULLFSYNC flushes it;
// F_BARRIERFSYNC and then fsync are fallbacks for file systems that do not
// support the stronger call (ENOTSUP/EOPNOTSUPP/EINVAL), never for failures.
inline Failure Datasync(Handle fd) {
  int rc;
#if defined(__APPLE__)
  TXTDB_RETRY_EINTR(rc, fcntl(fd, F_FULLFSYNC));
  if (rc == 0) return {0, nullptr};
  if (!SyncUnsupported(errno)) return {errno, "fcntl(F_FULLFSYNC)"};
  TXTDB_RETRY_EINTR(rc, fcntl(fd, F_BARRIERFSYNC));
  if (rc == 0) return {0, nullptr};
  if (!SyncUnsupported(errno)) return {errno, "fcntl(F_BARRIERFSYNC)"};
  TXTDB_RETRY_EINTR(rc, fsync(fd));
  return {rc == 0 ? 0 : errno, "fsync"};
#else
  TXTDB_RETRY_EINTR(rc, fdatasync(fd));
  return {rc == 0 ? 0 : errno, "fdatasync"};
#endif
}

// Makes a directory's entries (creates, renames, unlinks) durable.
inline Failure SyncDir(const char* path) {
  int fd;
  TXTDB_RETRY_EINTR(fd, open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd == -1) return {errno, "open"};
  int rc;
  TXTDB_RETRY_EINTR(rc, fsync(fd));
  Failure f = {rc == 0 ? 0 : errno, "fsync"};
  close(fd);
  return f;
}

// NATIVE-2: the number JS handed us must be the file JS opened.
inline Failure StatIds(Handle fd, uint64_t* dev, uint64_t* ino) {
  struct stat st;
  if (fstat(fd, &st) != 0) return {errno, "fstat"};
  *dev = static_cast<uint64_t>(st.st_dev);
  *ino = static_cast<uint64_t>(st.st_ino);
  return {0, nullptr};
}

// The first `length` bytes of the file, mapped shared and writable. Refused
// (EINVAL) unless the file already holds them: touching a mapped page past
// the end of the file raises SIGBUS, so the caller must never shrink it.
inline Failure MapShared(Handle fd, int64_t length, void** out) {
  struct stat st;
  if (fstat(fd, &st) != 0) return {errno, "fstat"};
  if (length <= 0 || st.st_size < length) return {EINVAL, "mmap"};
  void* p = mmap(nullptr, static_cast<size_t>(length), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return {errno, "mmap"};
  *out = p;
  return {0, nullptr};
}

inline void Unmap(void* p, int64_t length) { munmap(p, static_cast<size_t>(length)); }

#else  // _WIN32
// ===========================================================================
// Windows: LockFileEx on a handle of our own.
//
// A runtime's fd is a CRT/libuv number, not a HANDLE, so attach() opens its
// own handle on the path (sharing read/write/delete so it never blocks JS's
// own opens). LockFileEx locks belong to the handle: two handles conflict,
// closing another handle keeps them — the same semantics as OFD locks.
// Traps, unlike POSIX: UnlockFileEx must name exactly a range that was
// locked; a shared lock taken twice must be released twice; a handle cannot
// upgrade its own shared lock to exclusive. txtdb's lock ranges never
// overlap themselves, so none of this is reachable from the engine.
// Untested here (no Windows host): kept small on purpose.
// ===========================================================================

using Handle = HANDLE;

inline OVERLAPPED RangeOffset(Range r) {
  OVERLAPPED ov = {};
  ov.Offset = static_cast<DWORD>(static_cast<uint64_t>(r.start) & 0xFFFFFFFFu);
  ov.OffsetHigh = static_cast<DWORD>(static_cast<uint64_t>(r.start) >> 32);
  return ov;
}

inline void RangeLength(Range r, DWORD* low, DWORD* high) {
  uint64_t len = r.length == 0 ? ~uint64_t{0} : static_cast<uint64_t>(r.length);
  *low = static_cast<DWORD>(len & 0xFFFFFFFFu);
  *high = static_cast<DWORD>(len >> 32);
}

inline int TryLock(Handle h, Range r, bool exclusive) {
  OVERLAPPED ov = RangeOffset(r);
  DWORD low, high;
  RangeLength(r, &low, &high);
  DWORD flags = LOCKFILE_FAIL_IMMEDIATELY | (exclusive ? LOCKFILE_EXCLUSIVE_LOCK : 0);
  if (LockFileEx(h, flags, 0, low, high, &ov)) return 0;
  DWORD err = GetLastError();
  if (err == ERROR_LOCK_VIOLATION || err == ERROR_IO_PENDING) return kOsBusy;
  return static_cast<int>(err);
}

// Windows has no interruptible wait on a byte range: the wait thread polls.
inline int LockWaitSlice(Handle h, Range r, bool exclusive) {
  int err = TryLock(h, r, exclusive);
  return err == kOsBusy ? kOsAgain : err;
}

inline int Unlock(Handle h, Range r) {
  OVERLAPPED ov = RangeOffset(r);
  DWORD low, high;
  RangeLength(r, &low, &high);
  if (UnlockFileEx(h, 0, low, high, &ov)) return 0;
  DWORD err = GetLastError();
  return err == ERROR_NOT_LOCKED ? 0 : static_cast<int>(err);
}

// No GETLK on Windows: try the lock and give it back. If an exclusive try
// fails, a shared try tells which mode is in the way.
inline int TestLock(Handle h, Range r, bool exclusive, LockMode* out) {
  int err = TryLock(h, r, exclusive);
  if (err == 0) {
    *out = LockMode::kNone;
    return Unlock(h, r);
  }
  if (err != kOsBusy) return err;
  if (!exclusive) {
    *out = LockMode::kExclusive;
    return 0;
  }
  err = TryLock(h, r, false);
  if (err == kOsBusy) {
    *out = LockMode::kExclusive;
    return 0;
  }
  if (err != 0) return err;
  *out = LockMode::kShared;
  return Unlock(h, r);
}

inline Failure Datasync(Handle h) {
  if (FlushFileBuffers(h)) return {0, nullptr};
  return {static_cast<int>(GetLastError()), "FlushFileBuffers"};
}

// NTFS makes directory entries durable with the metadata journal.
inline Failure SyncDir(const char*) { return {0, nullptr}; }

inline HANDLE OpenOwnHandle(const wchar_t* path, DWORD* err) {
  const DWORD share = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;
  HANDLE h = CreateFileW(path, GENERIC_READ | GENERIC_WRITE, share, nullptr,
                         OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE && GetLastError() == ERROR_ACCESS_DENIED) {
    // A read-only file: locks still work, FlushFileBuffers will say EACCES.
    h = CreateFileW(path, GENERIC_READ, share, nullptr, OPEN_EXISTING,
                    FILE_ATTRIBUTE_NORMAL, nullptr);
  }
  *err = h == INVALID_HANDLE_VALUE ? GetLastError() : 0;
  return h;
}
#endif  // _WIN32

}  // namespace os
}  // namespace txtdb

#endif  // TXTDB_OS_H_
