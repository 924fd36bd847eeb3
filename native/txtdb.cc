// txtdb.cc — the native addon of txtdb: durable syncs and byte-range locks.
//
// WHAT THIS ADDON GUARANTEES
//
// The TypeScript interface in src/io/_native_api.ts is the contract; this
// file implements it for Linux, macOS (compile-guarded, untested) and Windows
// (compile-guarded, untested). In short:
//
//   attach/detach    bind a descriptor JS opened (node:fs) to the addon.
//   datasync         data and size of one file are on stable storage when the
//                    callback gets null (fdatasync / F_FULLFSYNC /
//                    FlushFileBuffers); syncDir does the same for a directory.
//   tryLock/unlock   byte-range locks owned by the open file description.
//   lockWait         waits for a lock on a thread of its own; cancelWait
//                    withdraws the wait without leaving a lock behind.
//   testLock         would this lock be granted now, and if not, which mode
//                    is in the way.
//   crc32c           the checksum of log lines and pages, with the CPU's
//                    crc32 instruction where there is one.
//
// Operating errors reach JS as plain Errors with own properties `code` (the
// errno name, or "EMISMATCH" / "ECANCELED"), `errno` (the OS number, 0 for
// EMISMATCH) and `syscall`. Programmer errors — an argument of the wrong type
// or out of range — are TypeErrors. Nothing else is ever thrown.
//
// PLATFORM TRAPS (each is documented again where it is handled)
//
//   * libuv. Node, Deno and Bun all load a Node-API addon, but only if it
//     imports nothing except napi_* symbols: one uv_* import aborts Bun and
//     kills Deno. So: no uv_*, no node.h, no uv_async/uv_thread/uv_mutex —
//     std::thread, std::mutex and napi thread-safe functions instead.
//
//   * POSIX advisory locks are broken by design for a library: classic
//     F_SETLK locks belong to the (process, file) pair, so two descriptors of
//     one process never conflict and closing any descriptor of the file drops
//     every lock the process holds on it. Open-file-description locks
//     (F_OFD_*) have neither defect. We use them and never fall back
//     (txtdb_os.h).
//
//   * The worker pool. A lock wait can last forever. Node's libuv pool has 4
//     threads and Bun's napi pool fewer: 4 waits on the pool hang every
//     fs.promises call in Node, 2 hang Bun. Waits therefore run on a
//     dedicated std::thread each and report back through a napi thread-safe
//     function. Syncs are bounded work, but they stay off the pool too: on
//     our few sync threads they wait for nobody's fs calls, and waking a
//     parked thread of ours costs the JS thread less than queueing napi
//     async work (NATIVE-14).
//
//   * Exported functions carry no heap data. Napi::Function::New(env, fn)
//     allocates a CallbackData per function and frees it from a finalizer on
//     the function object; in Deno 2.9.5 that finalizer ran while the
//     function was still reachable, and a later call jumped through freed
//     memory (a SIGSEGV at the end of long test runs, reproducible with
//     TXTDB_VERIFY_SECONDS=1 on test/verify_isolation.test.ts). The
//     template form Napi::Function::New<fn>(env, name) calls `fn` directly:
//     nothing to free, nothing to finalize (see Init).
//
//   * Cancelling a blocked F_OFD_SETLKW. The only way to get a thread out of
//     it is a signal that interrupts the system call with EINTR. At load we
//     claim one real-time signal (the first of SIGRTMIN+4 … SIGRTMAX, then
//     SIGRTMIN … SIGRTMIN+3, whose disposition is SIG_DFL and which the
//     loading thread does not block; SIGUSR2 where there are no real-time
//     signals) and install a no-op handler WITHOUT SA_RESTART — with
//     SA_RESTART the kernel would silently restart the wait. Signals are
//     sent only with pthread_kill() to our own waiter threads, which block
//     every other signal and never this one. A signal that lands just before
//     the thread enters fcntl() is lost, so the canceller re-sends it every
//     kCancelKickInterval until the thread reports that it has left the
//     wait. Windows has no interruptible range wait: its waiter polls.
//
// WAIT STATE MACHINE (one Wait per lockWait call; fields guarded by Wait::mu)
//
//        lockWait()                  CallWaitJs() on the JS thread
//   ──────────────▶ PENDING ─────────────────────────────▶ GRANTED (lock held)
//                     │  │                             └─▶ FAILED  (OS error)
//                     │  └── cancelWait() / env teardown ─▶ CANCELLED
//                     │       (releases a lock the waiter already got)
//        RunWait() on the waiter thread sets `left` (and `held` or `err`)
//        exactly once; it never changes `state` itself.
//
// Every transition out of PENDING happens on the JS thread, so "the callback
// already got null" and "cancelWait() returned true" can never both be true.
//
// INVARIANTS (cited by test/native_addon.test.ts)
//
//   NATIVE-1  The addon imports only napi_* symbols from the runtime (plus
//             libc/libstdc++); never uv_*.
//   NATIVE-2  attach() accepts a descriptor only if fstat() reports the
//             device and inode JS saw; otherwise EMISMATCH (errno 0).
//   NATIVE-3  Locks are open-file-description locks, l_pid 0, never classic
//             F_SETLK: two descriptors of one process conflict, and closing
//             another descriptor of the file keeps the lock.
//   NATIVE-4  shared + shared are both granted, shared + exclusive are not;
//             testLock() returns the mode of a conflicting lock, or null.
//   NATIVE-5  tryLock(), unlock() and testLock() never wait.
//   NATIVE-6  lockWait() waits on a dedicated thread, never the runtime's
//             worker pool: the event loop keeps running, the runtime's own
//             async fs keeps working, and a pending wait keeps the process
//             alive (its thread-safe function is referenced).
//   NATIVE-7  Every wait's callback runs exactly once: null with the lock
//             held, the OS error, or ECANCELED. cancelWait() returns true iff
//             the callback has not run yet; then the callback gets ECANCELED
//             and no lock from this wait remains.
//   NATIVE-8  A cancel interrupts a blocked F_OFD_SETLKW within about one
//             kCancelKickInterval, whether or not the waiter had entered the
//             system call when cancelWait() ran.
//   NATIVE-9  A sync is reported successful only if the OS said so; a failed
//             sync is never retried (only EINTR is).
//   NATIVE-10 Operating errors are Errors with code/errno/syscall; bad
//             arguments are TypeErrors.
//   NATIVE-11 Tearing down an environment (worker exit) first cancels and
//             joins its waiter threads, and stops and joins its sync threads,
//             before the runtime frees their thread-safe functions.
//   NATIVE-12 mapShared() maps bytes the file already holds (else EINVAL),
//             shared with every process that maps the file, as an
//             ArrayBuffer; collecting the buffer unmaps them. POSIX only:
//             Windows exports no mapShared, and the caller does without.
//   NATIVE-13 crc32c() returns what src/engine/_crc32c.ts returns for the
//             same bytes, range and seed (txtdb_crc32c.h); it never blocks.
//   NATIVE-14 datasync() and syncDir() run on the addon's sync threads — at
//             most kSyncThreadsMax per environment, started on demand, named
//             "txtdb-sync" — never on the runtime's worker pool: they finish
//             while the pool is blocked. A pending sync keeps the process
//             alive; an idle one does not. Teardown joins the threads
//             (NATIVE-11); callbacks of syncs still queued then never run.
//
// TESTING AIDS
//
//   Waiter threads are named "txtdb-lockwait" (Linux, macOS), so a test can
//   count them in /proc/self/task. The environment variable
//   TXTDB_NATIVE_FAULT_WAIT_ENTRY_US, read once at load, makes every waiter
//   sleep that many microseconds between its last look at the state and
//   entering F_OFD_SETLKW: it widens the window NATIVE-8 closes, so a test
//   can hit it on purpose. Unset (0) in production.

