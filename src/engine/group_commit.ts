/**
 * Group commit: under one writer lock, one append per batch of commits; one
 * datasync covers every batch appended before it started.
 *
 * Two loops, one of each per process:
 *
 *     append loop:  queue ──▶ [writer lock: catch up ▸ validate ▸ append ▸ apply] ──▶ awaiting durability
 *     sync loop:    awaiting durability ──▶ [datasync] ──▶ visible ▸ resolved
 *
 * Unless this handle is alone on the database (GC-10), the writer lock is not
 * held during the datasync, so while one process (or one batch) waits for the
 * disk the next batch — of this process or another — is already appended; the
 * next datasync covers it. Any failure moves the committer to a sticky `failed`
 * state until the database is reopened.
 *
 * - GC-1  A commit resolves only after a datasync that started after its
 *         record was appended (durability "sync"); under "relaxed", after the
 *         append: it then survives a crash of the process, not of the machine
 *         (a background datasync at most every second bounds what a power
 *         cut can take).
 * - GC-2  Under the writer lock, before validating, the committer reads the
 *         log records other processes appended and applies them: validation
 *         sees every earlier commit. A lost update between processes is
 *         impossible.
 * - GC-3  Validation is first-committer-wins per key: a commit conflicts if a
 *         key it writes (and, serializable, a key it read or a range it
 *         scanned) was written after its snapshot — by any applied record,
 *         durable or not, or by an earlier commit of the same batch. A
 *         rejected commit takes no TSN (contract 4) and writes nothing.
 * - GC-4  Bounded: a batch holds at most batchCommitsMax commits and
 *         batchBytesMax bytes; past queueCommitsMax commits queued or awaiting
 *         durability, submit() waits for room (backpressure, never an
 *         unbounded queue).
 * - GC-5  Fail-stop: if an append or datasync fails — or anything else on the
 *         way to an append fails with TXTDB_IO (catching up, GC-2) — every
 *         commit not yet acknowledged rejects with TXTDB_IO, so do all later
 *         ones until the database is reopened, and the datasync is never
 *         retried (after a failed fsync the kernel may have dropped the dirty
 *         pages: a retry could "succeed" without the data being on disk).
 *         The log itself refuses to append after any failed datasync of its
 *         handle (SEG-8) — under "relaxed" too, where the failed datasync was
 *         a background one and the next append is what fails.
 *         The unacknowledged records are cut from the log when no other
 *         handle is open; otherwise their fate is the file's, and this handle
 *         holds exactly what the file does: the batches it appended whole,
 *         and of a failed append only the lines catch-up reads back whole —
 *         never the batch as submitted, which may not be in the file at all
 *         (its TSNs then go to the next writer's commits).
 * - GC-6  While a batch is appended but not durable, its handle publishes the
 *         snapshot below it (PP-2), taken before the append: a checkpoint
 *         elsewhere cannot fold the batch into pages, where this handle's
 *         snapshots (which stop below its undurable commits, ST-1) would see it.
 * - GC-7  A lone commit — the only one its datasync covers, with no commit
 *         queued behind it — has its datasync run on the JS thread, blocking
 *         it (DatasyncOptions.blocking), when the handle's last datasync took
 *         at most blockingSyncMaxMs: nothing in this handle could use the
 *         thread meanwhile, and the two thread wake-ups of a datasync off the
 *         thread cost a lone committer about a third of its commit rate. A
 *         datasync slower than that sends the next ones off the thread until
 *         one is fast again, so a slow or stalling disk blocks the event loop
 *         once, not at every commit. Batches of several commits always sync
 *         off the thread: the next batch is appended meanwhile. A loop of
 *         lone commits, each awaited, would now run without the event loop
 *         ever turning: it is given a turn before a blocking datasync once
 *         blockingSyncTurnMs have passed since its last one. Off altogether
 *         with open({ blockingSync: false }).
 * - GC-8  The append loop, started by a submit after a batch of several
 *         commits, waits one turn of the event loop before taking its first
 *         batch: the commits submitted in the same turn — the callers that
 *         batch woke — join it, instead of the first of them making a batch
 *         of its own. After a lone commit it starts at once.
 * - GC-9  A batch's GC-6 hold is kept, once the batch is durable, as a spare
 *         for the next batch (any snapshot at or below the visible one
 *         bounds a checkpoint as well): a lone committer publishes and
 *         withdraws no snapshot at each commit. Under "relaxed", which needs
 *         no GC-6 bound, a batch takes its hold the same way once it is
 *         appended and visible, only to leave it as the spare. While a spare
 *         is published, begin() takes no gate when nothing is new in the log
 *         (PP-9), and a transaction's own snapshot, at or above it, takes and
 *         withdraws no lock: a loop of transactions makes no snapshot-gate or
 *         snapshot lock call, but for re-publishing the spare every
 *         spareHoldLagMaxTsn TSNs (without it, four calls a transaction,
 *         about a quarter of a small relaxed one's time here).
 *         The spare goes when a turn of the event loop passes with no commit
 *         submitted or on its way to the log (waiting for the writer lock
 *         takes turns), when it lags more than spareHoldLagMaxTsn behind,
 *         and when this handle chooses a checkpoint's TSN or reports stats()
 *         (releaseSpareHold).
 * - GC-10 Alone on the database (othersOpen: PP-7 where the lock file is
 *         mapped, a reader-slot test, PP-1, where not), a handle keeps the
 *         writer lock after using it, until a turn of the event loop passes
 *         in which nothing used it: back-to-back commits take and release it
 *         once, not at each commit (two fcntl calls, ~8 µs a commit here,
 *         cold). A handle that opens meanwhile takes its reader slot and
 *         counts itself (PP-1, PP-7) before it waits for the lock, so it has
 *         it once this process's event loop next turns
 *         — at most blockingSyncTurnMs into a loop of lone commits (GC-7),
 *         or as long as the application runs synchronously — and from then
 *         on neither keeps it. Close and a failure give it up at once.
 */
