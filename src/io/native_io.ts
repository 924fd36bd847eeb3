/**
 * nativeIO() — the FileIO on a real disk: `node:fs` descriptors plus the
 * native addon (native/txtdb.cc) for durable syncs and byte-range locks.
 *
 * Why both. `node:fs` gives real OS descriptors in Node, Deno and Bun alike
 * (Deno's own `Deno.FsFile` exposes none), and its reads and writes are as
 * fast as anything. What no runtime provides is byte-range locking, and
 * macOS needs F_FULLFSYNC for a sync that survives power loss: that is the
 * addon's job. Each descriptor is attached to the addon once, at open, with
 * a device/inode check that the number the addon gets is the file JS opened
 * (NIO-1).
 *
 * - NIO-1  A handle's descriptor is checked at open: the addon's fstat must
 *          agree with JS's on device and inode, else the open fails.
 * - NIO-2  A descriptor is closed only after every operation and lock wait on
 *          it has settled, so a number the kernel reuses is never touched.
 * - NIO-3  Lock waits run on the addon's own threads, never on the runtime's
 *          worker pool (4 waiting locks there would hang Node's async fs).
 * - NIO-4  Without a loadable addon, nativeIO() runs in an explicit
 *          single-process mode: `name` is "native-single-process",
 *          `lockScope` is "process", a warning with code TXTDB_NO_NATIVE is
 *          emitted once, and `claimDirectory()` keeps other processes out of a
 *          database. It never runs several processes without real locks.
 * - NIO-5  Writes of at most `inlineWriteBytesMax` bytes, reads of at most
 *          `inlineReadBytesMax`, and the name lookups — open (of a file
 *          that exists), stat, fstat, readdir — run on the calling thread:
 *          they copy into or out of the page cache (or read the inode and
 *          directory caches), and a hop to a worker thread costs more than
 *          they do (about 30 µs on a 2-core machine, measured in
 *          bench/io.bench.ts; a cold open made a dozen such hops). The
 *          folders the engine lists hold a few log segments, or one
 *          namespace's pages (listed by a checkpoint, DB-7). A write never
 *          waits for the disk; a small read of a cold file waits for a disk
 *          read or two (its directory entry and inode, its bytes), as a page
 *          fault of an mmap-based store would — most of the engine's small
 *          reads are of the log tail others just wrote.
 *          A whole file (a page, the manifest) is opened, sized and — up to
 *          inlineCloseBytesMax — closed on the calling thread, and read in one
 *          read off it (inline up to inlineReadBytesMax), where fs.readFile
 *          made four hops (open, fstat, read, close). Larger reads and
 *          writes, creations, closes of handles (the last one of an unlinked
 *          segment frees its blocks), renames, unlinks and every sync go off
 *          the JS thread: a scan of 4× the cache reading its 64 KB pages
 *          inline grew V8's heap to 29.5 MB instead of 21.5 (the memory
 *          check's peak RSS 88-90 MB instead of 79-83); created inline, the
 *          pages of a checkpoint cost a busy process 4% of its time.
 *          Two exceptions a caller asks for:
 *          - readFile(path, { inline: true }), for a read it waits on with
 *            nothing else to do (the manifest at open, the page of a point
 *            read), runs on the calling thread up to inlineAskedBytesMax.
 *            A cold open of a database whose log segments are small and a
 *            first point read then never start the runtime's worker pool:
 *            7.6 → 6.9 ms (medians of 20, A/B, a 100k-row database). A
 *            cold page blocks the event loop for its disk read, as a page
 *            fault of an mmap-based store would.
 *          - datasync({ blocking: true }) runs on the calling thread (the
 *            addon's datasyncSync).
 * - NIO-6  mapShared() maps through a descriptor of its own, closed at once:
 *          the mapping, which lives until its buffer is collected, holds
 *          none of the handle's locks — they go at close().
 */