#include <napi.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "txtdb_crc32c.h"
#include "txtdb_os.h"

namespace txtdb {
namespace {

// Bump together with NATIVE_ABI in src/io/_native.ts when _native_api.ts changes.
constexpr int kNativeAbi = 1;

constexpr double kByteCountLimit = 9007199254740992.0;  // 2^53, exclusive
constexpr size_t kWaitCountMax = 256;                   // concurrent waits per process
constexpr size_t kSyncThreadsMax = 4;                   // sync threads per environment
constexpr auto kCancelKickInterval = std::chrono::milliseconds(1);
constexpr int kCancelKickCountMax = 200;  // then give up waiting (~200 ms); see CancelLocked
constexpr long kFaultWaitEntryUsMax = 1000000;

#ifdef _WIN32
constexpr auto kWaitPollInterval = std::chrono::milliseconds(2);
constexpr const char* kLockFamily = "windows";
constexpr const char* kSysSetLock = "LockFileEx";
constexpr const char* kSysWaitLock = "LockFileEx";
constexpr const char* kSysTestLock = "LockFileEx";
constexpr const char* kSysUnlock = "UnlockFileEx";
#else
constexpr auto kWaitPollInterval = std::chrono::milliseconds(0);
constexpr const char* kLockFamily = "ofd";
constexpr const char* kSysSetLock = "fcntl(F_OFD_SETLK)";
constexpr const char* kSysWaitLock = "fcntl(F_OFD_SETLKW)";
constexpr const char* kSysTestLock = "fcntl(F_OFD_GETLK)";
constexpr const char* kSysUnlock = "fcntl(F_OFD_SETLK)";
#endif

// Internal invariants of this file. A failure is a bug here, never caught.
[[noreturn]] void AssertFailed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "txtdb native: assertion failed: %s (%s:%d)\n", what, file, line);
  std::abort();
}
#define TXTDB_ASSERT(cond) \
  ((cond) ? (void)0 : ::txtdb::AssertFailed(#cond, __FILE__, __LINE__))

// ---------------------------------------------------------------------------
// Errors (NATIVE-10)
// ---------------------------------------------------------------------------

struct ErrnoName {
  int err;
  const char* name;
};

#ifndef _WIN32
// Duplicated values (EAGAIN/EWOULDBLOCK, ENOTSUP/EOPNOTSUPP on Linux) are
// fine: the first entry wins.
const ErrnoName kErrnoNames[] = {
    {EACCES, "EACCES"},       {EAGAIN, "EAGAIN"},       {EBADF, "EBADF"},
    {EBUSY, "EBUSY"},         {ECANCELED, "ECANCELED"}, {EDEADLK, "EDEADLK"},
    {EDQUOT, "EDQUOT"},       {EEXIST, "EEXIST"},       {EFBIG, "EFBIG"},
    {EINTR, "EINTR"},         {EINVAL, "EINVAL"},       {EIO, "EIO"},
    {EISDIR, "EISDIR"},       {ELOOP, "ELOOP"},         {EMFILE, "EMFILE"},
    {ENAMETOOLONG, "ENAMETOOLONG"}, {ENFILE, "ENFILE"}, {ENOENT, "ENOENT"},
    {ENOLCK, "ENOLCK"},       {ENOMEM, "ENOMEM"},       {ENOSPC, "ENOSPC"},
    {ENOSYS, "ENOSYS"},       {ENOTDIR, "ENOTDIR"},     {ENOTSUP, "ENOTSUP"},
    {EOPNOTSUPP, "EOPNOTSUPP"}, {EOVERFLOW, "EOVERFLOW"}, {EPERM, "EPERM"},
    {EROFS, "EROFS"},         {ESTALE, "ESTALE"},       {ETIMEDOUT, "ETIMEDOUT"},
};

const char* ErrorCode(int err) {
  for (const ErrnoName& e : kErrnoNames) {
    if (e.err == err) return e.name;
  }
  return "UNKNOWN";
}

std::string ErrorText(int err) { return std::strerror(err); }
#else
// Windows errors are named after the errno they correspond to; `errno`
// carries the Windows code itself.
const ErrnoName kErrnoNames[] = {
    {ERROR_ACCESS_DENIED, "EACCES"},   {ERROR_INVALID_HANDLE, "EBADF"},
    {ERROR_FILE_NOT_FOUND, "ENOENT"},  {ERROR_PATH_NOT_FOUND, "ENOENT"},
    {ERROR_SHARING_VIOLATION, "EBUSY"}, {ERROR_LOCK_VIOLATION, "EAGAIN"},
    {ERROR_DISK_FULL, "ENOSPC"},       {ERROR_HANDLE_DISK_FULL, "ENOSPC"},
    {ERROR_NOT_ENOUGH_MEMORY, "ENOMEM"}, {ERROR_INVALID_PARAMETER, "EINVAL"},
    {ERROR_NOT_SUPPORTED, "ENOTSUP"},  {ERROR_WRITE_PROTECT, "EROFS"},
};

const char* ErrorCode(int err) {
  for (const ErrnoName& e : kErrnoNames) {
    if (e.err == err) return e.name;
  }
  return "EIO";
}

std::string ErrorText(int err) { return "Windows error " + std::to_string(err); }
#endif

Napi::Error MakeError(Napi::Env env, const char* code, int err, const char* syscall,
                      const std::string& text) {
  Napi::Error error =
      Napi::Error::New(env, std::string(code) + ": " + text + ", " + syscall);
  Napi::Object object = error.Value();
  object.Set("code", code);
  object.Set("errno", err);
  object.Set("syscall", syscall);
  return error;
}

Napi::Error OsError(Napi::Env env, int err, const char* syscall) {
  TXTDB_ASSERT(err > 0);
  return MakeError(env, ErrorCode(err), err, syscall, ErrorText(err));
}

Napi::Error CancelledError(Napi::Env env) {
  return MakeError(env, "ECANCELED", ECANCELED, kSysWaitLock, "lock wait cancelled");
}

[[noreturn]] void ThrowTypeError(Napi::Env env, const char* fn, const char* what) {
  throw Napi::TypeError::New(env, std::string("txtdb native ") + fn + "(): " + what);
}

// ---------------------------------------------------------------------------
// Arguments: validate, then hand exact types to the code below.
// ---------------------------------------------------------------------------

void ExpectArgs(const Napi::CallbackInfo& info, size_t count, const char* fn) {
  if (info.Length() < count) ThrowTypeError(info.Env(), fn, "too few arguments");
}

bool IsIntegerIn(const Napi::Value& v, double lo, double hi_exclusive) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  return std::isfinite(d) && std::floor(d) == d && d >= lo && d < hi_exclusive;
}

int32_t ArgDescriptor(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (!IsIntegerIn(info[i], 0, 2147483648.0)) {
    ThrowTypeError(info.Env(), fn, "descriptor/token must be an integer in [0, 2^31)");
  }
  return info[i].As<Napi::Number>().Int32Value();
}

int64_t ArgByteCount(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (!IsIntegerIn(info[i], 0, kByteCountLimit)) {
    ThrowTypeError(info.Env(), fn, "start/length must be an integer in [0, 2^53)");
  }
  return info[i].As<Napi::Number>().Int64Value();
}

os::Range ArgRange(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  return os::Range{ArgByteCount(info, i, fn), ArgByteCount(info, i + 1, fn)};
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (!info[i].IsBoolean()) ThrowTypeError(info.Env(), fn, "exclusive must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

Napi::Function ArgFunction(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (!info[i].IsFunction()) ThrowTypeError(info.Env(), fn, "callback must be a function");
  return info[i].As<Napi::Function>();
}

std::string ArgPath(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (!info[i].IsString()) ThrowTypeError(info.Env(), fn, "path must be a string");
  std::string path = info[i].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) {
    ThrowTypeError(info.Env(), fn, "path must be non-empty and contain no NUL");
  }
  return path;
}

// A dev or ino as JS prints a bigint: 1 to 20 decimal digits, no overflow.
uint64_t ArgDecimal(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  const char* what = "dev/ino must be a decimal string of a 64-bit unsigned integer";
  if (!info[i].IsString()) ThrowTypeError(info.Env(), fn, what);
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.empty() || s.size() > 20) ThrowTypeError(info.Env(), fn, what);
  uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') ThrowTypeError(info.Env(), fn, what);
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) ThrowTypeError(info.Env(), fn, what);
    value = value * 10 + digit;
  }
  return value;
}