import { AssertionError, ErrorCode, TxtDbError, assert } from "../errors.ts";
import type { FileHandle } from "../io/file_io.ts";
import { acquireShortLock } from "./_acquire.ts";
import { SpareSnapshot } from "./_spare.ts";
import { setOf } from "./_collections.ts";
import {
  batchBytesMax, batchCommitsMax, blockingSyncMaxMs, blockingSyncTurnMs, lockWriterOffset, queueCommitsMax, relaxedSyncIntervalMs, spareHoldLagMaxTsn,
} from "./_defaults.ts";
import type { CommitLog } from "./log.ts";
import type { LogRecord } from "./log_record.ts";
import type { Metrics } from "./metrics.ts";
import type { Store } from "./store.ts";
import { conflictError, type PendingCommit } from "./transaction.ts";
import { testFaults } from "./_test_faults.ts"; // TEST-FAULT (inert: TF-1)

interface Queued {
  readonly commit: PendingCommit;
  resolve(tsn: number): void;
  reject(err: Error): void;
}

interface Appended {
  readonly q: Queued;
  readonly record: LogRecord;
  /** On the first commit of a batch: the snapshot published while the batch is not durable (GC-6), or, under "relaxed", once it is appended; it may stay as GC-9's spare. */
  hold: number | undefined;
}

export interface GroupCommitOptions {
  readonly store: Store;
  readonly log: CommitLog;
  readonly lockFile: FileHandle;
  readonly metrics: Metrics;
  readonly durability: "sync" | "relaxed";
  /** GC-7: whether a lone commit's datasync may run on the JS thread. */
  readonly blockingSync: boolean;
  readonly now: () => number;
  /** GC-2: reads and applies the other processes' records; the caller holds the writer lock. */
  readonly catchUp: () => Promise<void>;
  /** One turn of the event loop (injected: the engine names no runtime). */
  readonly yieldTurn: () => Promise<void>;
  /**
   * GC-1: makes every record up to the TSN durable, sharing datasyncs across
   * processes (PP-5); resolves with whether it ran a datasync of its own.
   * `blocking` (GC-7) is asked right before that datasync starts.
   */
  readonly syncThrough: (tsn: number, blocking: () => boolean) => Promise<boolean>;
  /** GC-6: publish / withdraw a snapshot TSN (PP-2) that bounds other handles' checkpoints. */
  readonly holdSnapshot: (tsn: number) => void;
  readonly releaseSnapshot: (tsn: number) => void;
  /** Whether another handle has the database open (then records are never cut, GC-5). */
  readonly othersOpen: () => boolean;
  /** Called after each batch becomes durable (checkpoint scheduling). */
  readonly afterBatch: () => void;
}

