/**
 * Byte-range locks kept in this process: the lock manager of `memoryIO()` and
 * of the single-process fallback adapter. It gives the same semantics as
 * Linux open-file-description locks (IO-5, IO-6 in file_io.ts), so the engine
 * behaves the same on every adapter:
 *
 * - LT-1  the owner is the handle: two owners on one file conflict, one owner
 *         never conflicts with itself (a new lock converts the mode of the
 *         part of its range it already held);
 * - LT-2  shared is compatible with shared; exclusive with nothing;
 * - LT-3  unlock() removes the owner's locks inside the range only, splitting
 *         a lock that straddles its edges;
 * - LT-4  a waiter is granted as soon as nothing conflicts; waiters are
 *         examined in arrival order on every release;
 * - LT-5  an aborted or closed waiter is removed before it can be granted,
 *         so it leaves no lock behind.
 */
import { ErrorCode, TxtDbError, assert } from "../errors.ts";
import type { LockMode } from "./file_io.ts";

interface Held {
  readonly owner: object;
  readonly start: number;
  /** Exclusive end; Infinity for a range of length 0 ("to the end of the file and beyond"). */
  readonly end: number;
  readonly mode: LockMode;
}

interface Waiter extends Held {
  resolve(): void;
  reject(err: TxtDbError): void;
  detach(): void;
}

interface FileLocks {
  held: Held[];
  waiters: Waiter[];
}

function rangeEnd(start: number, length: number): number {
  assert(Number.isSafeInteger(start) && start >= 0, `lock start must be a safe integer ≥ 0, got ${start}`);
  assert(Number.isSafeInteger(length) && length >= 0, `lock length must be a safe integer ≥ 0, got ${length}`);
  return length === 0 ? Infinity : start + length;
}

export class LockTable {
  /** Locks and waiters per file identity (a path or a dev:inode string). */
  readonly #files = new Map<string, FileLocks>();

  tryLock(file: string, owner: object, start: number, length: number, mode: LockMode): boolean {
    const request = { owner, start, end: rangeEnd(start, length), mode };
    const locks = this.#locks(file);
    if (conflictOf(locks.held, request) !== undefined) return false;
    grant(locks, request);
    return true;
  }

  lock(file: string, owner: object, start: number, length: number, mode: LockMode, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(aborted(file, signal));
    if (this.tryLock(file, owner, start, length, mode)) return Promise.resolve();
    const locks = this.#locks(file);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        removeWaiter(locks, waiter);
        reject(aborted(file, signal));
      };
      const waiter: Waiter = {
        owner, start, end: rangeEnd(start, length), mode, resolve, reject,
        detach: () => signal?.removeEventListener("abort", onAbort),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      locks.waiters.push(waiter);
    });
  }

  unlock(file: string, owner: object, start: number, length: number): void {
    const locks = this.#files.get(file);
    if (locks === undefined) return;
    locks.held = removeCoverage(locks.held, owner, start, rangeEnd(start, length));
    this.#wake(file, locks);
  }

  /** Releases every lock of `owner` and rejects its waiters with TXTDB_CLOSED (a closed handle). */
  releaseOwner(file: string, owner: object): void {
    const locks = this.#files.get(file);
    if (locks === undefined) return;
    locks.held = locks.held.filter((h) => h.owner !== owner);
    for (const w of locks.waiters.filter((w) => w.owner === owner)) {
      removeWaiter(locks, w);
      w.reject(new TxtDbError(ErrorCode.CLOSED, `the file handle was closed while waiting for a lock on ${file}`, { file }));
    }
    this.#wake(file, locks);
  }

  test(file: string, owner: object, start: number, length: number, mode: LockMode): LockMode | null {
    const locks = this.#files.get(file);
    if (locks === undefined) return null;
    return conflictOf(locks.held, { owner, start, end: rangeEnd(start, length), mode })?.mode ?? null;
  }

  #locks(file: string): FileLocks {
    let locks = this.#files.get(file);
    if (locks === undefined) {
      locks = { held: [], waiters: [] };
      this.#files.set(file, locks);
    }
    return locks;
  }

  /** LT-4: grant every waiter that no longer conflicts, in arrival order. */
  #wake(file: string, locks: FileLocks): void {
    for (const w of [...locks.waiters]) {
      if (conflictOf(locks.held, w) !== undefined) continue;
      removeWaiter(locks, w);
      grant(locks, w);
      w.resolve();
    }
    if (locks.held.length === 0 && locks.waiters.length === 0) this.#files.delete(file);
  }
}

function conflictOf(held: readonly Held[], r: Held): Held | undefined {
  return held.find((h) =>
    h.owner !== r.owner && h.start < r.end && r.start < h.end && (h.mode === "exclusive" || r.mode === "exclusive")
  );
}

/** LT-1: the owner's own overlap is replaced by the new lock. */
function grant(locks: FileLocks, r: Held): void {
  locks.held = removeCoverage(locks.held, r.owner, r.start, r.end);
  locks.held.push({ owner: r.owner, start: r.start, end: r.end, mode: r.mode });
}

/** LT-3: cut [start, end) out of the owner's locks. */
function removeCoverage(held: Held[], owner: object, start: number, end: number): Held[] {
  const out: Held[] = [];
  for (const h of held) {
    if (h.owner !== owner || h.end <= start || end <= h.start) {
      out.push(h);
      continue;
    }
    if (h.start < start) out.push({ ...h, end: start });
    if (end < h.end) out.push({ ...h, start: end });
  }
  return out;
}

function removeWaiter(locks: FileLocks, w: Waiter): void {
  const at = locks.waiters.indexOf(w);
  if (at >= 0) locks.waiters.splice(at, 1);
  w.detach();
}

function aborted(file: string, signal: AbortSignal | undefined): TxtDbError {
  return new TxtDbError(ErrorCode.ABORTED, `the wait for a lock on ${file} was aborted`, { cause: signal?.reason, file });
}