// ---------------------------------------------------------------------------
// Tokens. POSIX: the token is the descriptor itself (a closed or foreign
// number simply makes the OS answer EBADF). Windows: a table of the handles
// attach() opened; tokens are never reused, so a stale token is EBADF too.
// ---------------------------------------------------------------------------

#ifdef _WIN32
std::mutex g_handles_mu;
std::unordered_map<int32_t, HANDLE>* const g_handles = new std::unordered_map<int32_t, HANDLE>();
int32_t g_handle_token_next = 1;  // guarded by g_handles_mu

int32_t AddHandle(HANDLE h) {
  std::lock_guard<std::mutex> guard(g_handles_mu);
  TXTDB_ASSERT(g_handle_token_next < INT32_MAX);
  int32_t token = g_handle_token_next++;
  (*g_handles)[token] = h;
  return token;
}

os::Handle HandleOf(int32_t token) {
  std::lock_guard<std::mutex> guard(g_handles_mu);
  auto it = g_handles->find(token);
  return it == g_handles->end() ? INVALID_HANDLE_VALUE : it->second;
}

void CloseToken(int32_t token) {
  HANDLE h = INVALID_HANDLE_VALUE;
  {
    std::lock_guard<std::mutex> guard(g_handles_mu);
    auto it = g_handles->find(token);
    if (it == g_handles->end()) return;  // detach is idempotent
    h = it->second;
    g_handles->erase(it);
  }
  CloseHandle(h);
}
#else
os::Handle HandleOf(int32_t token) { return token; }
#endif

// ---------------------------------------------------------------------------
// Syncs (NATIVE-9, NATIVE-14): on the addon's own sync threads.
//
// One SyncService per environment: a queue, up to kSyncThreadsMax threads
// started as requests outnumber idle threads (they then stay, parked on a
// condition variable), and one thread-safe function that brings each result
// back to the JS thread. A request waits for no one but the disk: the
// runtime's pool may be full of other work (a checkpoint's unlinks, the
// application's own fs calls), and queueing napi async work costs the JS
// thread more than waking a parked thread of ours.
// ---------------------------------------------------------------------------