import fs from "node:fs";
import os from "node:os";
import process from "node:process";
import { ErrorCode, TxtDbError, assert, assertionFailed } from "../errors.ts";
import type { DatasyncOptions, DirectoryClaim, FileHandle, FileIO, FileStat, LockMode, LockOptions, LockScope, OpenOptions, ReadFileOptions } from "./file_io.ts";
import type { NativeAddon } from "./_native_api.ts";
import { loadNative } from "./_native.ts";
import { LockTable } from "./_lock_table.ts";
import { closedError, ioError } from "./_os_error.ts";
import { joinPath } from "./path.ts";

export interface NativeIOOptions {
  /**
   * What to do when the native addon cannot be loaded (an unsupported
   * platform): "single-process" (default) opens in single-process mode and
   * warns (NIO-4); "error" throws TXTDB_NO_NATIVE.
   */
  withoutAddon?: "single-process" | "error";
  /**
   * Run in single-process mode even when the addon loads (NIO-4): for file
   * systems without byte-range locks, and to test that mode. Default false.
   */
  singleProcess?: boolean;
}

/** NIO-5: writes up to this size go straight into the page cache on the calling thread. */
const inlineWriteBytesMax = 64 << 10;
/** NIO-5: reads up to this size copy out of the page cache on the calling thread. */
const inlineReadBytesMax = 16 << 10;
/** NIO-5: a whole-file read asked for `inline` runs on the calling thread up to this size (a page is ~64 KB, the manifest of 350 pages ~60 KB). */
const inlineAskedBytesMax = 256 << 10;
/** NIO-5: a whole-file read closes its descriptor on the calling thread up to this file size. */
const inlineCloseBytesMax = 1 << 20;

/** Name of the file that holds a directory claim in single-process mode. */
export const claimFileName = "txtdb.claim";

/** Locks of single-process mode: process-wide, so two handles in one process still conflict (IO-5). */
const processLocks = new LockTable();
let warnedNoNative = false;

/**
 * The FileIO on a real disk. See the file header.
 *
 * @example
 * ```ts
 * import { nativeIO } from "txtdb";
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * const io = nativeIO();
 * const dir = mkdtempSync(tmpdir() + "/txtdb-");
 * const f = await io.open(dir + "/hello.txt", { create: true });
 * await f.write(0, new TextEncoder().encode("hello\n"));
 * await f.datasync();              // the bytes are on stable storage now
 * await f.close();
 * await io.syncDir(dir);           // and so is the file's name
 * console.log(io.lockScope);       // "os": other processes see this FileIO's locks
 * ```
 */
export function nativeIO(options: NativeIOOptions = {}): FileIO {
  if (options.singleProcess === true) return new NativeIO(null);
  const loaded = loadNative();
  if (loaded.addon !== null) return new NativeIO(loaded.addon);
  if (options.withoutAddon === "error") {
    throw new TxtDbError(ErrorCode.NO_NATIVE, `txtdb's native addon could not be loaded (${loaded.error.message}); ` +
      "reinstall txtdb, or build it from source with `npx node-gyp rebuild` in its folder.", { cause: loaded.error });
  }
  if (!warnedNoNative) {
    warnedNoNative = true;
    process.emitWarning(`txtdb's native addon could not be loaded (${loaded.error.message}). ` +
      "Databases open in single-process mode: a second process is refused with TXTDB_LOCKED.", { code: ErrorCode.NO_NATIVE });
  }
  return new NativeIO(null);
}

class NativeIO implements FileIO {
  readonly name: string;
  readonly lockScope: LockScope;
  readonly #addon: NativeAddon | null;
  readonly claimDirectory?: (dir: string) => Promise<DirectoryClaim>;