export class GroupCommit {
  readonly #o: GroupCommitOptions;
  #queue: Queued[] = [];
  /** Appended, awaiting the datasync that makes them durable (GC-1), in TSN order. */
  #unsynced: Appended[] = [];
  /** Waiters for room (GC-4). */
  #roomWaiters: Array<() => void> = [];
  /** Whether each loop runs; cleared in the very turn the loop finds no work. */
  #appending = false;
  /** GC-8: the size of the last batch taken. */
  #lastBatchCommits = 0;
  /** A batch is between leaving the queue and joining #unsynced (GC-7). */
  #batchInFlight = false;
  #syncing = false;
  #appendLoop: Promise<void> = Promise.resolve();
  /** Serializes this process's users of the writer lock (see withWriterLock). */
  #writerChain: Promise<void> = Promise.resolve();
  #syncLoop: Promise<void> = Promise.resolve();
  /** GC-5: set once, never cleared. */
  #failure: TxtDbError | null = null;
  /** GC-5: #fail's settling of the unacknowledged records, assigned in the turn it sets #failure. */
  #settling: Promise<void> = Promise.resolve();
  #lastBackgroundSyncMs = -Infinity;
  /** GC-7: how long the last datasync took, call to settle; when a blocking one last found the event loop had turned (null: a turn is due). */
  #lastSyncMs = Infinity;
  #turnMarkMs: number | null = null;
  /** GC-9: a published hold no batch owns; a submit wants it (goes once a check finds no batch on its way: #appending). */
  readonly #spare: SpareSnapshot;
  /** GC-10: the writer lock is held with no user; a use since the last check; a check is scheduled; close began. */
  #writerLockKept = false;
  #writerLockUsed = false;
  #writerLockCheck = false;
  #closing = false;

  constructor(options: GroupCommitOptions) {
    this.#o = options;
    // A check that finds a batch on its way to the writer lock (which takes turns) leaves the spare: the batch takes it, or its loop's end checks again.
    this.#spare = new SpareSnapshot(options.yieldTurn, (tsn) => options.releaseSnapshot(tsn), () => !this.#appending);
  }

  get failure(): TxtDbError | null {
    return this.#failure;
  }