// Calls a JS callback from a thread-safe function's call_js. Nothing may
// throw out of here (a C frame is above us: std::terminate): a terminating
// worker makes every call into JS fail, and even rethrowing a callback's
// exception then fails.
template <typename MakeArg>
void CallBackWith(napi_env env, napi_value callback, MakeArg make_arg) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  try {
    Napi::Env napi(env);
    Napi::Value arg = make_arg(napi);
    Napi::Function(env, callback).Call({arg});
  } catch (const Napi::Error& error) {
    try {
      napi_throw(env, error.Value());  // the runtime reports it as uncaught
    } catch (...) {
    }
  } catch (...) {
  }
  napi_close_handle_scope(env, scope);
}

void CallBack(napi_env env, napi_value callback, os::Failure failure) {
  CallBackWith(env, callback, [failure](Napi::Env napi) -> Napi::Value {
    return failure.err == 0 ? napi.Null() : OsError(napi, failure.err, failure.syscall).Value();
  });
}

struct SyncRequest {
  bool is_dir = false;
  os::Handle handle{};
  std::string dir;
  napi_ref callback = nullptr;  // JS thread only
  os::Failure failure{0, nullptr};
};

struct SyncService {
  napi_env env = nullptr;
  napi_threadsafe_function tsfn = nullptr;
  // JS thread only:
  bool hooked = false;      // our env cleanup hook is registered
  bool referenced = false;  // the tsfn keeps the event loop alive
  size_t pending = 0;       // requests whose callback has not run
  std::vector<std::thread> threads;

  std::mutex mu;               // guards the fields below
  std::condition_variable cv;  // a request was queued, or stopping was set
  std::deque<SyncRequest*> queue;
  size_t idle = 0;
  bool stopping = false;  // the env is going away: no more calls into JS
};

std::mutex g_sync_services_mu;
// Leaked on purpose, like g_waits: read by nothing after static destruction.
std::unordered_map<napi_env, SyncService*>* const g_sync_services =
    new std::unordered_map<napi_env, SyncService*>();

void NameSyncThread() {
#if defined(__APPLE__)
  pthread_setname_np("txtdb-sync");
#elif !defined(_WIN32)
  pthread_setname_np(pthread_self(), "txtdb-sync");
#endif
}

void RunSyncThread(SyncService* s) {
#ifndef _WIN32
  sigset_t all;  // process-directed signals belong to the runtime's threads
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
#endif
  NameSyncThread();
  std::unique_lock<std::mutex> lk(s->mu);
  for (;;) {
    while (s->queue.empty() && !s->stopping) {
      s->idle++;
      s->cv.wait(lk);
      s->idle--;
    }
    if (s->stopping) return;  // what is queued is the cleanup's to free
    SyncRequest* r = s->queue.front();
    s->queue.pop_front();
    lk.unlock();
    r->failure = r->is_dir ? os::SyncDir(r->dir.c_str()) : os::Datasync(r->handle);
    lk.lock();
    if (s->stopping) {  // its callback will never run; the env frees the reference
      delete r;
      return;
    }
    // Under mu: the cleanup sets `stopping` under mu before it aborts the tsfn.
    if (napi_call_threadsafe_function(s->tsfn, r, napi_tsfn_nonblocking) != napi_ok) {
      delete r;  // the tsfn is closing: so is the env, which frees the reference
    }
  }
}

void CallSyncJs(napi_env env, napi_value, void* context, void* data) {
  SyncRequest* r = static_cast<SyncRequest*>(data);
  if (env == nullptr) {  // the runtime is draining the queue at teardown
    delete r;
    return;
  }
  SyncService* s = static_cast<SyncService*>(context);
  napi_value callback = nullptr;
  napi_get_reference_value(env, r->callback, &callback);
  napi_delete_reference(env, r->callback);
  const os::Failure failure = r->failure;
  delete r;
  if (--s->pending == 0 && s->referenced) {
    napi_unref_threadsafe_function(env, s->tsfn);
    s->referenced = false;
  }
  if (callback != nullptr) CallBack(env, callback, failure);
}

// NATIVE-11: stops and joins the sync threads, so none calls the tsfn
// again, and frees what is queued. Whichever of the env cleanup hook and the
// tsfn's finalizer runs first does it (Deno runs only the hook; Node and Bun
// may finalize the tsfn at teardown too). JS thread.
void StopSyncThreads(SyncService* s) {
  std::deque<SyncRequest*> dropped;
  {
    std::lock_guard<std::mutex> guard(s->mu);
    if (s->stopping && s->threads.empty()) return;  // done already
    s->stopping = true;
    dropped.swap(s->queue);
  }
  s->cv.notify_all();
  for (std::thread& t : s->threads) t.join();  // a sync in progress finishes first
  s->threads.clear();
  for (SyncRequest* r : dropped) {
    napi_delete_reference(s->env, r->callback);
    delete r;
  }
  std::lock_guard<std::mutex> guard(g_sync_services_mu);
  auto it = g_sync_services->find(s->env);
  if (it != g_sync_services->end() && it->second == s) g_sync_services->erase(it);
}

void OnSyncEnvCleanup(void* arg) {
  SyncService* s = static_cast<SyncService*>(arg);
  s->hooked = false;  // the runtime drops a hook once it ran
  StopSyncThreads(s);
  napi_release_threadsafe_function(s->tsfn, napi_tsfn_abort);  // OnSyncFinalize frees s
}

void OnSyncFinalize(napi_env env, void* data, void*) {
  SyncService* s = static_cast<SyncService*>(data);
  if (s->hooked) napi_remove_env_cleanup_hook(env, OnSyncEnvCleanup, s);
  s->hooked = false;
  StopSyncThreads(s);
  delete s;
}