  constructor(addon: NativeAddon | null) {
    this.#addon = addon;
    this.name = addon === null ? "native-single-process" : "native";
    this.lockScope = addon === null ? "process" : "os";
    if (addon === null) this.claimDirectory = claimDirectory;
  }

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL } = fs.constants;
    let flags = options.readOnly === true ? O_RDONLY : O_RDWR;
    if (options.create === true) flags |= O_CREAT | (options.exclusive === true ? O_EXCL : 0);
    let fd: number;
    try {
      // NIO-5: opening a file that exists is a name lookup, made inline;
      // creating one writes its folder (on ext4 a journal handle, ~100 µs
      // each for the pages a checkpoint writes): off the JS thread.
      const creates = options.create === true && (options.exclusive === true || fs.statSync(path, { throwIfNoEntry: false }) === undefined);
      fd = creates ? await call<number>((cb) => fs.open(path, flags, 0o644, cb)) : fs.openSync(path, flags, 0o644);
    } catch (err) {
      throw ioError(err, "open", path);
    }
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
      // NIO-1: the addon checks that fd is the OS descriptor of this very file.
      const token = this.#addon?.attach(fd, path, String(st.dev), String(st.ino)) ?? null;
      return new NativeFileHandle(fd, token, this.#addon, path, options.readOnly === true, `${st.dev}:${st.ino}`);
    } catch (err) {
      fs.close(fd, () => {});
      throw ioError(err, "open", path);
    }
  }

  async readFile(path: string, options: ReadFileOptions = {}): Promise<Uint8Array> {
    try {
      const fd = fs.openSync(path, fs.constants.O_RDONLY); // NIO-5: a name lookup
      let size: number | null = null;
      try {
        const st = fs.fstatSync(fd);
        // A size of 0 is an empty file (the log segment a clean close keeps) or a /proc file whose size says nothing: one byte tells which.
        if (st.isFile() && (st.size > 0 || fs.readSync(fd, new Uint8Array(1), 0, 1, 0) === 0)) {
          size = st.size;
          return await readRange(fd, 0, size, options.inline === true ? inlineAskedBytesMax : inlineReadBytesMax);
        }
      } finally {
        await closeReadOnly(fd, size);
      }
      // Not a regular file with a size (a directory, a FIFO, a /proc file): as fs.readFile reads one.
      const buf = await call<Buffer>((cb) => fs.readFile(path, cb));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      throw ioError(err, "read", path);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    try {
      await call<void>((cb) => fs.rename(from, to, cb));
    } catch (err) {
      throw ioError(err, "rename", from);
    }
  }

  async unlink(path: string): Promise<void> {
    try {
      await call<void>((cb) => fs.unlink(path, cb));
    } catch (err) {
      throw ioError(err, "unlink", path);
    }
  }

  async mkdir(path: string): Promise<void> {
    try {
      await call<string | undefined>((cb) => fs.mkdir(path, { recursive: true }, cb));
    } catch (err) {
      throw ioError(err, "mkdir", path);
    }
  }

  async rmdir(path: string): Promise<void> {
    try {
      await call<void>((cb) => fs.rmdir(path, cb));
    } catch (err) {
      throw ioError(err, "rmdir", path);
    }
  }

  async readdir(path: string): Promise<string[]> {
    try {
      return fs.readdirSync(path).sort(); // NIO-5
    } catch (err) {
      throw ioError(err, "readdir", path);
    }
  }

  async stat(path: string): Promise<FileStat | undefined> {
    try {
      const st = fs.statSync(path, { throwIfNoEntry: false }); // NIO-5; no error object (a stack trace) for a missing file
      if (st === undefined) return undefined;
      return { size: st.isDirectory() ? 0 : st.size, isDirectory: st.isDirectory() };
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT") return undefined;
      throw ioError(err, "stat", path);
    }
  }

  async syncDir(path: string): Promise<void> {
    try {
      const addon = this.#addon;
      if (addon !== null) return await call<void>((cb) => addon.syncDir(path, cb));
      if (process.platform === "win32") return; // Windows has no directory fsync; NTFS journals names.
      const fd = await call<number>((cb) => fs.open(path, fs.constants.O_RDONLY, cb));
      try {
        await call<void>((cb) => fs.fsync(fd, cb));
      } finally {
        fs.close(fd, () => {});
      }
    } catch (err) {
      throw ioError(err, "syncDir", path);
    }
  }
}

class NativeFileHandle implements FileHandle {
  readonly path: string;
  readonly #fd: number;
  readonly #token: number | null;
  readonly #addon: NativeAddon | null;
  readonly #readOnly: boolean;
  /** dev:ino, the key of single-process locks. */
  readonly #identity: string;
  /** NIO-2: operations and lock waits in flight, and who waits for them to drain. */
  #inFlight = 0;
  #drained: (() => void) | null = null;
  readonly #waits = new Set<number>();
  #closing: Promise<void> | null = null;

