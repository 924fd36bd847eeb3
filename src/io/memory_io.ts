/**
 * memoryIO() — an in-memory FileIO that can simulate a crash.
 *
 * Model. Every file keeps two versions of its bytes: the current one (what
 * reads see) and the durable one (what survives a crash); every directory
 * keeps two sets of entries the same way.
 *
 * - MEM-1  `datasync()` makes the file's current bytes and size durable.
 * - MEM-2  `syncDir()` makes the directory's current entries durable; a file
 *          or directory is in a crash image only if every directory on its
 *          path has a durable entry for it (the root always exists).
 * - MEM-3  `crash()` returns a new, independent MemoryIO built from durable
 *          state only; the original keeps working and can crash again. Locks
 *          and open handles do not survive (a crash kills the process).
 * - MEM-4  Crash modes for unsynced file bytes: "drop" (default) keeps none;
 *          "prefix" keeps a random-length prefix of the bytes appended past
 *          the durable size; "torn" tears at 512-byte sectors: each sector below
 *          a random new size holds its new bytes or its old ones (zeros
 *          past the durable size). "prefix" and "torn" draw from a
 *          seeded generator, so a crash image replays from its seed.
 * - MEM-5  A failed datasync (an injected fault) loses the bytes that were
 *          dirty at that moment, the way Linux drops dirty pages after EIO
 *          ("fsyncgate"): reads still see them, a later datasync succeeds,
 *          yet a crash image holds the old bytes there. This is why a
 *          failed datasync must never be retried.
 * - MEM-6  Injected faults (`injectFault`) fail the n-th matching call with
 *          an OS error code; a write fault can first write a prefix (a short
 *          write), as a full disk does.
 *
 * Locks follow the open-file-description semantics of the native adapter
 * (src/io/_lock_table.ts), scoped to this MemoryIO.
 */
import { assert } from "../errors.ts";
import type { FileHandle, FileIO, FileStat, LockMode, LockOptions, OpenOptions } from "./file_io.ts";
import { LockTable } from "./_lock_table.ts";
import { closedError, ioError, osError } from "./_os_error.ts";

/** Operations a fault can be injected into. */
export type MemoryOp =
  | "open" | "read" | "write" | "append" | "truncate" | "datasync"
  | "rename" | "unlink" | "mkdir" | "rmdir" | "readdir" | "syncDir";

export interface FaultRule {
  op: MemoryOp;
  /** The OS error code the call fails with, e.g. "EIO" or "ENOSPC". */
  code: string;
  /** Only calls on this path (or paths it matches) count. For rename, the source path. */
  path?: string | RegExp;
  /** Let this many matching calls succeed before failing. Default 0: the next one fails. */
  skip?: number;
  /** How many matching calls fail once skipping is over. Default 1. */
  times?: number;
  /** write/append only: bytes written before the failure (a short write). Default 0. */
  partialBytes?: number;
}

export type CrashMode = "drop" | "prefix" | "torn";

export interface CrashOptions {
  /** What happens to unsynced bytes (MEM-4). Default "drop", or "prefix" when a seed is given. */
  mode?: CrashMode;
  /** Seed of the generator for "prefix" and "torn". Default 1. */
  seed?: number;
}

/** Counts of calls made through a MemoryIO, for tests and benchmarks. */
export interface MemoryIOCounters {
  datasyncs: number;
  syncDirs: number;
  writes: number;
  renames: number;
}

const sectorBytes = 512;

class MemFile {
  readonly kind = "file";
  readonly id: number;
  /** Current bytes: the first `size` bytes of `data` (a buffer with spare capacity). */
  data: Uint8Array;
  size = 0;
  /** Durable bytes; null means "the first durableSize bytes of `data`", unchanged since the last datasync. */
  durableBytes: Uint8Array | null = null;
  durableSize = 0;
  /** MEM-5: byte ranges whose new content a failed datasync lost, with the old content a crash keeps. */
  lost: Array<{ start: number; old: Uint8Array }> = [];

  constructor(id: number, bytes: Uint8Array = new Uint8Array(0)) {
    this.id = id;
    this.data = new Uint8Array(Math.max(64, bytes.length));
    this.data.set(bytes);
    this.size = bytes.length;
    this.durableSize = bytes.length;
  }