SyncService* SyncServiceOf(Napi::Env env) {
  {
    std::lock_guard<std::mutex> guard(g_sync_services_mu);
    auto it = g_sync_services->find(env);
    if (it != g_sync_services->end()) return it->second;
  }
  auto* s = new SyncService();
  s->env = env;
  napi_value name = Napi::String::New(env, "txtdb.sync");
  napi_status status = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, s, OnSyncFinalize,
                                                       s, CallSyncJs, &s->tsfn);
  if (status != napi_ok) {
    delete s;
    throw MakeError(env, "ENOMEM", ENOMEM, "napi_create_threadsafe_function",
                    "cannot create a thread-safe function");
  }
  napi_unref_threadsafe_function(env, s->tsfn);  // referenced only while a sync is pending
  // After the tsfn's own hook, so ours runs first at teardown (NATIVE-11).
  s->hooked = napi_add_env_cleanup_hook(env, OnSyncEnvCleanup, s) == napi_ok;
  std::lock_guard<std::mutex> guard(g_sync_services_mu);
  (*g_sync_services)[env] = s;
  return s;
}

// Queues a sync; its callback runs on the JS thread with null or the OS error.
void QueueSync(Napi::Env env, std::unique_ptr<SyncRequest> request, Napi::Function callback) {
  SyncService* s = SyncServiceOf(env);
  if (napi_create_reference(env, callback, 1, &request->callback) != napi_ok) {
    throw MakeError(env, "ENOMEM", ENOMEM, "napi_create_reference", "cannot reference the callback");
  }
  SyncRequest* r = request.release();
  bool start_thread;
  {
    std::lock_guard<std::mutex> guard(s->mu);
    s->queue.push_back(r);
    start_thread = s->queue.size() > s->idle && s->threads.size() < kSyncThreadsMax;
  }
  if (start_thread) {
    try {
      s->threads.emplace_back(RunSyncThread, s);
    } catch (const std::system_error& e) {
      if (s->threads.empty()) {  // nobody would ever run it
        {
          std::lock_guard<std::mutex> guard(s->mu);
          s->queue.pop_back();
        }
        napi_delete_reference(env, r->callback);
        delete r;
        int err = e.code().value() > 0 ? e.code().value() : EAGAIN;
        throw MakeError(env, ErrorCode(err), err, "pthread_create", e.what());
      }
    }
  }
  s->cv.notify_one();
  s->pending++;
  if (!s->referenced) {
    napi_ref_threadsafe_function(env, s->tsfn);  // a pending sync keeps the process alive
    s->referenced = true;
  }
}

// ---------------------------------------------------------------------------
// The cancel signal (POSIX; see PLATFORM TRAPS at the top).
// ---------------------------------------------------------------------------

#ifndef _WIN32
int g_cancel_signal = 0;  // written once under g_cancel_once; 0 = none was free
std::once_flag g_cancel_once;

void OnCancelSignal(int) {}  // its only job is to make fcntl() return EINTR

bool SignalIsFree(int sig) {
  struct sigaction old;
  if (sigaction(sig, nullptr, &old) != 0) return false;
  if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) return false;
  sigset_t blocked;  // blocked here: maybe someone sigwait()s or signalfd()s it
  if (pthread_sigmask(SIG_BLOCK, nullptr, &blocked) != 0) return false;
  return sigismember(&blocked, sig) == 0;
}

bool ClaimSignal(int sig) {
  if (!SignalIsFree(sig)) return false;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnCancelSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the blocked fcntl() must fail with EINTR
  return sigaction(sig, &sa, nullptr) == 0;
}

// SIGRTMIN+4 … SIGRTMAX first, SIGRTMIN … SIGRTMIN+3 last: the low ones are
// what other code hard-codes. 0 when none is free.
int PickCancelSignal() {
#ifdef SIGRTMIN
  const int lo = SIGRTMIN, count = SIGRTMAX - SIGRTMIN + 1;
  for (int i = 0; i < count; i++) {
    int sig = lo + (i + 4) % count;
    if (ClaimSignal(sig)) return sig;
  }
  return 0;
#else
  return ClaimSignal(SIGUSR2) ? SIGUSR2 : 0;
#endif
}

void InstallCancelSignal() { g_cancel_signal = PickCancelSignal(); }

// A waiter thread takes only the cancel signal: process-directed signals go
// to the runtime's threads, and the cancel signal is never blocked here.
void SetWaiterSignalMask() {
  sigset_t mask;
  sigfillset(&mask);
  sigdelset(&mask, g_cancel_signal);
  pthread_sigmask(SIG_SETMASK, &mask, nullptr);
}
#endif

// ---------------------------------------------------------------------------
// Lock waits (NATIVE-6, -7, -8, -11). See the state machine at the top.
// ---------------------------------------------------------------------------

// TESTING AIDS (top of file). Written once at load, before any waiter exists.
long g_fault_wait_entry_us = 0;
std::once_flag g_fault_once;

void ReadFaultInjection() {
  const char* value = std::getenv("TXTDB_NATIVE_FAULT_WAIT_ENTRY_US");
  if (value == nullptr) return;
  long us = std::strtol(value, nullptr, 10);
  g_fault_wait_entry_us = us > 0 && us <= kFaultWaitEntryUsMax ? us : 0;
}

void NameWaiterThread() {
#if defined(__APPLE__)
  pthread_setname_np("txtdb-lockwait");
#elif !defined(_WIN32)
  pthread_setname_np(pthread_self(), "txtdb-lockwait");
#endif
}

enum class WaitState { kPending, kGranted, kFailed, kCancelled };

struct Wait {
  // Set by lockWait() before the thread starts; read-only afterwards.
  uint32_t id = 0;
  napi_env env = nullptr;
  os::Handle handle{};
  os::Range range{0, 0};
  bool exclusive = false;
  napi_threadsafe_function tsfn = nullptr;
  std::thread thread;
  bool hooked = false;  // JS thread only: our env cleanup hook is registered

  std::mutex mu;               // guards every field below
  std::condition_variable cv;  // notified when `left` or `state` changes
  WaitState state = WaitState::kPending;
  bool left = false;      // the waiter thread has left its wait loop for good
  bool held = false;      // the waiter got the lock and no one released it
  int err = 0;            // the OS error the waiter got, if any
  bool teardown = false;  // the env is going away: do not call into JS
  bool orphaned = false;  // teardown gave up on the thread: never free this
};

