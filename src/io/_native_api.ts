/**
 * The contract between the TypeScript adapter (src/io/native.ts) and the C++
 * addon (native/txtdb.cc). Only src/io/ imports this file.
 *
 * Every function is synchronous unless it takes a callback. Errors are thrown
 * (or passed to the callback) as plain `Error`s with these own properties:
 *   code: string   — the errno name, e.g. "EBADF", "EIO", "ENOLCK", or
 *                    "EMISMATCH" when attach() finds the descriptor is not
 *                    the file JS opened;
 *   errno: number  — the OS error number (0 for EMISMATCH);
 *   syscall: string — e.g. "fcntl(F_OFD_SETLK)", "fdatasync", "fstat".
 * The JS adapter maps them to TxtDbError; the addon never throws anything else.
 *
 * Lengths and offsets are byte counts, integers in [0, 2^53). A range of
 * `length` 0 means "from start to the end of the file and beyond" (POSIX l_len 0).
 */
export interface NativeAddon {
  /** "ofd" on Linux/macOS (open-file-description locks), "windows" on Windows. */
  readonly lockFamily: "ofd" | "windows";
  /** Addon ABI version; bump when this interface changes. */
  readonly abi: number;

  /**
   * Binds a descriptor that JS opened (node:fs) to the addon and returns a
   * token that every other call takes. POSIX: fstat(fd) must report the same
   * device and inode as JS's fstat of that descriptor (`dev`, `ino`, given as
   * decimal strings), else it throws code "EMISMATCH": the runtime's fd
   * number is not the OS descriptor. The token is the fd itself on POSIX.
   * Windows: opens a handle of its own on `path` (share read/write/delete),
   * and the token names that handle.
   */
  attach(fd: number, path: string, dev: string, ino: string): number;
  /** Releases what attach() took (Windows: closes the handle). Idempotent. */
  detach(token: number): void;

  /**
   * Makes the file's data and size durable: Linux fdatasync (retried on
   * EINTR); macOS fcntl(F_FULLFSYNC), falling back to F_BARRIERFSYNC, then
   * fsync, only when the previous one is unsupported (ENOTSUP/EINVAL);
   * Windows FlushFileBuffers. Runs on the addon's sync threads (NATIVE-14), never the runtime's pool;
   * the callback gets null or the error.
   */
  datasync(token: number, callback: (err: Error | null) => void): void;
  /** The same, blocking the calling thread (FileHandle.datasync({ blocking: true })). */
  datasyncSync(token: number): void;
  /** fsync of a directory by path (POSIX open(O_RDONLY|O_DIRECTORY)+fsync; a no-op on Windows). Off-thread. */
  syncDir(path: string, callback: (err: Error | null) => void): void;

  /**
   * Tries to take a byte-range lock without waiting (F_OFD_SETLK).
   * true: granted. false: held by someone else (EAGAIN/EACCES). Throws on other errors.
   * Locks are owned by the open file description: two descriptors of one
   * process conflict; closing another descriptor of the file keeps them.
   */
  tryLock(token: number, start: number, length: number, exclusive: boolean): boolean;
  /**
   * Waits for a byte-range lock on a dedicated native thread (never the
   * runtime's worker pool; F_OFD_SETLKW on POSIX). Returns a wait id.
   * The callback runs on the JS thread with null once the lock is held, or
   * an error: code "ECANCELED" after cancelWait(), or the OS error.
   * A pending wait keeps the event loop alive.
   */
  lockWait(token: number, start: number, length: number, exclusive: boolean,
           callback: (err: Error | null) => void): number;
  /**
   * Cancels a pending wait. The wait's callback then gets ECANCELED, and no
   * lock is left behind (if the lock was granted in the race, it is released
   * before the callback runs — unless the callback already got null, in
   * which case cancelWait returns false and the caller owns the lock).
   * Returns true if the wait was still pending.
   */
  cancelWait(waitId: number): boolean;
  /** Releases a range (F_OFD_SETLK F_UNLCK). Releasing an unheld range is not an error. */
  unlock(token: number, start: number, length: number): void;
  /**
   * Would a lock of this mode be granted now? (F_OFD_GETLK). Returns null if
   * yes, else "shared" | "exclusive": the mode of a conflicting lock.
   */
  testLock(token: number, start: number, length: number, exclusive: boolean): null | "shared" | "exclusive";
  /**
   * POSIX mmap(MAP_SHARED, read/write) of the first `length` bytes of the
   * file, which must already hold them (else EINVAL), as an ArrayBuffer that
   * unmaps them when collected. POSIX only: absent on Windows, and from
   * addons built before it (the adapter then does without).
   */
  mapShared?(token: number, length: number): ArrayBuffer;

  /**
   * CRC-32C of bytes[start, end), continuing `crc` (0 to start): the same
   * value as crc32c() in src/engine/_crc32c.ts, with the CPU's crc32
   * instruction where there is one. Synchronous; never blocks. Optional:
   * absent from addons built before it (the JS function then does the work).
   */
  crc32c?(bytes: Uint8Array, start: number, end: number, crc: number): number;
}
