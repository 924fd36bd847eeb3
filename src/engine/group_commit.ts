/**
 * Group commit: one writer lock, one append and one datasync per batch of
 * commits.
 *
 * States of the committer:
 *
 *     idle ──submit()──▶ flushing ──batch done, queue empty──▶ idle
 *                          │  ▲ └──batch done, queue not empty──┘
 *                          │  └ commits that arrive while flushing wait for the next batch
 *                          └──append or datasync fails──▶ failed (sticky, until reopened)
 *
 * - GC-1  A commit resolves only after the datasync that covers its record
 *         (under durability "sync"; under "relaxed", after the append: it
 *         then survives a crash of the process, not of the machine).
 * - GC-2  Under the writer lock, before validating, the committer reads the
 *         log records it has not seen (another process's commits) and
 *         applies them: validation sees every earlier commit.
 * - GC-3  Validation is first-committer-wins per key: a commit conflicts if a
 *         key it writes (and, serializable, a key it read or a range it
 *         scanned) was written after its snapshot — by a commit already
 *         applied or by an earlier commit of the same batch. A rejected
 *         commit takes no TSN (contract 4) and writes nothing.
 * - GC-4  Bounded: a batch holds at most batchCommitsMax commits and
 *         batchBytesMax bytes; past queueCommitsMax queued commits, submit()
 *         waits for room (backpressure, never an unbounded queue).
 * - GC-5  Fail-stop: if an append or datasync fails, the batch's commits
 *         reject with TXTDB_IO, so do all later ones until the database is
 *         reopened, and the datasync is never retried (after a failed
 *         fsync the kernel may have dropped the dirty pages: a retry could
 *         "succeed" without the data being on disk).
 */
import { setOf } from "./_collections.ts";
import { ErrorCode, TxtDbError, assert } from "../errors.ts";
import type { FileHandle } from "../io/file_io.ts";
import { batchBytesMax, batchCommitsMax, lockWriterOffset, queueCommitsMax } from "./_defaults.ts";
import type { CommitLog } from "./log.ts";
import type { LogRecord } from "./log_record.ts";
import type { Metrics } from "./metrics.ts";
import type { Store } from "./store.ts";
import { conflictError, type PendingCommit } from "./transaction.ts";

interface Queued {
  readonly commit: PendingCommit;
  resolve(tsn: number): void;
  reject(err: Error): void;
}

export interface GroupCommitOptions {
  readonly store: Store;
  readonly log: CommitLog;
  readonly lockFile: FileHandle;
  readonly metrics: Metrics;
  readonly durability: "sync" | "relaxed";
  readonly now: () => number;
  /** Called after each batch is applied (checkpoint scheduling). */
  readonly afterBatch: () => void;
}

export class GroupCommit {
  readonly #o: GroupCommitOptions;
  #queue: Queued[] = [];
  /** Waiters for room in the queue (GC-4). */
  #roomWaiters: Array<() => void> = [];
  /** Whether a flush loop runs; cleared in the very turn the loop finds the queue empty. */
  #running = false;
  #flushing: Promise<void> = Promise.resolve();
  /** GC-5: set once, never cleared. */
  #failure: TxtDbError | null = null;

  constructor(options: GroupCommitOptions) {
    this.#o = options;
  }

  get failure(): TxtDbError | null {
    return this.#failure;
  }

