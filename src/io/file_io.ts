/**
 * FileIO — every byte txtdb reads or writes goes through this interface.
 *
 * The engine never names `node:fs`, `Deno` or `Bun`: it is given a FileIO.
 * That keeps the core runtime-agnostic and lets tests swap in `memoryIO()`,
 * which can simulate a crash. Two adapters implement it:
 *
 * - `nativeIO()` (src/io/native_io.ts): `node:fs` descriptors plus the native
 *   addon for durable syncs and open-file-description byte-range locks that
 *   other processes see. Without a loadable addon it degrades to an explicit
 *   single-process mode (locks scoped to this process, a directory claim
 *   file keeps other processes out).
 * - `memoryIO()` (src/io/memory_io.ts): in memory, with `crash()`.
 *
 * Paths are strings with "/" separators. A FileIO resolves relative paths
 * against its own base (the process's working directory for nativeIO, "/"
 * for memoryIO); `joinPath()` in src/io/path.ts builds them.
 *
 * Guarantees every adapter gives (cited as IO-n by asserts and tests; the
 * conformance suite test/file_io_conformance.ts checks each one):
 *
 * - IO-1  `write()` and `append()` write every byte or reject; a rejected
 *         write may have written a prefix (a short write), never anything
 *         past the bytes given. Neither uses the bytes once its promise
 *         has settled: the caller may reuse the buffer (the log does).
 * - IO-2  Nothing is durable until `datasync()` resolves: after a crash a
 *         file holds, for each byte, either its last-synced value or a newer
 *         one; after `datasync()` resolves, every byte written and the size
 *         set before it was called survive a crash.
 * - IO-3  A directory entry (a created, renamed or unlinked name) is durable
 *         only once `syncDir()` of its directory resolves.
 * - IO-4  `rename()` replaces the target atomically: a reader sees the old
 *         file or the new one, never neither and never a mix.
 * - IO-5  Byte-range locks belong to the handle that took them (like POSIX
 *         open-file-description locks): two handles on one file conflict
 *         even in one process; closing a handle releases exactly its locks;
 *         closing another handle of the same file releases none.
 * - IO-6  A shared lock is compatible with shared locks of other handles;
 *         an exclusive lock with nothing. A handle taking a lock on a range
 *         it already holds converts the mode (never conflicts with itself).
 * - IO-7  `lock()` never blocks the JS thread; a wait ends with the lock held,
 *         or with a rejection (TXTDB_ABORTED when its signal aborts) that
 *         leaves no lock behind.
 * - IO-8  Every rejection is a `TxtDbError`: TXTDB_NOT_FOUND (ENOENT),
 *         TXTDB_EXISTS (EEXIST), TXTDB_CLOSED (use after close), TXTDB_ABORTED,
 *         otherwise TXTDB_IO, with the OS error (its `code` such as "EIO" or
 *         "ENOSPC") as `cause` and the path as `file`.
 */

/** Shared (read) or exclusive (write) byte-range lock. */
export type LockMode = "shared" | "exclusive";

/**
 * Who sees a FileIO's locks. "os": the kernel's byte-range locks, seen by
 * every process on the machine. "process": only handles opened through this
 * FileIO see them — true of `memoryIO()` (its files are private anyway) and
 * of the single-process fallback without the native addon.
 */
export type LockScope = "os" | "process";

export interface OpenOptions {
  /** Create the file if it does not exist. Default false: TXTDB_NOT_FOUND. */
  create?: boolean;
  /** With `create`: fail with TXTDB_EXISTS if the file exists. */
  exclusive?: boolean;
  /** Open for reading only: writes, truncate and exclusive locks reject. */
  readOnly?: boolean;
}

export interface ReadFileOptions {
  /**
   * The caller has nothing to do until the bytes arrive (the page of a point
   * read, the manifest an open needs): a FileIO may read them on the calling
   * thread rather than hand the read to a worker. A hint; scans and
   * checkpoints leave it unset.
   */
  inline?: boolean;
}

export interface LockOptions {
  /** Aborting it ends the wait with TXTDB_ABORTED and no lock held (IO-7). */
  signal?: AbortSignal;
}

export interface FileStat {
  /** Size in bytes (0 for a directory). */
  size: number;
  isDirectory: boolean;
}

export interface DatasyncOptions {
  /**
   * The datasync may run on the calling thread, blocking it — and the event
   * loop — until the data is durable; the promise is then settled when the
   * call returns. It saves the two thread wake-ups a datasync off the JS
   * thread costs, for a caller with nothing else to do meanwhile. Default
   * false: the datasync runs off the JS thread. An adapter may ignore it.
   */
  readonly blocking?: boolean;
}

/** An open file. Positions and lengths are byte counts, integers ≥ 0. */
export interface FileHandle {
  /** The path it was opened with. */
  readonly path: string;