  constructor(fd: number, token: number | null, addon: NativeAddon | null, path: string, readOnly: boolean, identity: string) {
    this.#fd = fd;
    this.#token = token;
    this.#addon = addon;
    this.path = path;
    this.#readOnly = readOnly;
    this.#identity = identity;
  }

  /** Runs one operation on the descriptor, counted for NIO-2, with errors mapped (IO-8). */
  async #op<T>(operation: string, body: (fd: number) => Promise<T>): Promise<T> {
    if (this.#closing !== null) throw closedError(this.path);
    this.#inFlight++;
    try {
      return await body(this.#fd);
    } catch (err) {
      throw ioError(err, operation, this.path);
    } finally {
      if (--this.#inFlight === 0) this.#drained?.();
    }
  }

  read(position: number, length: number): Promise<Uint8Array> {
    return this.#op("read", async (fd) => readRange(fd, position, length));
  }

  readNow(position: number, length: number): Uint8Array {
    assert(length <= 64, "readNow() is for probes of at most 64 bytes");
    if (this.#closing !== null) throw closedError(this.path);
    try {
      return readAtInline(this.#fd, position, length);
    } catch (err) {
      throw ioError(err, "read", this.path);
    }
  }

  mapShared(length: number): ArrayBuffer | null {
    if (this.#closing !== null) throw closedError(this.path);
    const addon = this.#addon;
    if (addon === null || addon.mapShared === undefined || this.#token === null) return null;
    try {
      if (fs.fstatSync(this.#fd).size < length) fs.ftruncateSync(this.#fd, length); // grows, never shrinks
      return mapThroughOwnDescriptor(addon, this.path, this.#identity, length); // NIO-6
    } catch (err) {
      throw ioError(err, "mmap", this.path);
    }
  }

  readAll(): Promise<Uint8Array> {
    return this.#op("read", async (fd) => {
      return readRange(fd, 0, fs.fstatSync(fd).size); // NIO-5: the fstat
    });
  }

  write(position: number, data: Uint8Array): Promise<void> {
    return this.#op("write", async (fd) => {
      if (data.length <= inlineWriteBytesMax) writeAtInline(fd, position, data);
      else await writeAt(fd, position, data);
    });
  }

  append(data: Uint8Array): Promise<number> {
    return this.#op("append", async (fd) => {
      const end = fs.fstatSync(fd).size; // NIO-5: metadata from the inode, never waits for the disk
      if (data.length <= inlineWriteBytesMax) writeAtInline(fd, end, data);
      else await writeAt(fd, end, data);
      return end;
    });
  }

  truncate(size: number): Promise<void> {
    return this.#op("truncate", (fd) => call<void>((cb) => fs.ftruncate(fd, size, cb)));
  }

  size(): Promise<number> {
    return this.#op("size", async (fd) => fs.fstatSync(fd).size); // NIO-5
  }

  datasync(options?: DatasyncOptions): Promise<void> {
    return this.#op("datasync", async (fd) => {
      const addon = this.#addon;
      const token = this.#token;
      if (options?.blocking === true) {
        if (addon !== null && token !== null) addon.datasyncSync(token);
        else fs.fdatasyncSync(fd);
        return;
      }
      if (addon !== null && token !== null) return call<void>((cb) => addon.datasync(token, cb));
      return call<void>((cb) => fs.fdatasync(fd, cb));
    });
  }

  tryLock(start: number, length: number, mode: LockMode): boolean {
    this.#checkLock(start, length, mode);
    try {
      if (this.#addon === null) return processLocks.tryLock(this.#identity, this, start, length, mode);
      return this.#addon.tryLock(this.#token!, start, length, mode === "exclusive");
    } catch (err) {
      throw ioError(err, "lock", this.path);
    }
  }

  lock(start: number, length: number, mode: LockMode, options: LockOptions = {}): Promise<void> {
    const { signal } = options;
    try {
      this.#checkLock(start, length, mode);
      if (signal?.aborted) throw abortedError(this.path, signal);
      if (this.tryLock(start, length, mode)) return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#addon === null) return processLocks.lock(this.#identity, this, start, length, mode, signal);
    return this.#op("lock", () => this.#waitForLock(this.#addon!, start, length, mode, signal));
  }

  /** NIO-3: the wait runs on an addon thread; aborting cancels it there. */
  #waitForLock(addon: NativeAddon, start: number, length: number, mode: LockMode, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => void addon.cancelWait(id);
      const id = addon.lockWait(this.#token!, start, length, mode === "exclusive", (err) => {
        this.#waits.delete(id);
        signal?.removeEventListener("abort", onAbort);
        if (err === null) return resolve();
        if ((err as { code?: string }).code !== "ECANCELED") return reject(err);
        if (signal?.aborted) return reject(abortedError(this.path, signal));
        reject(closedError(this.path));
      });
      this.#waits.add(id);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  unlock(start: number, length: number): void {
    if (this.#closing !== null) throw closedError(this.path);
    try {
      if (this.#addon === null) processLocks.unlock(this.#identity, this, start, length);
      else this.#addon.unlock(this.#token!, start, length);
    } catch (err) {
      throw ioError(err, "unlock", this.path);
    }
  }

  testLock(start: number, length: number, mode: LockMode): LockMode | null {
    this.#checkLock(start, length, mode);
    try {
      if (this.#addon === null) return processLocks.test(this.#identity, this, start, length, mode);
      return this.#addon.testLock(this.#token!, start, length, mode === "exclusive");
    } catch (err) {
      throw ioError(err, "testLock", this.path);
    }
  }

  #checkLock(start: number, length: number, mode: LockMode): void {
    if (this.#closing !== null) throw closedError(this.path);
    if (!(Number.isSafeInteger(start) && start >= 0 && Number.isSafeInteger(length) && length >= 0)) {
      assertionFailed(`lock range must be safe integers ≥ 0, got start ${start}, length ${length}`);
    }
    if (mode === "exclusive" && this.#readOnly) {
      throw new TxtDbError(ErrorCode.IO, `cannot take an exclusive lock on '${this.path}': the handle is read-only`, { file: this.path });
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // NIO-2: cancel lock waits and let every operation settle before the
    // descriptor number goes back to the kernel.
    for (const id of this.#waits) this.#addon?.cancelWait(id);
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    if (this.#addon === null) processLocks.releaseOwner(this.#identity, this);
    else this.#addon.detach(this.#token!);
    try {
      await call<void>((cb) => fs.close(this.#fd, cb)); // the last close of an unlinked file frees its blocks
    } catch (err) {
      throw ioError(err, "close", this.path);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Adapts a node:fs callback call to a promise (the callback API is faster than fs.promises). */
function call<T>(start: (cb: (err: Error | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

async function readAt(fd: number, position: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = await call<number>((cb) => fs.read(fd, buf, done, length - done, position + done, cb));
    if (n === 0) break;
    done += n;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/**
 * NIO-6: maps `length` bytes of `path` through a descriptor opened for it and
 * closed at once. A mapping keeps the open file description it was made
 * through until it is unmapped — when the buffer is collected — and a
 * description's byte-range locks (OFD) live as long as it does: mapped
 * through the handle's own descriptor, a closed database handle kept its
 * reader slot until the garbage collector ran (another handle then saw it
 * open, and a process reopening a database took a new slot each time).
 */
function mapThroughOwnDescriptor(addon: NativeAddon, path: string, identity: string, length: number): ArrayBuffer {
  const fd = fs.openSync(path, fs.constants.O_RDWR);
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    if (`${st.dev}:${st.ino}` !== identity) throw Object.assign(new Error("the file was replaced since this handle opened it"), { code: "ESTALE" });
    const token = addon.attach(fd, path, String(st.dev), String(st.ino));
    try {
      return addon.mapShared!(token, length);
    } finally {
      addon.detach(token);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * NIO-5: a read-only descriptor of a regular file of at most
 * inlineCloseBytesMax bytes closes on the calling thread (even the last close
 * of an unlinked one frees few blocks); any other, off it. Awaited either
 * way: no descriptor outlives the read that opened it.
 */
async function closeReadOnly(fd: number, size: number | null): Promise<void> {
  if (size !== null && size <= inlineCloseBytesMax) fs.closeSync(fd);
  else await call<void>((cb) => fs.close(fd, cb));
}

/** NIO-5: a read of at most `inlineMax` bytes on the calling thread, a larger one off it. */
function readRange(fd: number, position: number, length: number, inlineMax = inlineReadBytesMax): Uint8Array | Promise<Uint8Array> {
  return length <= inlineMax ? readAtInline(fd, position, length) : readAt(fd, position, length);
}

/** NIO-5: a small read, on the calling thread. */
function readAtInline(fd: number, position: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buf : buf.subarray(0, done);
}

/** IO-1, NIO-5: a small write into the page cache, on the calling thread. */
function writeAtInline(fd: number, position: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, position + done);
}

/** IO-1: loops over short writes until every byte is written. */
async function writeAt(fd: number, position: number, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) {
    done += await call<number>((cb) => fs.write(fd, data, done, data.length - done, position + done, cb));
  }
}

function abortedError(path: string, signal: AbortSignal): TxtDbError {
  return new TxtDbError(ErrorCode.ABORTED, `the wait for a lock on '${path}' was aborted`, { cause: signal.reason, file: path });
}

/** Claims held by this process, per claim file, so several handles in one process share one claim. */
const heldClaims = new Map<string, number>();

/**
 * NIO-4: single-process mode keeps other processes out of a directory with a
 * claim file naming the holder (created with O_EXCL). A claim whose process
 * no longer runs on this host is stale and taken over. Without real locks
 * this cannot be airtight — two processes taking over the same stale claim
 * at the same instant can both win — which is why it is only the fallback.
 */
async function claimDirectory(dir: string): Promise<DirectoryClaim> {
  const path = joinPath(dir, claimFileName);
  const held = heldClaims.get(path);
  if (held !== undefined) {
    heldClaims.set(path, held + 1);
    return { release: () => releaseClaim(path) };
  }
  const me = { pid: process.pid, host: os.hostname() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await call<void>((cb) => fs.writeFile(path, JSON.stringify(me) + "\n", { flag: "wx" }, cb));
      heldClaims.set(path, 1);
      return { release: () => releaseClaim(path) };
    } catch (err) {
      if ((err as { code?: string }).code !== "EEXIST") throw ioError(err, "claim", path);
    }
    const holder = await readClaim(path);
    if (holder !== null && (holder.host !== me.host || isAlive(holder.pid))) {
      throw new TxtDbError(ErrorCode.LOCKED, `the database in '${dir}' is open in process ${holder.pid} on ${holder.host}, ` +
        "and without its native addon txtdb lets one process at a time open a database. Close it there, " +
        `or install txtdb's prebuilt addon for multi-process use. (If that process is gone, delete '${path}'.)`, { file: path });
    }
    await call<void>((cb) => fs.unlink(path, cb)).catch(() => {});
  }
  throw new TxtDbError(ErrorCode.LOCKED, `could not claim '${dir}': its claim file keeps changing`, { file: path });
}

async function releaseClaim(path: string): Promise<void> {
  const held = heldClaims.get(path);
  if (held === undefined) return;
  if (held > 1) return void heldClaims.set(path, held - 1);
  heldClaims.delete(path);
  await call<void>((cb) => fs.unlink(path, cb)).catch(() => {});
}

async function readClaim(path: string): Promise<{ pid: number; host: string } | null> {
  try {
    const text = await call<string>((cb) => fs.readFile(path, "utf8", cb));
    const parsed = JSON.parse(text) as { pid?: unknown; host?: unknown };
    if (typeof parsed.pid === "number" && typeof parsed.host === "string") return { pid: parsed.pid, host: parsed.host };
    return null;
  } catch {
    return null; // unreadable or half-written: treated as stale
  }
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}