  async submit(commit: PendingCommit): Promise<number> {
    while (this.#queue.length + this.#unsynced.length >= queueCommitsMax) await new Promise<void>((r) => this.#roomWaiters.push(r));
    if (this.#failure !== null) throw this.#stoppedError();
    const tsn = new Promise<number>((resolve, reject) => this.#queue.push({ commit, resolve, reject }));
    this.#spare.want(); // GC-9
    if (!this.#appending) {
      this.#appending = true;
      this.#appendLoop = this.#runAppendLoop();
    }
    return tsn;
  }

  /** Resolves when every submitted commit has settled (for close()). */
  async drain(): Promise<void> {
    while (this.#appending || this.#syncing) await Promise.all([this.#appendLoop, this.#syncLoop]);
  }

  /** Resolves once every commit appended so far is durable (or failed) — those in a datasync already running too. */
  async synced(): Promise<void> {
    const through = this.#o.store.pendingOwnThrough;
    while (this.#syncing && this.#o.store.visibleTsn < through) await this.#syncLoop;
  }

  /** Fail-stop from outside (DB-5): queued and later commits reject with `err`. */
  stop(err: TxtDbError): void {
    this.#failure ??= err;
    for (const q of this.#queue.splice(0)) q.reject(err);
    this.#wakeRoom();
    this.releaseWriterLock();
  }

  async #runAppendLoop(): Promise<void> {
    try {
      if (this.#lastBatchCommits > 1) await this.#o.yieldTurn(); // GC-8
      while (this.#queue.length > 0 && this.#failure === null) {
        const batch = this.#takeBatch();
        this.#batchInFlight = true;
        try {
          await this.#appendBatch(batch);
        } catch (err) {
          this.#batchInFlight = false;
          for (const q of batch) q.reject(err as Error); // settled ones ignore it
          // GC-5: an I/O error on the way to the append (catching up, GC-2) stops this handle too.
          if (err instanceof TxtDbError && err.code === ErrorCode.IO) await this.#fail(err, [], false);
        }
      }
      for (const q of this.#queue.splice(0)) q.reject(this.#stoppedError());
    } finally {
      this.#appending = false; // in the same turn as the emptiness check
      this.#spare.scheduleCheck(); // GC-9: one left untaken (every commit of the batch refused)
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
    this.#lastBatchCommits = n;
    this.#wakeRoom();
    return batch;
  }

  /** GC-4: whoever waits for room checks again (submit() loops on the bound). */
  #wakeRoom(): void {
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }

  /**
   * Runs `fn` holding the writer lock. Every user in this process goes
   * through here: the lock belongs to the lock file handle, so the kernel
   * does not keep two of them apart — this chain does.
   */
  withWriterLock<T>(fn: () => Promise<T>): Promise<T> {
    const { lockFile } = this.#o;
    const run = this.#writerChain.then(async () => {
      if (!this.#writerLockKept) await acquireShortLock(lockFile, lockWriterOffset, this.#o.yieldTurn);
      this.#writerLockKept = false;
      this.#writerLockUsed = true;
      try {
        return await fn();
      } finally {
        if (this.#mayKeepWriterLock()) {
          this.#writerLockKept = true;
          this.#scheduleWriterLockCheck();
        } else {
          lockFile.unlock(lockWriterOffset, 1);
        }
      }
    });
    this.#writerChain = run.then(() => {}, () => {});
    return run;
  }

  /** GC-10: the lock may stay after a use while this handle is alone, running and not closing. */
  #mayKeepWriterLock(): boolean {
    return this.#failure === null && !this.#closing && !this.#o.othersOpen();
  }

  /** GC-10: releases the kept writer lock once a turn passed in which nothing used it, or another handle opened. */
  #scheduleWriterLockCheck(): void {
    if (this.#writerLockCheck) return;
    this.#writerLockCheck = true;
    this.#writerLockUsed = false;
    void this.#o.yieldTurn().then(() => {
      this.#writerLockCheck = false;
      if (!this.#writerLockKept) return; // a user holds it now: its end schedules the next check
      if (this.#writerLockUsed && this.#mayKeepWriterLock()) this.#scheduleWriterLockCheck();
      else this.releaseWriterLock();
    }).catch(() => {});
  }

  /** GC-10: from now on the writer lock goes at the end of each use (close). */
  stopKeepingWriterLock(): void {
    this.#closing = true;
    this.releaseWriterLock();
  }

  /** GC-10: gives up the kept writer lock now. */
  releaseWriterLock(): void {
    if (!this.#writerLockKept) return;
    this.#writerLockKept = false;
    this.#o.lockFile.unlock(lockWriterOffset, 1);
  }

  async #appendBatch(batch: Queued[]): Promise<void> {
    const { store, log, metrics } = this.#o;
    const t0 = this.#o.now();
    const appended = await this.withWriterLock(async (): Promise<Appended[] | null> => {
      if (this.#failure !== null) {
        for (const q of batch) q.reject(this.#stoppedError());
        return null;
      }
      await this.#o.catchUp(); // GC-2
      const accepted = this.#validate(batch, store.lastTsn);
      if (accepted.length === 0) return null;
      if (this.#o.durability === "sync") {
        // GC-6: before anything of the batch is in the file, so no handle can read it unbounded.
        accepted[0]!.hold = this.#takeHold(store.visibleTsn);
      }
      try {
        await log.append(accepted.map(({ q, record }) => ({ tsn: record.tsn, opsPieces: q.commit.opsPieces })));
      } catch (err) {
        // GC-5: not applied. The file holds all, part or none of the batch;
        // this handle's log position is still before it, so catch-up reads
        // back whichever of its lines are whole, as every other handle does.
        await this.#fail(err, accepted, true);
        return null;
      }
      store.applyOwn(accepted.map((a) => a.record)); // ST-3
      if (this.#o.durability === "relaxed") {
        // Visible before the writer lock goes, as nothing of it waits to be durable (PP-9);
        // its hold, taken once it is, is there only to stay as GC-9's spare.
        store.markDurable(accepted.at(-1)!.record.tsn); // no await between the append and this (PP-9)
        try {
          accepted[0]!.hold = this.#takeHold(store.visibleTsn);
        } catch (err) {
          if (err instanceof AssertionError) throw err;
          // Best effort: the batch is in the log and visible, and needs no hold (any old spare stays).
        }
      }
      return accepted;
    });
    this.#batchInFlight = false;
    if (appended === null) return;
    metrics.batches++;
    metrics.record("batch", (this.#o.now() - t0) * 1000);
    if (this.#o.durability === "relaxed" || testFaults.ackBeforeDatasync /* TEST-FAULT */) {
      if (testFaults.ackBeforeDatasync) store.markDurable(appended.at(-1)!.record.tsn); // TEST-FAULT (relaxed: visible since the append, above)
      this.#acknowledge(appended);
      this.#backgroundSync();
      return;
    }
    this.#unsynced.push(...appended);
    if (!this.#syncing) {
      this.#syncing = true;
      this.#syncLoop = this.#runSyncLoop();
    }
  }

  /** GC-1: one datasync at a time; each covers everything appended before it started. */
  async #runSyncLoop(): Promise<void> {
    try {
      while (this.#unsynced.length > 0 && this.#failure === null) {
        const covered = this.#unsynced.splice(0);
        const lone = (): boolean => this.#o.blockingSync && covered.length === 1 && this.#queue.length === 0 && !this.#batchInFlight &&
          this.#lastSyncMs <= blockingSyncMaxMs; // GC-7
        if (lone()) await this.#giveTurnIfDue();
        const s0 = this.#o.now();
        let synced: boolean;
        try {
          synced = await this.#o.syncThrough(covered.at(-1)!.record.tsn, lone);
        } catch (err) {
          await this.#fail(err, covered, false);
          return;
        }
        if (this.#failure !== null) {
          // Another batch failed meanwhile; never acknowledge after a failure.
          // These left #unsynced before it: their holds go once its settling
          // has decided what the store holds of them (cut, or visible).
          for (const { q } of covered) q.reject(this.#failure);
          await this.#settling;
          this.#releaseHolds(covered);
          return;
        }
        const ms = this.#o.now() - s0;
        if (synced) this.#lastSyncMs = ms;
        this.#o.metrics.record("datasync", ms * 1000);
        this.#o.store.markDurable(covered.at(-1)!.record.tsn);
        this.#acknowledge(covered);
      }
    } finally {
      this.#syncing = false;
      if (this.#failure !== null) for (const { q } of this.#unsynced.splice(0)) q.reject(this.#failure);
    }
  }

  /**
   * Under "relaxed", a datasync at most every relaxedSyncIntervalMs, off the
   * commit path (nothing waits for it): it bounds what a power cut can take,
   * and lets later log lines attest the earlier ones (SEG-2), so damage to an
   * old line is reported as corruption rather than cut as a torn tail.
   */
  #backgroundSync(): void {
    const now = this.#o.now();
    if (this.#syncing || now - this.#lastBackgroundSyncMs < relaxedSyncIntervalMs) return;
    this.#lastBackgroundSyncMs = now;
    this.#syncing = true;
    this.#syncLoop = this.#o.log.datasync().then(
      () => void this.#o.metrics.datasyncs++,
      () => {}, // relaxed never promised this sync; the log appends nothing after it (SEG-8): the next commit fails stop
    ).finally(() => {
      this.#syncing = false;
    });
  }

  /** GC-7: before a blocking datasync, a turn of the event loop if it has had none for blockingSyncTurnMs. */
  async #giveTurnIfDue(): Promise<void> {
    if (this.#turnMarkMs === null) {
      this.#turnMarkMs = this.#o.now();
      void this.#o.yieldTurn().then(() => (this.#turnMarkMs = null));
    } else if (this.#o.now() - this.#turnMarkMs > blockingSyncTurnMs) {
      await this.#o.yieldTurn(); // after the one scheduled at the mark, which cleared it
    }
  }

  /** GC-6, GC-9: a hold at or below `visible` for a batch: the spare, unless it lags too far. */
  #takeHold(visible: number): number {
    const spare = this.#spare.tsn;
    if (spare !== null && visible - spare <= spareHoldLagMaxTsn) return this.#spare.take()!;
    this.#o.holdSnapshot(visible); // before the spare goes: the published snapshot never rises past either (if this throws, the spare stays)
    this.#spare.release();
    return visible;
  }

  /** GC-6: the batches' snapshots are no longer needed (durable, or failed); `spare`: one may stay as GC-9's spare. */
  #releaseHolds(appended: Appended[], spare = false): void {
    for (const a of appended) {
      if (a.hold === undefined) continue;
      if (spare && this.#spare.tsn === null && this.#failure === null) {
        this.#spare.keep(a.hold);
      } else {
        this.#o.releaseSnapshot(a.hold);
      }
      a.hold = undefined; // not `delete`: that would turn the object into a slow dictionary at every commit
    }
  }

  /** GC-9: withdraws the spare hold (a checkpoint of this handle's may then fold everything durable). */
  releaseSpareHold(): void {
    this.#spare.release();
  }

  #acknowledge(appended: Appended[]): void {
    this.#releaseHolds(appended, true);
    this.#o.metrics.commits += appended.length;
    for (const { q, record } of appended) q.resolve(record.tsn);
    this.#wakeRoom();
    this.#o.afterBatch();
  }

  /** GC-5. `holdsWriterLock`: called from inside withWriterLock. */
  async #fail(err: unknown, appended: Appended[], holdsWriterLock: boolean): Promise<void> {
    this.#failure ??= new TxtDbError(ErrorCode.IO, `a commit could not be made durable (${(err as Error).message}); ` +
      "the database accepts no more writes until it is reopened, and these commits may or may not have been written", { cause: err });
    const unacknowledged = [...appended, ...this.#unsynced.splice(0)];
    for (const { q } of unacknowledged) q.reject(this.#failure);
    for (const q of this.#queue.splice(0)) q.reject(this.#stoppedError());
    this.#wakeRoom();
    // Cut the unacknowledged records out of the file, unless another process
    // appended after them — then they are in everyone's log and visible here
    // too (their fate is the file's) — so not even a reopen in this process
    // can serve a record that may not be durable. Only batches appended whole
    // are applied here (a failed append is not, see #appendBatch).
    const { log, store } = this.#o;
    const settle = async (): Promise<void> => {
      // Another handle may have read them already: then they share the file's fate.
      const cut = !this.#o.othersOpen() && (await log.discardUnacknowledged(this.#o.durability, holdsWriterLock).catch(() => false));
      if (cut) store.rollbackPendingOwn();
      else store.markDurable(store.pendingOwnThrough);
    };
    this.#settling = (holdsWriterLock ? settle() : this.withWriterLock(settle)).catch(() => {}); // best effort: the failure is reported already
    await this.#settling;
    this.#releaseHolds(unacknowledged);
    this.releaseSpareHold();
  }

  /** GC-3: first-committer-wins, against applied records and the batch so far. */
  #validate(batch: Queued[], lastTsn: number): Appended[] {
    const { store, metrics } = this.#o;
    const written = new Map<string, Set<string>>();
    const dropped = new Set<string>();
    const accepted: Appended[] = [];
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
      accepted.push({ q, record: { tsn: lastTsn + accepted.length + 1, ops: q.commit.ops }, hold: undefined });
    }
    return accepted;
  }

  #conflictOf(c: PendingCommit, store: Store, written: Map<string, Set<string>>, dropped: Set<string>): TxtDbError | null {
    const keyConflict = (ns: string, enc: string): boolean =>
      dropped.has(ns) || written.get(ns)?.has(enc) === true || store.lastTsnOf(ns, enc) > c.snapshot;
    for (const op of c.ops) {
      if (op.kind === "drop") {
        if (dropped.has(op.ns) || written.has(op.ns) || store.namespaceLastTsn(op.ns) > c.snapshot) return conflictError(op.ns, "the namespace");
      } else if (!testFaults.skipWriteWriteValidation /* TEST-FAULT */ && keyConflict(op.ns, op.enc)) {
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
