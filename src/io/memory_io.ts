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
 * - MEM-4  Crash modes for unsynced file bytes — written (appended or
 *          overwritten) or zeroed since the last datasync: "drop" (default)
 *          keeps none; "prefix" keeps a random-length prefix of them in file
 *          order (for appends: a prefix of what was appended); "torn" tears
 *          at 512-byte sectors: each sector keeps all its new bytes or
 *          none, within a random size between the durable and the current
 *          one (zeros past the durable size). "prefix" and "torn" draw from
 *          a seeded generator, so a crash image replays from its seed.
 * - MEM-5  A failed datasync (an injected fault) loses the bytes that were
 *          dirty at that moment, the way Linux drops dirty pages after EIO
 *          ("fsyncgate"): reads still see them, a later datasync succeeds,
 *          yet a crash image holds the old bytes there — until they are
 *          written again. This is why a failed datasync must never be
 *          retried.
 * - MEM-6  Injected faults (`injectFault`) fail the n-th matching call with
 *          an OS error code; a write fault can first write a prefix (a short
 *          write), as a full disk does.
 * - MEM-7  `mapShared(length)` gives every handle of one file the same
 *          buffer, as MAP_SHARED gives every process one page — but the
 *          buffer is not the file's bytes: reads and writes do not see it
 *          (the engine maps only its lock file, which it never reads or
 *          writes), and a crash image starts without it (all zeros), as
 *          every process that had mapped it died in the crash.
 *          `memoryIO({ mapShared: false })` returns null instead, as a
 *          FileIO that cannot share memory does (its crash images too): the
 *          engine then takes the paths it takes on such a FileIO.
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
  /** Durable bytes: the first `durableSize` bytes of `durableData` (its own buffer; zeros past durableSize). */
  durableData: Uint8Array;
  durableSize = 0;
  /**
   * Byte ranges [start, end) written (or zeroed by a truncate) since the last
   * datasync, sorted and disjoint: what a datasync carries to the durable
   * bytes and what a crash may keep part of (MEM-4). Overwrites inside the
   * durable size count as much as appends.
   */
  dirty: Array<[number, number]> = [];
  /** MEM-7: what mapShared() hands out, made at the first call. */
  shared: ArrayBuffer | null = null;

  constructor(id: number, bytes: Uint8Array = new Uint8Array(0)) {
    this.id = id;
    this.data = new Uint8Array(Math.max(64, bytes.length));
    this.data.set(bytes);
    this.size = bytes.length;
    this.durableData = this.data.slice();
    this.durableSize = bytes.length;
  }

  current(): Uint8Array {
    return this.data.subarray(0, this.size);
  }

  durable(): Uint8Array {
    return this.durableData.subarray(0, this.durableSize);
  }

  write(position: number, bytes: Uint8Array): void {
    const end = position + bytes.length;
    this.data = reserved(this.data, end, this.size);
    this.data.set(bytes, position);
    if (end > this.size) this.size = end;
    this.#markDirty(position, end);
  }

  truncate(size: number): void {
    this.data = reserved(this.data, size, this.size);
    if (size < this.size) this.data.fill(0, size, this.size);
    this.#markDirty(Math.min(size, this.size), Math.max(size, this.size)); // zeros in, or bytes gone
    this.size = size;
  }

  /** MEM-1: the dirty ranges and the size become durable. */
  datasync(): void {
    this.durableData = reserved(this.durableData, this.size, this.durableSize);
    for (const [start, end] of this.dirty) {
      if (start < this.size) this.durableData.set(this.data.subarray(start, Math.min(end, this.size)), start);
    }
    if (this.size < this.durableSize) this.durableData.fill(0, this.size, this.durableSize);
    this.durableSize = this.size;
    this.dirty = [];
  }

  /**
   * MEM-5: a failed datasync loses what was dirty: the pages are marked
   * clean, so no later datasync writes them — only a new write of those
   * bytes does. The size stays as it was durable.
   */
  failDatasync(): void {
    this.dirty = [];
  }

  #markDirty(start: number, end: number): void {
    if (end <= start) return;
    const d = this.dirty;
    const last = d.at(-1);
    if (last === undefined || start > last[1]) {
      d.push([start, end]); // the common case: appends and overwrites moving forward
      return;
    }
    let i = 0;
    while (i < d.length && d[i]![1] < start) i++;
    let j = i;
    let lo = start, hi = end;
    while (j < d.length && d[j]![0] <= end) {
      lo = Math.min(lo, d[j]![0]);
      hi = Math.max(hi, d[j]![1]);
      j++;
    }
    d.splice(i, j - i, [lo, hi]);
  }
}