// Process-wide so that ids stay unique across environments (workers). Leaked
// on purpose: a waiter thread may outlive static destructors at exit.
std::mutex g_waits_mu;
std::unordered_map<uint32_t, Wait*>* const g_waits = new std::unordered_map<uint32_t, Wait*>();
uint32_t g_wait_id_next = 1;  // guarded by g_waits_mu

bool RegisterWait(Wait* w) {
  std::lock_guard<std::mutex> guard(g_waits_mu);
  if (g_waits->size() >= kWaitCountMax) return false;
  while (g_wait_id_next == 0 || g_waits->count(g_wait_id_next) != 0) g_wait_id_next++;
  w->id = g_wait_id_next++;
  (*g_waits)[w->id] = w;
  return true;
}

void UnregisterWait(Wait* w) {
  std::lock_guard<std::mutex> guard(g_waits_mu);
  g_waits->erase(w->id);
}

// Only the wait's own environment may cancel it: a Wait is freed on its
// env's JS thread, so using it there after the lookup is safe.
Wait* FindWait(uint32_t id, napi_env env) {
  std::lock_guard<std::mutex> guard(g_waits_mu);
  auto it = g_waits->find(id);
  return it == g_waits->end() || it->second->env != env ? nullptr : it->second;
}

// Wakes the waiter thread out of its current wait slice.
void Kick(Wait* w) {
#ifdef _WIN32
  w->cv.notify_all();
#else
  pthread_kill(w->thread.native_handle(), g_cancel_signal);
#endif
}

// NATIVE-8: a signal sent just before the thread enters fcntl() is lost, so
// keep sending until the thread says it left. Bounded: if someone replaced
// our handler with an SA_RESTART one, the thread leaves only when the lock
// is granted (it then releases it itself, seeing kCancelled).
void KickUntilLeft(Wait* w, std::unique_lock<std::mutex>& lk) {
  for (int i = 0; i < kCancelKickCountMax && !w->left; i++) {
    Kick(w);
    w->cv.wait_for(lk, kCancelKickInterval, [w] { return w->left; });
  }
}

// PENDING → CANCELLED, leaving no lock behind (NATIVE-7). JS thread only.
void CancelLocked(Wait* w, std::unique_lock<std::mutex>& lk) {
  TXTDB_ASSERT(w->state == WaitState::kPending);
  w->state = WaitState::kCancelled;
  if (!w->left) return KickUntilLeft(w, lk);  // the waiter releases what it gets
  if (w->held) {
    // Granted in the race, not yet delivered: the caller never owned it. An
    // unlock can only fail if the descriptor is gone, and the lock with it.
    os::Unlock(w->handle, w->range);
    w->held = false;
  }
}

// Records the waiter's outcome. Runs on the waiter thread, under w->mu.
void SettleWaiter(Wait* w, int result) {
  TXTDB_ASSERT(!w->left);
  TXTDB_ASSERT(result != os::kOsBusy);
  w->left = true;
  if (result == 0 && w->state == WaitState::kCancelled) {
    os::Unlock(w->handle, w->range);  // granted after cancel: give it back
  } else if (result == 0) {
    w->held = true;
  } else if (result != os::kOsAgain) {
    w->err = result;
  }
  w->cv.notify_all();
}

// The waiter thread's body: wait in slices until granted, failed or cancelled.
void RunWait(Wait* w) {
#ifndef _WIN32
  SetWaiterSignalMask();
#endif
  NameWaiterThread();
  std::unique_lock<std::mutex> lk(w->mu);
  int result = os::kOsAgain;
  while (result == os::kOsAgain && w->state == WaitState::kPending) {
    lk.unlock();
    if (g_fault_wait_entry_us > 0) {  // a cancel signal sent now is lost
      std::this_thread::sleep_for(std::chrono::microseconds(g_fault_wait_entry_us));
    }
    result = os::LockWaitSlice(w->handle, w->range, w->exclusive);
    lk.lock();
    if (result == os::kOsAgain && kWaitPollInterval.count() > 0) {
      w->cv.wait_for(lk, kWaitPollInterval, [w] { return w->state != WaitState::kPending; });
    }
  }
  SettleWaiter(w, result);
  const bool teardown = w->teardown, orphaned = w->orphaned;
  napi_threadsafe_function tsfn = w->tsfn;
  lk.unlock();
  if (orphaned) return;  // the env is gone; so may be tsfn
  if (!teardown) napi_call_threadsafe_function(tsfn, nullptr, napi_tsfn_nonblocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
}

// PENDING → GRANTED | FAILED, unless cancelWait() got there first. JS thread.
Napi::Value SettleOnJsThread(Napi::Env env, Wait* w) {
  std::lock_guard<std::mutex> guard(w->mu);
  TXTDB_ASSERT(w->left);
  if (w->state == WaitState::kPending) {
    TXTDB_ASSERT(w->held != (w->err != 0));
    w->state = w->held ? WaitState::kGranted : WaitState::kFailed;
  }
  switch (w->state) {
    case WaitState::kGranted:
      return env.Null();
    case WaitState::kFailed:
      return OsError(env, w->err, kSysWaitLock).Value();
    default:
      TXTDB_ASSERT(w->state == WaitState::kCancelled && !w->held);
      return CancelledError(env).Value();
  }
}

void CallWaitJs(napi_env env, napi_value js_callback, void* context, void*) {
  if (env == nullptr || js_callback == nullptr) return;  // runtime is draining
  Wait* w = static_cast<Wait*>(context);
  CallBackWith(env, js_callback, [w](Napi::Env napi) { return SettleOnJsThread(napi, w); });
}

// Cancels a wait that is still pending, then joins its thread. JS thread.
void StopAndJoin(Wait* w) {
  if (!w->thread.joinable()) return;
  bool left;
  {
    std::unique_lock<std::mutex> lk(w->mu);
    if (w->state == WaitState::kPending) {
      w->teardown = true;  // the callback will never run: nobody would own a lock
      CancelLocked(w, lk);
    }
    w->orphaned = !w->left;
    left = w->left;
  }
  if (left && w->thread.get_id() != std::this_thread::get_id()) {
    w->thread.join();
  } else {
    w->thread.detach();
  }
}

void OnWaitEnvCleanup(void* arg) {
  Wait* w = static_cast<Wait*>(arg);
  w->hooked = false;  // the runtime drops a hook once it ran
  StopAndJoin(w);
}

// The thread-safe function is gone: the thread released it (or the env is
// being torn down). Runs on the JS thread.
void OnWaitFinalize(napi_env env, void* data, void*) {
  Wait* w = static_cast<Wait*>(data);
  if (w->hooked) napi_remove_env_cleanup_hook(env, OnWaitEnvCleanup, w);
  w->hooked = false;
  StopAndJoin(w);
  UnregisterWait(w);
  if (!w->orphaned) delete w;
}

void StartWaitThread(Napi::Env env, Wait* w) {
  try {
    w->thread = std::thread(RunWait, w);
  } catch (const std::system_error& e) {
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);  // finalizer frees w
    int err = e.code().value() > 0 ? e.code().value() : EAGAIN;
    throw MakeError(env, ErrorCode(err), err, "pthread_create", e.what());
  }
}