  current(): Uint8Array {
    return this.data.subarray(0, this.size);
  }

  durable(): Uint8Array {
    return this.durableBytes ?? this.data.subarray(0, this.durableSize);
  }

  /** Copy-on-write: before the current bytes below durableSize change, keep the durable ones apart. */
  #detachDurable(): void {
    if (this.durableBytes === null) this.durableBytes = this.data.slice(0, this.durableSize);
  }

  write(position: number, bytes: Uint8Array): void {
    if (position < this.durableSize) this.#detachDurable();
    const end = position + bytes.length;
    this.#reserve(end);
    this.data.set(bytes, position);
    if (end > this.size) this.size = end;
  }

  truncate(size: number): void {
    if (size < this.durableSize) this.#detachDurable();
    // Pages cut off are gone from the cache too, lost or not (MEM-5 applies to what remains).
    this.lost = this.lost.filter((l) => l.start < size).map((l) => ({ start: l.start, old: l.old.subarray(0, size - l.start) }));
    this.#reserve(size);
    if (size < this.size) this.data.fill(0, size, this.size);
    this.size = size;
  }

  /** MEM-1, MEM-5. */
  datasync(): void {
    if (this.lost.length === 0) {
      this.durableBytes = null;
    } else {
      const bytes = this.current().slice();
      for (const { start, old } of this.lost) bytes.set(old.subarray(0, Math.max(0, bytes.length - start)), start);
      this.durableBytes = bytes;
      this.lost = [];
    }
    this.durableSize = this.size;
  }

  /** MEM-5: what a failed datasync loses: every dirty byte keeps its durable value (zero past the durable size). */
  failDatasync(): void {
    const durable = this.durable();
    const current = this.current();
    let at = 0;
    while (at < current.length) {
      if (at < durable.length && current[at] === durable[at]) {
        at++;
        continue;
      }
      const start = at;
      while (at < current.length && !(at < durable.length && current[at] === durable[at])) at++;
      const old = new Uint8Array(at - start);
      old.set(durable.subarray(start, Math.min(at, durable.length)));
      this.lost.push({ start, old });
    }
  }

  #reserve(size: number): void {
    if (size <= this.data.length) return;
    const grown = new Uint8Array(Math.max(size, this.data.length * 2));
    grown.set(this.data.subarray(0, this.size));
    this.data = grown;
  }
}

class MemDir {
  readonly kind = "dir";
  readonly entries = new Map<string, MemNode>();
  /** MEM-2: the entries as of the last syncDir. */
  durableEntries = new Map<string, MemNode>();
}

type MemNode = MemFile | MemDir;

/** Splits a path into its segments, resolving "." and "..", relative to the root. */
function segmentsOf(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return out;
}