/** `buf`, or a copy with room for `size` bytes (keeping the first `used`, the rest zeros). */
function reserved(buf: Uint8Array, size: number, used: number): Uint8Array {
  if (size <= buf.length) return buf;
  const grown = new Uint8Array(Math.max(size, buf.length * 2));
  grown.set(buf.subarray(0, used));
  return grown;
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
  /** In memory an overwrite is no cheaper than an append: a little padding keeps crash images small and still exercises it. */
  readonly logPaddingBytes = 4096;
  readonly lockScope = "process";
  readonly counters: MemoryIOCounters = { datasyncs: 0, syncDirs: 0, writes: 0, renames: 0 };
  readonly #root: MemDir;
  readonly #locks = new LockTable();
  #faults: ActiveFault[] = [];
  #nextId: () => number;
  /** MEM-7: whether mapShared() shares memory (else it returns null). */
  readonly sharesMemory: boolean;

  constructor(root: MemDir = new MemDir(), nextId?: () => number, options: MemoryIOOptions = {}) {
    this.#root = root;
    let id = 0;
    this.#nextId = nextId ?? (() => ++id);
    this.sharesMemory = options.mapShared ?? true;
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
    return new MemoryIO(root, () => ++id, { mapShared: this.sharesMemory });
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
  if (mode === "drop" || (f.dirty.length === 0 && f.size === f.durableSize)) return durable.slice();
  const current = f.current();
  if (mode === "prefix") {
    // The dirty bytes in file order, up to a random point (appends: a prefix of what was appended).
    const total = f.dirty.reduce((n, [start, end]) => n + (Math.min(end, f.size) - Math.min(start, f.size)), 0);
    let left = random(total + 1);
    const kept: Array<[number, number]> = [];
    for (const [start, end] of f.dirty) {
      const take = Math.min(left, Math.max(0, Math.min(end, f.size) - start));
      if (take > 0) kept.push([start, start + take]);
      left -= take;
    }
    const size = f.size < f.durableSize ? (left === 0 && total > 0 ? f.size : f.durableSize) : Math.max(f.durableSize, kept.at(-1)?.[1] ?? 0);
    const out = new Uint8Array(size);
    out.set(durable.subarray(0, Math.min(size, durable.length)));
    for (const [start, end] of kept) if (start < size) out.set(current.subarray(start, Math.min(end, size)), start);
    return out;
  }
  // The size a crash leaves: anything from the durable size to the current one.
  const size = f.size >= f.durableSize ? f.durableSize + random(f.size - f.durableSize + 1) : random(2) === 1 ? f.size : f.durableSize;
  const out = new Uint8Array(size);
  out.set(durable.subarray(0, Math.min(size, durable.length)));
  const keep = (from: number, to: number): void => {
    const end = Math.min(to, size, current.length);
    if (from < end) out.set(current.subarray(from, end), from);
  };
  // Torn: each 512-byte sector holding dirty bytes keeps all of its new bytes or none.
  let decided = -1;
  let kept = false;
  for (const [start, end] of f.dirty) {
    for (let at = start; at < end && at < size;) {
      const sector = at - (at % sectorBytes);
      if (sector !== decided) {
        decided = sector;
        kept = random(2) === 1;
      }
      const next = Math.min(end, sector + sectorBytes);
      if (kept) keep(at, next);
      at = next;
    }
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
    return this.readNow(position, length);
  }

  readNow(position: number, length: number): Uint8Array {
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

  /** MEM-7. */
  mapShared(length: number): ArrayBuffer | null {
    if (this.#closed) throw closedError(this.path);
    if (!this.#io.sharesMemory) return null;
    const file = this.#file;
    if (file.size < length) file.truncate(length); // grows, never shrinks
    file.shared ??= new ArrayBuffer(length);
    assert(file.shared.byteLength >= length, `memoryIO maps a file at one length: ${file.shared.byteLength} bytes, asked for ${length}`);
    return file.shared;
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
export function memoryIO(options: MemoryIOOptions = {}): MemoryIO {
  return new MemoryIO(undefined, undefined, options);
}

export interface MemoryIOOptions {
  /** MEM-7: false makes mapShared() return null, as on a FileIO that cannot share memory. Default true. */
  readonly mapShared?: boolean;
}