void CreateWaitFunction(Napi::Env env, Wait* w, Napi::Function callback) {
  Napi::String name = Napi::String::New(env, "txtdb.lockWait");
  napi_status status = napi_create_threadsafe_function(
      env, callback, nullptr, name, 0, 1, w, OnWaitFinalize, w, CallWaitJs, &w->tsfn);
  if (status == napi_ok) return;
  UnregisterWait(w);
  delete w;
  throw MakeError(env, "ENOMEM", ENOMEM, "napi_create_threadsafe_function",
                  "cannot create a thread-safe function");
}

// ---------------------------------------------------------------------------
// The exported functions. Each validates, then calls the code above.
// ---------------------------------------------------------------------------

Napi::Value Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ExpectArgs(info, 4, "attach");
  int32_t fd = ArgDescriptor(info, 0, "attach");
  ArgPath(info, 1, "attach");
  uint64_t dev = ArgDecimal(info, 2, "attach");
  uint64_t ino = ArgDecimal(info, 3, "attach");
#ifdef _WIN32
  (void)fd, (void)dev, (void)ino;  // a CRT fd is no HANDLE: open our own
  std::u16string path = info[1].As<Napi::String>().Utf16Value();
  DWORD err = 0;
  HANDLE h = os::OpenOwnHandle(reinterpret_cast<const wchar_t*>(path.c_str()), &err);
  if (h == INVALID_HANDLE_VALUE) throw OsError(env, static_cast<int>(err), "CreateFileW");
  return Napi::Number::New(env, AddHandle(h));
#else
  uint64_t fd_dev = 0, fd_ino = 0;
  os::Failure f = os::StatIds(fd, &fd_dev, &fd_ino);
  if (f.err != 0) throw OsError(env, f.err, f.syscall);
  if (fd_dev != dev || fd_ino != ino) {  // NATIVE-2
    throw MakeError(env, "EMISMATCH", 0, "fstat",
                    "descriptor " + std::to_string(fd) + " is dev " + std::to_string(fd_dev) +
                        " ino " + std::to_string(fd_ino) + ", not the file JS opened");
  }
  return Napi::Number::New(env, fd);
#endif
}

Napi::Value Detach(const Napi::CallbackInfo& info) {
  ExpectArgs(info, 1, "detach");
  int32_t token = ArgDescriptor(info, 0, "detach");
#ifdef _WIN32
  CloseToken(token);
#else
  (void)token;  // JS owns the descriptor; closing it is JS's job
#endif
  return info.Env().Undefined();
}

Napi::Value Datasync(const Napi::CallbackInfo& info) {
  ExpectArgs(info, 2, "datasync");
  int32_t token = ArgDescriptor(info, 0, "datasync");
  Napi::Function callback = ArgFunction(info, 1, "datasync");
  auto r = std::make_unique<SyncRequest>();
  r->handle = HandleOf(token);
  QueueSync(info.Env(), std::move(r), callback);
  return info.Env().Undefined();
}

Napi::Value DatasyncSync(const Napi::CallbackInfo& info) {
  ExpectArgs(info, 1, "datasyncSync");
  int32_t token = ArgDescriptor(info, 0, "datasyncSync");
  os::Failure f = os::Datasync(HandleOf(token));
  if (f.err != 0) throw OsError(info.Env(), f.err, f.syscall);
  return info.Env().Undefined();
}

Napi::Value SyncDir(const Napi::CallbackInfo& info) {
  ExpectArgs(info, 2, "syncDir");
  std::string path = ArgPath(info, 0, "syncDir");
  Napi::Function callback = ArgFunction(info, 1, "syncDir");
  auto r = std::make_unique<SyncRequest>();
  r->is_dir = true;
  r->dir = std::move(path);
  QueueSync(info.Env(), std::move(r), callback);
  return info.Env().Undefined();
}

#ifndef _WIN32
// NATIVE-12: the mapping lives as long as the ArrayBuffer; the descriptor may close first.
Napi::Value MapShared(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ExpectArgs(info, 2, "mapShared");
  int32_t token = ArgDescriptor(info, 0, "mapShared");
  int64_t length = ArgByteCount(info, 1, "mapShared");
  void* data = nullptr;
  os::Failure f = os::MapShared(HandleOf(token), length, &data);
  if (f.err != 0) throw OsError(env, f.err, f.syscall);
  auto* bytes = new int64_t(length);
  return Napi::ArrayBuffer::New(
      env, data, static_cast<size_t>(length),
      [](Napi::Env, void* p, int64_t* n) {
        os::Unmap(p, *n);
        delete n;
      },
      bytes);
}
#endif

Napi::Value TryLock(const Napi::CallbackInfo& info) {
  ExpectArgs(info, 4, "tryLock");
  int32_t token = ArgDescriptor(info, 0, "tryLock");
  os::Range range = ArgRange(info, 1, "tryLock");
  bool exclusive = ArgBool(info, 3, "tryLock");
  int result = os::TryLock(HandleOf(token), range, exclusive);
  if (result > 0) throw OsError(info.Env(), result, kSysSetLock);
  return Napi::Boolean::New(info.Env(), result == 0);
}