/** A small seeded generator (mulberry32), so crash images replay from their seed. */
function seededRandom(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

interface ActiveFault extends FaultRule {
  skipLeft: number;
  timesLeft: number;
}

/**
 * An in-memory FileIO with crash simulation (see the file header, MEM-1…6).
 *
 * @example
 * ```ts
 * import { memoryIO } from "txtdb";
 * const io = memoryIO();
 * const f = await io.open("/log", { create: true });
 * await f.append(new TextEncoder().encode("synced\n"));
 * await f.datasync();
 * await f.append(new TextEncoder().encode("lost\n"));
 * await io.syncDir("/");
 * const after = io.crash();
 * console.log(new TextDecoder().decode(await after.readFile("/log"))); // "synced\n"
 * ```
 */
export class MemoryIO implements FileIO {
  readonly name = "memory";
  readonly lockScope = "process";
  readonly counters: MemoryIOCounters = { datasyncs: 0, syncDirs: 0, writes: 0, renames: 0 };
  readonly #root: MemDir;
  readonly #locks = new LockTable();
  #faults: ActiveFault[] = [];
  #nextId: () => number;

  constructor(root: MemDir = new MemDir(), nextId?: () => number) {
    this.#root = root;
    let id = 0;
    this.#nextId = nextId ?? (() => ++id);
  }

  /** MEM-3, MEM-4: a new MemoryIO holding only what was made durable. */
  crash(options: CrashOptions = {}): MemoryIO {
    const mode = options.mode ?? (options.seed === undefined ? "drop" : "prefix");
    const random = seededRandom(options.seed ?? 1);
    const clones = new Map<MemNode, MemNode>();
    let maxId = 0;
    const cloneFile = (f: MemFile): MemFile => {
      maxId = Math.max(maxId, f.id);
      return new MemFile(f.id, crashBytes(f, mode, random));
    };
    const cloneDir = (d: MemDir): MemDir => {
      const copy = new MemDir();
      for (const [name, node] of d.durableEntries) {
        let c = clones.get(node);
        if (c === undefined) {
          c = node.kind === "file" ? cloneFile(node) : cloneDir(node);
          clones.set(node, c);
        }
        copy.entries.set(name, c);
      }
      copy.durableEntries = new Map(copy.entries);
      return copy;
    };
    const root = cloneDir(this.#root);
    let id = maxId + 1_000_000;
    return new MemoryIO(root, () => ++id);
  }

  /** MEM-6: fail matching calls with an OS error. Rules are checked in the order added. */
  injectFault(rule: FaultRule): void {
    assert(rule.partialBytes === undefined || rule.op === "write" || rule.op === "append", "partialBytes applies to write and append only");
    this.#faults.push({ ...rule, skipLeft: rule.skip ?? 0, timesLeft: rule.times ?? 1 });
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /** Returns the fault that fails this call, if any, consuming it. */
  fault(op: MemoryOp, path: string): ActiveFault | undefined {
    for (const f of this.#faults) {
      if (f.op !== op || f.timesLeft === 0) continue;
      if (f.path !== undefined && !(typeof f.path === "string" ? f.path === path : f.path.test(path))) continue;
      if (f.skipLeft > 0) {
        f.skipLeft--;
        continue;
      }
      f.timesLeft--;
      return f;
    }
    return undefined;
  }

  #check(op: MemoryOp, path: string): void {
    const f = this.fault(op, path);
    if (f !== undefined) throw osError(f.code, op, path, "injected fault");
  }

  async open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    try {
      this.#check("open", path);
      const { dir, name } = this.#parent(path, "open");
      let node = dir.entries.get(name);
      if (node !== undefined && options.create === true && options.exclusive === true) throw osError("EEXIST", "open", path);
      if (node === undefined) {
        if (options.create !== true) throw osError("ENOENT", "open", path);
        node = new MemFile(this.#nextId());
        dir.entries.set(name, node);
      }
      if (node.kind === "dir") throw osError("EISDIR", "open", path);
      return new MemoryFileHandle(this, node, path, options.readOnly === true, this.#locks);
    } catch (err) {
      throw ioError(err, "open", path);
    }
  }

  async readFile(path: string): Promise<Uint8Array> {
    try {
      this.#check("read", path);
      const node = this.#lookup(path, "open");
      if (node.kind === "dir") throw osError("EISDIR", "read", path);
      return node.current().slice();
    } catch (err) {
      throw ioError(err, "read", path);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    try {
      this.#check("rename", from);
      const src = this.#parent(from, "rename");
      const node = src.dir.entries.get(src.name);
      if (node === undefined) throw osError("ENOENT", "rename", from);
      const dst = this.#parent(to, "rename");
      const target = dst.dir.entries.get(dst.name);
      if (target === node) return;
      if (target !== undefined && target.kind !== node.kind) throw osError(target.kind === "dir" ? "EISDIR" : "ENOTDIR", "rename", to);
      if (target?.kind === "dir" && target.entries.size > 0) throw osError("ENOTEMPTY", "rename", to);
      if (node.kind === "dir" && segmentsOf(to).join("/").startsWith(segmentsOf(from).join("/") + "/")) throw osError("EINVAL", "rename", to);
      src.dir.entries.delete(src.name);
      dst.dir.entries.set(dst.name, node);
      this.counters.renames++;
    } catch (err) {
      throw ioError(err, "rename", from);
    }
  }

  async unlink(path: string): Promise<void> {
    try {
      this.#check("unlink", path);
      const { dir, name } = this.#parent(path, "unlink");
      const node = dir.entries.get(name);
      if (node === undefined) throw osError("ENOENT", "unlink", path);
      if (node.kind === "dir") throw osError("EISDIR", "unlink", path);
      dir.entries.delete(name);
    } catch (err) {
      throw ioError(err, "unlink", path);
    }
  }

  async mkdir(path: string): Promise<void> {
    try {
      this.#check("mkdir", path);
      let dir = this.#root;
      for (const name of segmentsOf(path)) {
        let node = dir.entries.get(name);
        if (node === undefined) {
          node = new MemDir();
          dir.entries.set(name, node);
        }
        if (node.kind !== "dir") throw osError("ENOTDIR", "mkdir", path);
        dir = node;
      }
    } catch (err) {
      throw ioError(err, "mkdir", path);
    }
  }

  async rmdir(path: string): Promise<void> {
    try {
      this.#check("rmdir", path);
      const { dir, name } = this.#parent(path, "rmdir");
      const node = dir.entries.get(name);
      if (node === undefined) throw osError("ENOENT", "rmdir", path);
      if (node.kind !== "dir") throw osError("ENOTDIR", "rmdir", path);
      if (node.entries.size > 0) throw osError("ENOTEMPTY", "rmdir", path);
      dir.entries.delete(name);
    } catch (err) {
      throw ioError(err, "rmdir", path);
    }
  }

  async readdir(path: string): Promise<string[]> {
    try {
      this.#check("readdir", path);
      const node = this.#lookup(path, "scandir");
      if (node.kind !== "dir") throw osError("ENOTDIR", "scandir", path);
      return [...node.entries.keys()].sort();
    } catch (err) {
      throw ioError(err, "readdir", path);
    }
  }

  async stat(path: string): Promise<FileStat | undefined> {
    let node: MemNode;
    try {
      node = this.#lookup(path, "stat");
    } catch (err) {
      if ((err as { code?: string }).code === "ENOENT") return undefined;
      throw ioError(err, "stat", path);
    }
    return node.kind === "dir" ? { size: 0, isDirectory: true } : { size: node.size, isDirectory: false };
  }

  /** MEM-2. */
  async syncDir(path: string): Promise<void> {
    try {
      this.#check("syncDir", path);
      const node = this.#lookup(path, "fsync");
      if (node.kind !== "dir") throw osError("ENOTDIR", "fsync", path);
      node.durableEntries = new Map(node.entries);
      this.counters.syncDirs++;
    } catch (err) {
      throw ioError(err, "syncDir", path);
    }
  }

  #lookup(path: string, syscall: string): MemNode {
    let node: MemNode = this.#root;
    for (const name of segmentsOf(path)) {
      if (node.kind !== "dir") throw osError("ENOTDIR", syscall, path);
      const next: MemNode | undefined = node.entries.get(name);
      if (next === undefined) throw osError("ENOENT", syscall, path);
      node = next;
    }
    return node;
  }

  #parent(path: string, syscall: string): { dir: MemDir; name: string } {
    const segments = segmentsOf(path);
    const name = segments.pop();
    if (name === undefined) throw osError("EISDIR", syscall, path);
    const dir = this.#lookup(segments.join("/"), syscall);
    if (dir.kind !== "dir") throw osError("ENOTDIR", syscall, path);
    return { dir, name };
  }
}

/** MEM-4: the bytes of `f` in a crash image. */
function crashBytes(f: MemFile, mode: CrashMode, random: (n: number) => number): Uint8Array {
  const durable = f.durable();
  if (mode === "drop" || f.size <= f.durableSize && f.durableBytes === null) return durable.slice();
  const current = f.current();
  const grownBytes = Math.max(0, current.length - durable.length);
  const size = durable.length + random(grownBytes + 1);
  const out = new Uint8Array(size);
  out.set(durable.subarray(0, size));
  if (mode === "prefix") {
    out.set(current.subarray(durable.length, size), durable.length);
    return out;
  }
  // Torn: each sector independently holds its new bytes or what it held
  // before — the durable bytes, or zeros past the durable size.
  for (let sector = 0; sector < size; sector += sectorBytes) {
    const end = Math.min(size, sector + sectorBytes);
    if (random(2) === 1) out.set(current.subarray(sector, end), sector);
  }
  return out;
}

class MemoryFileHandle implements FileHandle {
  readonly path: string;
  readonly #io: MemoryIO;
  readonly #file: MemFile;
  readonly #readOnly: boolean;
  readonly #locks: LockTable;
  readonly #lockKey: string;
  #closed = false;

  constructor(io: MemoryIO, file: MemFile, path: string, readOnly: boolean, locks: LockTable) {
    this.#io = io;
    this.#file = file;
    this.path = path;
    this.#readOnly = readOnly;
    this.#locks = locks;
    this.#lockKey = String(file.id);
  }

  #use(op: MemoryOp, writes: boolean): void {
    if (this.#closed) throw closedError(this.path);
    if (writes && this.#readOnly) throw osError("EBADF", op, this.path, "the handle is read-only");
    const f = this.#io.fault(op, this.path);
    if (f !== undefined) throw osError(f.code, op, this.path, "injected fault");
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    try {
      this.#use("read", false);
      return this.#file.current().slice(position, position + length);
    } catch (err) {
      throw ioError(err, "read", this.path);
    }
  }

  async readAll(): Promise<Uint8Array> {
    try {
      this.#use("read", false);
      return this.#file.current().slice();
    } catch (err) {
      throw ioError(err, "read", this.path);
    }
  }

  async write(position: number, data: Uint8Array): Promise<void> {
    try {
      this.#writeAt("write", position, data);
    } catch (err) {
      throw ioError(err, "write", this.path);
    }
  }

  async append(data: Uint8Array): Promise<number> {
    try {
      const offset = this.#file.size;
      this.#writeAt("append", offset, data);
      return offset;
    } catch (err) {
      throw ioError(err, "append", this.path);
    }
  }

  /** MEM-6: a fault with partialBytes writes that prefix first (a short write). */
  #writeAt(op: "write" | "append", position: number, data: Uint8Array): void {
    if (this.#closed) throw closedError(this.path);
    if (this.#readOnly) throw osError("EBADF", op, this.path, "the handle is read-only");
    const f = this.#io.fault(op, this.path);
    if (f !== undefined) {
      const partial = Math.min(f.partialBytes ?? 0, data.length);
      if (partial > 0) this.#file.write(position, data.subarray(0, partial));
      throw osError(f.code, op, this.path, `injected fault after ${partial} of ${data.length} bytes`);
    }
    this.#file.write(position, data);
    this.#io.counters.writes++;
  }

  async truncate(size: number): Promise<void> {
    try {
      this.#use("truncate", true);
      this.#file.truncate(size);
    } catch (err) {
      throw ioError(err, "truncate", this.path);
    }
  }

  async size(): Promise<number> {
    if (this.#closed) throw closedError(this.path);
    return this.#file.size;
  }

  async datasync(): Promise<void> {
    if (this.#closed) throw closedError(this.path);
    const f = this.#io.fault("datasync", this.path);
    if (f !== undefined) {
      this.#file.failDatasync();
      throw ioError(osError(f.code, "fdatasync", this.path, "injected fault"), "datasync", this.path);
    }
    this.#file.datasync();
    this.#io.counters.datasyncs++;
  }

  tryLock(start: number, length: number, mode: LockMode): boolean {
    this.#lockable(mode);
    return this.#locks.tryLock(this.#lockKey, this, start, length, mode);
  }

  async lock(start: number, length: number, mode: LockMode, options: LockOptions = {}): Promise<void> {
    this.#lockable(mode);
    return this.#locks.lock(this.#lockKey, this, start, length, mode, options.signal);
  }

  unlock(start: number, length: number): void {
    if (this.#closed) throw closedError(this.path);
    this.#locks.unlock(this.#lockKey, this, start, length);
  }

  testLock(start: number, length: number, mode: LockMode): LockMode | null {
    if (this.#closed) throw closedError(this.path);
    return this.#locks.test(this.#lockKey, this, start, length, mode);
  }

  #lockable(mode: LockMode): void {
    if (this.#closed) throw closedError(this.path);
    if (mode === "exclusive" && this.#readOnly) {
      throw ioError(osError("EBADF", "fcntl", this.path, "an exclusive lock needs a handle open for writing"), "lock", this.path);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#locks.releaseOwner(this.#lockKey, this);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates an in-memory FileIO with crash simulation, for tests (yours and
 * txtdb's). See `MemoryIO`.
 */
export function memoryIO(): MemoryIO {
  return new MemoryIO();
}