  /** Fail-stop from outside (DB-5): queued and later commits reject with `err`. */
  stop(err: TxtDbError): void {
    this.#failure ??= err;
    for (const q of this.#queue.splice(0)) q.reject(err);
  }

  async submit(commit: PendingCommit): Promise<number> {
    while (this.#queue.length >= queueCommitsMax) await new Promise<void>((r) => this.#roomWaiters.push(r));
    if (this.#failure !== null) throw this.#stoppedError();
    const tsn = new Promise<number>((resolve, reject) => this.#queue.push({ commit, resolve, reject }));
    if (!this.#running) {
      this.#running = true;
      this.#flushing = this.#flushLoop();
    }
    return tsn;
  }

  /** Resolves when every queued commit has been flushed (for close()). */
  async drain(): Promise<void> {
    while (this.#running) await this.#flushing;
  }

  async #flushLoop(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#takeBatch();
        try {
          await this.#flushBatch(batch);
        } catch (err) {
          for (const q of batch) q.reject(err as Error); // settled ones ignore it
        }
      }
    } finally {
      // In the same turn as the emptiness check: a submit() after it starts a new loop.
      this.#running = false;
    }
  }

  /** GC-4: the next batch, within its bounds. */
  #takeBatch(): Queued[] {
    let bytes = 0;
    let n = 0;
    while (n < this.#queue.length && n < batchCommitsMax) {
      bytes += this.#queue[n]!.commit.bytes;
      if (n > 0 && bytes > batchBytesMax) break;
      n++;
    }
    const batch = this.#queue.splice(0, n);
    for (const wake of this.#roomWaiters.splice(0, n)) wake();
    return batch;
  }

  async #flushBatch(batch: Queued[]): Promise<void> {
    if (this.#failure !== null) {
      for (const q of batch) q.reject(this.#stoppedError());
      return;
    }
    const { store, log, lockFile, metrics } = this.#o;
    const t0 = this.#o.now();
    await lockFile.lock(lockWriterOffset, 1, "exclusive");
    let accepted: Array<{ q: Queued; record: LogRecord }> = [];
    try {
      // GC-2: a single process has nothing to catch up on; several processes
      // (issue 4) read the other writers' records here.
      accepted = this.#validate(batch, store.lastTsn);
      if (accepted.length === 0) return;
      try {
        await log.append(accepted.map(({ q, record }) => ({ tsn: record.tsn, opsText: q.commit.opsText })));
        if (this.#o.durability === "sync") {
          const s0 = this.#o.now();
          await log.datasync();
          metrics.datasyncs++;
          metrics.record("datasync", (this.#o.now() - s0) * 1000);
        }
      } catch (err) {
        this.#failure = new TxtDbError(ErrorCode.IO, `a commit could not be made durable (${(err as Error).message}); ` +
          "the database accepts no more writes until it is reopened, and these commits may or may not have been written", { cause: err });
        // GC-5: cut the unacknowledged records out of the file, so not even a
        // reopen in this process (reading the page cache) can serve them.
        await log.discardLastAppend().catch(() => {});
        for (const { q } of accepted) q.reject(this.#failure);
        for (const q of this.#queue.splice(0)) q.reject(this.#stoppedError());
        accepted = [];
        return;
      }
      for (const { record } of accepted) store.apply(record); // ST-1: durable first, then visible
    } finally {
      lockFile.unlock(lockWriterOffset, 1);
    }
    metrics.batches++;
    metrics.commits += accepted.length;
    metrics.record("batch", (this.#o.now() - t0) * 1000);
    for (const { q, record } of accepted) q.resolve(record.tsn);
    this.#o.afterBatch();
  }

  /** GC-3: first-committer-wins, against applied commits and the batch so far. */
  #validate(batch: Queued[], lastTsn: number): Array<{ q: Queued; record: LogRecord }> {
    const { store, metrics } = this.#o;
    const written = new Map<string, Set<string>>();
    const dropped = new Set<string>();
    const accepted: Array<{ q: Queued; record: LogRecord }> = [];
    for (const q of batch) {
      const conflict = this.#conflictOf(q.commit, store, written, dropped);
      if (conflict !== null) {
        metrics.conflicts++;
        q.reject(conflict);
        continue;
      }
      for (const op of q.commit.ops) {
        if (op.kind === "drop") dropped.add(op.ns);
        else setOf(written, op.ns).add(op.enc);
      }
      accepted.push({ q, record: { tsn: lastTsn + accepted.length + 1, ops: q.commit.ops } });
    }
    return accepted;
  }

  #conflictOf(c: PendingCommit, store: Store, written: Map<string, Set<string>>, dropped: Set<string>): TxtDbError | null {
    const keyConflict = (ns: string, enc: string): boolean =>
      dropped.has(ns) || written.get(ns)?.has(enc) === true || store.lastTsnOf(ns, enc) > c.snapshot;
    for (const op of c.ops) {
      if (op.kind === "drop") {
        if (dropped.has(op.ns) || written.has(op.ns) || store.namespaceLastTsn(op.ns) > c.snapshot) return conflictError(op.ns, "the namespace");
      } else if (keyConflict(op.ns, op.enc)) {
        return conflictError(op.ns, `key ${op.keyText}`);
      }
    }
    for (const [ns, encs] of c.reads ?? []) {
      for (const enc of encs) if (keyConflict(ns, enc)) return conflictError(ns, "a key this transaction read");
    }
    for (const { ns, range } of c.ranges ?? []) {
      if (dropped.has(ns) || store.writtenInRangeAfter(ns, range, c.snapshot)) return conflictError(ns, "a range this transaction scanned");
      for (const enc of written.get(ns) ?? []) {
        if (enc >= range.start && (range.end === null || enc < range.end)) return conflictError(ns, "a range this transaction scanned");
      }
    }
    return null;
  }

  #stoppedError(): TxtDbError {
    assert(this.#failure !== null, "stopped without a failure");
    return new TxtDbError(ErrorCode.IO, `the database stopped accepting writes after an I/O error: ${this.#failure.message}. Close and reopen it.`, { cause: this.#failure });
  }
}