Napi::Value Unlock(const Napi::CallbackInfo& info) {
  ExpectArgs(info, 3, "unlock");
  int32_t token = ArgDescriptor(info, 0, "unlock");
  os::Range range = ArgRange(info, 1, "unlock");
  int err = os::Unlock(HandleOf(token), range);
  if (err != 0) throw OsError(info.Env(), err, kSysUnlock);
  return info.Env().Undefined();
}

Napi::Value TestLock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ExpectArgs(info, 4, "testLock");
  int32_t token = ArgDescriptor(info, 0, "testLock");
  os::Range range = ArgRange(info, 1, "testLock");
  bool exclusive = ArgBool(info, 3, "testLock");
  os::LockMode mode = os::LockMode::kNone;
  int err = os::TestLock(HandleOf(token), range, exclusive, &mode);
  if (err != 0) throw OsError(env, err, kSysTestLock);
  if (mode == os::LockMode::kNone) return env.Null();
  return Napi::String::New(env, mode == os::LockMode::kShared ? "shared" : "exclusive");
}

Napi::Value LockWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ExpectArgs(info, 5, "lockWait");
  int32_t token = ArgDescriptor(info, 0, "lockWait");
  os::Range range = ArgRange(info, 1, "lockWait");
  bool exclusive = ArgBool(info, 3, "lockWait");
  Napi::Function callback = ArgFunction(info, 4, "lockWait");
#ifndef _WIN32
  if (g_cancel_signal == 0) {
    throw MakeError(env, "ENOTSUP", ENOTSUP, "sigaction",
                    "no free signal to cancel lock waits with; use tryLock");
  }
#endif
  Wait* w = new Wait();
  w->env = env;
  w->handle = HandleOf(token);
  w->range = range;
  w->exclusive = exclusive;
  if (!RegisterWait(w)) {
    delete w;
    throw MakeError(env, "ENOLCK", ENOLCK, "lockWait",
                    "too many pending lock waits (" + std::to_string(kWaitCountMax) + ")");
  }
  CreateWaitFunction(env, w, callback);
  StartWaitThread(env, w);
  // After the tsfn's own hook, so ours runs first at teardown (NATIVE-11).
  w->hooked = napi_add_env_cleanup_hook(env, OnWaitEnvCleanup, w) == napi_ok;
  return Napi::Number::New(env, w->id);
}

Napi::Value CancelWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ExpectArgs(info, 1, "cancelWait");
  if (!IsIntegerIn(info[0], 0, 4294967296.0)) {
    ThrowTypeError(env, "cancelWait", "waitId must be an integer in [0, 2^32)");
  }
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  Wait* w = FindWait(id, env);
  if (w == nullptr) return Napi::Boolean::New(env, false);
  std::unique_lock<std::mutex> lk(w->mu);
  if (w->state != WaitState::kPending) return Napi::Boolean::New(env, false);
  CancelLocked(w, lk);
  return Napi::Boolean::New(env, true);
}

// NATIVE-13: crc32c(bytes, start, end, crc) — CRC-32C of bytes[start, end),
// continuing crc; the same result as src/engine/_crc32c.ts (txtdb_crc32c.h).
Napi::Value Crc32c(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ExpectArgs(info, 4, "crc32c");
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowTypeError(env, "crc32c", "bytes must be a Uint8Array");
  }
  auto bytes = info[0].As<Napi::Uint8Array>();
  int64_t start = ArgByteCount(info, 1, "crc32c");
  int64_t end = ArgByteCount(info, 2, "crc32c");
  if (start > end || static_cast<size_t>(end) > bytes.ElementLength()) {
    ThrowTypeError(env, "crc32c", "need 0 <= start <= end <= bytes.length");
  }
  if (!IsIntegerIn(info[3], 0, 4294967296.0)) ThrowTypeError(env, "crc32c", "crc must be an integer in [0, 2^32)");
  uint32_t crc = info[3].As<Napi::Number>().Uint32Value();
  uint32_t out = crc::Crc32c(crc, bytes.Data() + start, static_cast<size_t>(end - start));
  return Napi::Number::New(env, static_cast<double>(out));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
#ifndef _WIN32
  std::call_once(g_cancel_once, InstallCancelSignal);
#endif
  std::call_once(g_fault_once, ReadFaultInjection);
  exports.Set("lockFamily", kLockFamily);
  exports.Set("abi", kNativeAbi);
  // Template form: no per-function CallbackData, no finalizer (PLATFORM TRAPS).
  exports.Set("attach", Napi::Function::New<Attach>(env, "attach"));
  exports.Set("detach", Napi::Function::New<Detach>(env, "detach"));
  exports.Set("datasync", Napi::Function::New<Datasync>(env, "datasync"));
  exports.Set("datasyncSync", Napi::Function::New<DatasyncSync>(env, "datasyncSync"));
  exports.Set("syncDir", Napi::Function::New<SyncDir>(env, "syncDir"));
  exports.Set("tryLock", Napi::Function::New<TryLock>(env, "tryLock"));
  exports.Set("lockWait", Napi::Function::New<LockWait>(env, "lockWait"));
  exports.Set("cancelWait", Napi::Function::New<CancelWait>(env, "cancelWait"));
  exports.Set("unlock", Napi::Function::New<Unlock>(env, "unlock"));
  exports.Set("testLock", Napi::Function::New<TestLock>(env, "testLock"));
  exports.Set("crc32c", Napi::Function::New<Crc32c>(env, "crc32c"));
#ifndef _WIN32
  exports.Set("mapShared", Napi::Function::New<MapShared>(env, "mapShared"));
#endif
  return exports;
}

}  // namespace
}  // namespace txtdb

static Napi::Object InitTxtdb(Napi::Env env, Napi::Object exports) {
  return txtdb::Init(env, exports);
}

NODE_API_MODULE(txtdb, InitTxtdb)
