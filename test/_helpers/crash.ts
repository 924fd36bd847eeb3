/**
 * Crash-test helpers shared by test/recovery.test.ts and
 * test/verify_durability.test.ts: a FileIO that reports every sync point
 * (so a test can take a crash image before and after each), a dump of the
 * whole database as plain data, and a model of the state after each TSN.
 */
import assert from "node:assert/strict";
import {
  type CrashOptions, type Database, type DatasyncOptions, type FileHandle, type FileIO, type FileStat, type Key, type LockMode, type LockOptions, type LockScope,
  type MemoryIO, type OpenOptions, type ReadFileOptions,
} from "../../src/mod.ts";
import { collect } from "./expect.ts";

/** A crash image, with the newest TSN whose commit() had resolved when it was taken. */
export interface Image {
  io: MemoryIO;
  acked: number;
  label: string;
}

/**
 * Crash images of `mem` (in the mode `crash(n)` gives the n-th) at every sync
 * point of `phases`, through the FileIO `io`; ack() raises the acknowledged
 * TSN later images carry, final() adds the image after close.
 */
export class CrashImages {
  readonly images: Image[] = [];
  readonly io: HookIO;
  readonly #mem: MemoryIO;
  #acked = 0;
  constructor(mem: MemoryIO, crash: (n: number) => CrashOptions, phases: ReadonlyArray<"before" | "after">) {
    this.#mem = mem;
    this.io = new HookIO(mem, (p) => {
      if (phases.includes(p.phase)) this.#take(crash(this.images.length), `${p.phase} ${p.op} ${p.path} (#${this.images.length})`);
    });
  }
  ack(tsn: number): void {
    this.#acked = Math.max(this.#acked, tsn);
  }
  final(): void {
    this.#take({}, "after close");
  }
  #take(options: CrashOptions, label: string): void {
    this.images.push({ io: this.#mem.crash(options), acked: this.#acked, label });
  }
}

export interface SyncPoint {
  op: "datasync" | "syncDir";
  path: string;
  phase: "before" | "after";
}

export class HookHandle implements FileHandle {
  readonly path: string;
  readonly #h: FileHandle;
  readonly #onSync: (p: SyncPoint) => void;
  /** The optional members, where the wrapped handle has them (the engine then runs as it does on that FileIO). */
  readonly readNow?: (position: number, length: number) => Uint8Array;
  readonly mapShared?: (length: number) => ArrayBuffer | null;
  constructor(h: FileHandle, onSync: (p: SyncPoint) => void) {
    this.#h = h;
    this.path = h.path;
    this.#onSync = onSync;
    if (h.readNow !== undefined) this.readNow = (position, length) => h.readNow!(position, length);
    if (h.mapShared !== undefined) this.mapShared = (length) => h.mapShared!(length);
  }
  read(position: number, length: number): Promise<Uint8Array> {
    return this.#h.read(position, length);
  }
  readAll(): Promise<Uint8Array> {
    return this.#h.readAll();
  }
  write(position: number, data: Uint8Array): Promise<void> {
    return this.#h.write(position, data);
  }
  append(data: Uint8Array): Promise<number> {
    return this.#h.append(data);
  }
  truncate(size: number): Promise<void> {
    return this.#h.truncate(size);
  }
  size(): Promise<number> {
    return this.#h.size();
  }
  async datasync(options?: DatasyncOptions): Promise<void> {
    this.#onSync({ op: "datasync", path: this.path, phase: "before" });
    await this.#h.datasync(options);
    this.#onSync({ op: "datasync", path: this.path, phase: "after" });
  }
  tryLock(start: number, length: number, mode: LockMode): boolean {
    return this.#h.tryLock(start, length, mode);
  }
  lock(start: number, length: number, mode: LockMode, options?: LockOptions): Promise<void> {
    return this.#h.lock(start, length, mode, options);
  }
  unlock(start: number, length: number): void {
    this.#h.unlock(start, length);
  }
  testLock(start: number, length: number, mode: LockMode): LockMode | null {
    return this.#h.testLock(start, length, mode);
  }
  close(): Promise<void> {
    return this.#h.close();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

export class HookIO implements FileIO {
  readonly name = "hook";
  readonly lockScope: LockScope;
  readonly logPaddingBytes: number | undefined;
  readonly #io: FileIO;
  readonly #onSync: (p: SyncPoint) => void;
  constructor(io: FileIO, onSync: (p: SyncPoint) => void) {
    this.#io = io;
    this.lockScope = io.lockScope;
    this.logPaddingBytes = io.logPaddingBytes;
    this.#onSync = onSync;
  }
  async open(p: string, options?: OpenOptions): Promise<FileHandle> {
    return new HookHandle(await this.#io.open(p, options), this.#onSync);
  }
  readFile(p: string, options?: ReadFileOptions): Promise<Uint8Array> {
    return this.#io.readFile(p, options);
  }
  rename(from: string, to: string): Promise<void> {
    return this.#io.rename(from, to);
  }
  unlink(p: string): Promise<void> {
    return this.#io.unlink(p);
  }
  mkdir(p: string): Promise<void> {
    return this.#io.mkdir(p);
  }
  rmdir(p: string): Promise<void> {
    return this.#io.rmdir(p);
  }
  readdir(p: string): Promise<string[]> {
    return this.#io.readdir(p);
  }
  stat(p: string): Promise<FileStat | undefined> {
    return this.#io.stat(p);
  }
  async syncDir(p: string): Promise<void> {
    this.#onSync({ op: "syncDir", path: p, phase: "before" });
    await this.#io.syncDir(p);
    this.#onSync({ op: "syncDir", path: p, phase: "after" });
  }
}

/** Whether `code` appears in the cause chain of `err`. */
export function causedBy(err: unknown, code: string): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, n = 0; e !== undefined && e !== null && n < 10; e = e.cause as typeof e, n++) {
    if (e.code === code) return true;
  }
  return false;
}

export const keyId = (k: Key): string => JSON.stringify(k);

/** Runs a step; a failure names the step. */
export async function stage<T>(label: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new assert.AssertionError({ message: `${label}: ${err instanceof Error ? err.message : String(err)}` });
  }
}

export type Snapshot = Array<[string, Array<[string, unknown]>]>;

/** The whole database as sorted plain data. */
export async function dump(db: Database): Promise<Snapshot> {
  const tx = await db.begin({ readOnly: true });
  try {
    const out: Snapshot = [];
    for (const ns of await db.namespaces()) {
      const rows = (await collect(tx.scan(ns))).map(([k, v]): [string, unknown] => [keyId(k), v]);
      out.push([ns, rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
    }
    return out.sort(([a], [b]) => (a < b ? -1 : 1));
  } finally {
    await tx.rollback();
  }
}

export type ModelOp = { kind: "put"; ns: string; key: Key; value: unknown } | { kind: "del"; ns: string; key: Key } | { kind: "drop"; ns: string };

export class Model {
  /** TSN → the ops of that commit, in the order they apply. */
  readonly commits = new Map<number, ModelOp[]>();

  stateAt(l: number): Snapshot {
    const state = new Map<string, Map<string, unknown>>();
    for (let tsn = 1; tsn <= l; tsn++) {
      const ops = this.commits.get(tsn);
      assert.ok(ops !== undefined, `the model has no commit with TSN ${tsn}`);
      for (const op of ops) {
        if (op.kind === "drop") state.delete(op.ns);
        else {
          let rows = state.get(op.ns);
          if (rows === undefined) state.set(op.ns, (rows = new Map()));
          if (op.kind === "put") rows.set(keyId(op.key), op.value);
          else rows.delete(keyId(op.key));
        }
      }
    }
    const out: Snapshot = [];
    for (const [ns, rows] of state) {
      if (rows.size > 0) out.push([ns, [...rows].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
    }
    return out.sort(([a], [b]) => (a < b ? -1 : 1));
  }

  get lastTsn(): number {
    return this.commits.size;
  }
}