  /** Reads up to `length` bytes at `position`; fewer only at end of file. */
  read(position: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: a small read (at most 64 bytes) done before returning, for
   * "did anything change?" probes on hot paths, where a promise costs more
   * than the read. Same result and errors as read(). A FileIO (or a wrapper)
   * without it is simply asked through read().
   */
  readNow?(position: number, length: number): Uint8Array;
  /**
   * Optional: the first `length` bytes of the file, mapped into memory and
   * shared with every process that maps the same file (POSIX mmap
   * MAP_SHARED) — a store by one is seen by a load in another, without a
   * system call. A shorter file is first grown to `length` (never shrunk);
   * nobody may shrink it below them while a mapping lives (a load past the
   * end of a file kills the process). Unmapped when the buffer is collected;
   * closing the handle does not unmap, and the mapping keeps none of the
   * handle's byte-range locks past close(). Null where the FileIO cannot share
   * memory (Windows, no addon): the caller does without — the engine then
   * opens a database only beside handles that do without too (PP-8).
   * memoryIO shares one buffer among the handles of a file (MEM-7).
   */
  mapShared?(length: number): ArrayBuffer | null;
  /** Reads the whole file as it is now. */
  readAll(): Promise<Uint8Array>;
  /** Writes all of `data` at `position`, growing the file if needed (IO-1). */
  write(position: number, data: Uint8Array): Promise<void>;
  /**
   * Writes all of `data` at the current end of the file and resolves with the
   * offset it was written at (IO-1). Appends from several handles or
   * processes are not atomic against each other: serialize them with a lock.
   */
  append(data: Uint8Array): Promise<number>;
  /** Sets the size: cuts the tail, or extends with zero bytes. */
  truncate(size: number): Promise<void>;
  /** The current size in bytes. */
  size(): Promise<number>;
  /**
   * Makes the data and size durable (IO-2): Linux fdatasync, macOS
   * F_FULLFSYNC, Windows FlushFileBuffers. A failed datasync must not be
   * retried to "fix" it: the kernel may already have dropped the unsynced
   * pages, so a second call can succeed without the data being durable.
   */
  datasync(options?: DatasyncOptions): Promise<void>;

  /** Takes the lock now, or returns false when another handle holds a conflicting one (IO-5, IO-6). */
  tryLock(start: number, length: number, mode: LockMode): boolean;
  /** Takes the lock, waiting off the JS thread while another handle holds a conflicting one (IO-7). */
  lock(start: number, length: number, mode: LockMode, options?: LockOptions): Promise<void>;
  /** Releases this handle's locks in the range. Releasing what is not held is not an error. */
  unlock(start: number, length: number): void;
  /**
   * Would the lock be granted now? null if yes, else the mode of a
   * conflicting lock held through another handle. For diagnostics and
   * reader-slot scans; the answer may be stale by the time it is used.
   */
  testLock(start: number, length: number, mode: LockMode): LockMode | null;

  /** Closes the handle and releases its locks. Idempotent; pending operations finish first. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Claim on a directory for one process, for FileIOs whose locks are process-scoped. */
export interface DirectoryClaim {
  release(): Promise<void>;
}

export interface FileIO {
  /** "native", "native-single-process" or "memory": for messages and stats. */
  readonly name: string;
  /** Who sees this FileIO's locks (see LockScope). */
  readonly lockScope: LockScope;
  /**
   * Optional: the bytes of spaces the engine writes ahead of its log appends
   * (SEG-7 in src/engine/log.ts) — on a disk, overwriting them spares each
   * commit's datasync a journal commit. Absent: 1 MiB.
   */
  readonly logPaddingBytes?: number | undefined;

  open(path: string, options?: OpenOptions): Promise<FileHandle>;
  /** The whole content of a file. TXTDB_NOT_FOUND if it does not exist. */
  readFile(path: string, options?: ReadFileOptions): Promise<Uint8Array>;
  /** Atomically moves `from` to `to`, replacing `to` if it exists (IO-4). Durable after syncDir of both directories. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file. TXTDB_NOT_FOUND if it does not exist. Durable after syncDir. */
  unlink(path: string): Promise<void>;
  /** Creates a directory and any missing parents; an existing directory is fine. Durable after syncDir of the parents. */
  mkdir(path: string): Promise<void>;
  /** Removes an empty directory. */
  rmdir(path: string): Promise<void>;
  /** Names in a directory, sorted by UTF-16 code unit order, without "." and "..". */
  readdir(path: string): Promise<string[]>;
  /** Size and kind, or undefined when nothing exists at `path`. */
  stat(path: string): Promise<FileStat | undefined>;
  /** Makes the directory's entries durable (IO-3). */
  syncDir(path: string): Promise<void>;

  /**
   * Present only when `lockScope` is "process" and the files are visible to
   * other processes (the fallback without the native addon): claims the
   * directory for this process alone. Rejects with TXTDB_LOCKED, naming the
   * holder, while another live process holds the claim.
   */
  claimDirectory?(dir: string): Promise<DirectoryClaim>;
}
