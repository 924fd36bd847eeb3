/**
 * The database handle: open and recovery, transactions, checkpoints, stats,
 * integrity check, close.
 *
 * Open (recovery), under the writer lock:
 *   1. a complete manifest.next is a checkpoint that crashed after its intent
 *      was durable: finish it (CP-3); an incomplete one is discarded;
 *   2. read the manifest (a new database writes its first one), check the
 *      format (contract 17);
 *   3. (page files a crashed checkpoint left behind wait for DB-7);
 *   4. replay the log above the checkpoint TSN into memory; cut a torn tail
 *      (SEG-2) — time proportional to the log, not to the database;
 *   5. make the log's unattested tail durable by this handle's own datasync
 *      (SEG-10), so it serves nothing a power loss would take — none when
 *      the log is empty, as a clean close leaves it.
 *
 * - DB-1  begin() sees every commit whose commit() resolved before it was
 *         called (contract 6): commits are applied before they resolve.
 * - DB-2  close() is idempotent, lets in-flight commits finish, checkpoints,
 *         and then rejects new work with TXTDB_CLOSED.
 * - DB-3  The oldest live snapshot bounds every checkpoint (VER-4).
 * - DB-4  Several handles — in this process or others — may share a database
 *         (coordination.ts, PP-1…PP-4): begin() catches up with the log
 *         first, commits catch up under the writer lock (GC-2), and another
 *         process's checkpoint is adopted when its marker is read.
 * - DB-5  A checkpoint that fails after its manifest.next is durable leaves
 *         page files that the in-memory manifest no longer describes: the
 *         handle then refuses every operation with TXTDB_IO until reopened
 *         (open completes the checkpoint). A failure before that point leaves
 *         no trace and is retried by the next checkpoint.
 * - DB-6  Open syncs no directory that exists (each sync is a journal
 *         commit, a sixth of a cold open here): a handle makes the database
 *         folder's name and its log folder's durable once, before the first
 *         line it writes or re-writes (SEG-11) — which also covers a
 *         database that was copied into place or written by an older build.
 *         Only creating one syncs at open.
 * - DB-7  Page files no manifest names — temp files and pages of a checkpoint
 *         that crashed, pages one that failed could not unlink — are removed
 *         by the first checkpoint of the handle (at the latest at close), and
 *         again after it finished a crashed one (CP-3), under the checkpoint
 *         lock, by the manifest on disk, never while a manifest.next exists:
 *         every checkpoint ignores them, and a cold open does not list a
 *         folder of hundreds of pages. A failure to remove them stops nothing;
 *         the next checkpoint tries again.
 * - DB-8  The snapshot of a transaction that ends while this handle keeps no
 *         snapshot spare, and that is the newest one the handle took, stays
 *         published, as its snapshot spare, until a turn of the event loop
 *         passes with no begin(), or a begin() takes a newer snapshot (which
 *         then takes its place); choosing a checkpoint's TSN, stats() and
 *         close() withdraw it too. Like GC-9's spare of a committer, it
 *         bounds checkpoints as a live snapshot would, and lets the next
 *         begin() take no gate (PP-9) and publish a snapshot at or above it
 *         with no lock call: a loop of transactions, read-only ones included
 *         (they leave no GC-9 spare), makes none while no other handle
 *         commits, as long as each begins in the turn the one before ended,
 *         or before that turn's check: each made four (gate in and out,
 *         publish, withdraw), and a read-only transaction of one read took
 *         4.6 µs here, 0.9 with the spare. One that begins after another
 *         handle's commit makes four still (the gate, and the spare moving
 *         up); one transaction a turn, begun after the check its
 *         predecessor scheduled, gains nothing. Never older than the
 *         newest snapshot this handle took, it holds back nothing that a
 *         reader beginning at every turn would not (an index build waits
 *         for older snapshots, index_build.ts).
 */
import { ConflictError, ErrorCode, TxtDbError, assert } from "../errors.ts";
import { encodeKey, type Key } from "../codec/key.ts";
import type { PageFormat, PageFormatName } from "../codec/page_format.ts";
import { loadPageFormat } from "../codec/page_formats.ts";
import type { DirectoryClaim, FileIO } from "../io/file_io.ts";
import { ensureDirDurable } from "../io/durable_dir.ts";
import { joinPath } from "../io/path.ts";
import {
  checkpointWaitMsMax, lockWriterOffset, logDirName, resyncAttemptsMax, manifestFileName, manifestNextFileName, pagesDirName, retryBackoffFirstMs,
  retryBackoffMaxMs, tempSuffix, transactionRetriesDefault,
} from "./_defaults.ts";
import { checkpoint, CheckpointIncomplete } from "./checkpoint.ts";
import { GroupCommit } from "./group_commit.ts";
import { SpareSnapshot } from "./_spare.ts";
import { Coordination } from "./coordination.ts";
import { CommitLog, LogResync, type LogSink } from "./log.ts";
import { scanLines } from "./log_record.ts";
import { decodeManifest, emptyManifest, installManifestNext, readManifest, writeManifestNext, type Manifest } from "./manifest.ts";
import { Metrics, operations } from "./metrics.ts";
import { validateNamespace } from "./names.ts";
import { adoptEdits, type AdoptEditsOptions, type AdoptEditsResult } from "./edits.ts";
import { installBase, pageOfBase } from "./page_base.ts";
import { PageStore } from "./pages.ts";
import { Store } from "./store.ts";
import { Transaction, type CommitResult, type Isolation, type PendingCommit, type TxHost } from "./transaction.ts";
import { dropTable, listTables, openTable } from "../table/catalog.ts";
import { applyEditsThroughTables } from "../table/adopt.ts";
import type { Table } from "../table/table.ts";
import type { TableOptions } from "../table/schema.ts";

export interface EngineOptions {
  readonly io: FileIO;
  /** The format of a new database; an existing one keeps its own unless this was explicit. */
  readonly format: PageFormatName;
  /** Whether the caller asked for the format (a mismatch is then TXTDB_FORMAT) or took the default. */
  readonly formatExplicit: boolean;
  readonly isolation: Isolation;
  readonly durability: "sync" | "relaxed";
  /** GC-7: a lone commit's datasync may run on the JS thread. */
  readonly blockingSync: boolean;
  readonly cacheBytes: number;
  readonly checkpointLogBytes: number;
  /** Warn once when a live snapshot holds a checkpoint back by more than this many TSNs. */
  readonly snapshotLagWarnTsn: number;
  /** Where warnings go (open() defaults to process.emitWarning). */
  readonly onWarning: (warning: TxtDbWarning) => void;
  /** Monotonic clock in milliseconds. */
  readonly now: () => number;
  /** Uniform in [0, 1): retry jitter. */
  readonly random: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Resolves after one turn of the event loop (setImmediate). */
  readonly yieldTurn: () => Promise<void>;
}

export interface BeginOptions {
  readOnly?: boolean;
  isolation?: Isolation;
}

export interface TransactionOptions extends BeginOptions {
  /** Attempts after the first, on ConflictError only (contract 8). Default 10. */
  retries?: number;
  /** Stops retrying (and rejects with TXTDB_ABORTED) once aborted. */
  signal?: AbortSignal;
}

export interface CheckResult {
  ok: boolean;
  problems: string[];
}

export class Database implements AsyncDisposable {
  readonly dir: string;
  readonly #o: EngineOptions;
  readonly #store: Store;
  readonly #log: CommitLog;
  readonly #coord: Coordination;
  readonly #claim: DirectoryClaim | null;
  readonly #commits: GroupCommit;
  readonly #metrics: Metrics;
  /** DB-3: snapshots of open transactions. */
  readonly #live = new Map<Transaction, number>();
  /** DB-8: a snapshot kept published after its transaction ended; a begin() wants it. */
  readonly #snapshotSpare: SpareSnapshot;
  /** DB-8: the newest snapshot a transaction of this handle took. */
  #newestSnapshot = 0;
  readonly #host: TxHost;
  /** DB-2: "closing" lets begun work finish; "closed" refuses everything. */
  #state: "open" | "closing" | "closed" = "open";
  #closing: Promise<void> | null = null;
  /** DB-2: operations close() waits for (shortcuts and commits in progress). */
  readonly #tracked = new Set<Promise<unknown>>();
  /** DB-5: set when a checkpoint failed after its intent was durable. */
  #fatal: TxtDbError | null = null;
  #checkpointRunning = false;
  #checkpointing: Promise<void> = Promise.resolve();
  /** check() or adoptEdits() in the checkpoint slot (#inCheckpointSlot), or null. */
  #slotOther: Promise<void> | null = null;
  #logBytesAtCheckpoint = 0;
  /** A snapshot-lag warning was given (once per handle). */
  #warnedLag = false;
  #checkpointError: unknown = null;
  /** DB-7: this handle's first checkpoint removed what a crashed one left in pages/. */
  #leftoversRemoved = false;

  private constructor(dir: string, o: EngineOptions, parts: { store: Store; log: CommitLog; coord: Coordination; claim: DirectoryClaim | null; metrics: Metrics }) {
    this.dir = dir;
    this.#o = o;
    this.#store = parts.store;
    this.#log = parts.log;
    this.#coord = parts.coord;
    this.#claim = parts.claim;
    this.#metrics = parts.metrics;
    this.#snapshotSpare = new SpareSnapshot(o.yieldTurn, (tsn) => this.#coord.unpublish(tsn));
    this.#commits = new GroupCommit({
      store: this.#store, log: this.#log, lockFile: this.#coord.main, metrics: this.#metrics,
      durability: o.durability, blockingSync: o.blockingSync, now: o.now, afterBatch: () => this.#maybeCheckpoint(),
      catchUp: () => this.#catchUp(true),
      syncThrough: (tsn: number, blocking: () => boolean) => this.#syncThrough(tsn, blocking),
      yieldTurn: o.yieldTurn,
      holdSnapshot: (tsn: number) => this.#coord.publish(tsn),
      releaseSnapshot: (tsn: number) => this.#coord.unpublish(tsn),
      othersOpen: () => this.#coord.othersOpen(),
    });
    this.#store.onStalePage = () => this.#refresh();
    this.#host = {
      store: this.#store,
      metrics: this.#metrics,
      now: o.now,
      submit: (c: PendingCommit) => this.#track(this.#submit(c)),
      release: (tx: Transaction) => this.#release(tx),
      check: () => this.#checkUsable(this.#state === "closed"),
    };
  }

  /** Opens (and recovers) or creates the database in `dir`. */
  static async open(dir: string, o: EngineOptions): Promise<Database> {
    const { io } = o;
    // DB-6: a new database is durable, folders and all, before open returns.
    if ((await io.stat(joinPath(dir, manifestFileName))) === undefined) await ensureDirDurable(io, joinPath(dir, logDirName));
    const claim = io.claimDirectory === undefined ? null : await io.claimDirectory(dir);
    let coord: Coordination | null = null;
    try {
      coord = await Coordination.open(io, dir);
      const lockFile = coord.main;
      await lockFile.lock(lockWriterOffset, 1, "exclusive");
      // Files of a checkpoint in progress belong to its checkpointer (PP-4):
      // finish or clean up after one only when no checkpointer is alive.
      const noCheckpointer = coord.tryCheckpointLock();
      try {
        const metrics = new Metrics();
        const manifest = await recoverManifest(io, dir, o, noCheckpointer);
        const pages = new PageStore(io, dir, await formatOf(manifest, dir), o.cacheBytes);
        const store = new Store(manifest, pages);
        const log = new CommitLog(io, dir, coord.logGeneration);
        await log.open();
        await log.removeAbandonedSegments(); // SEG-6
        const replay = await log.replay(manifest.checkpointTsn);
        if (replay.tornTail !== null) {
          metrics.tornTailBytesDiscarded = replay.tornTail.bytes;
          await log.cutTornTail(replay.tornTail);
        }
        for (const record of replay.records) store.applyForeign(record);
        metrics.recoveredRecords = replay.records.length;
        try {
          await log.openForAppend(store.lastTsn + 1); // SEG-10: what it serves is durable
        } catch (err) {
          await log.close().catch(() => {});
          throw err;
        }
        return new Database(dir, o, { store, log, coord, claim, metrics });
      } finally {
        if (noCheckpointer) coord.releaseCheckpointLock();
        lockFile.unlock(lockWriterOffset, 1);
      }
    } catch (err) {
      await coord?.close();
      await claim?.release();
      throw err;
    }
  }

  /** Begins a transaction on the newest committed state (DB-1). */
  async begin(options: BeginOptions = {}): Promise<Transaction> {
    this.#checkUsable(this.#state !== "open");
    const readOnly = options.readOnly === true;
    const isolation = options.isolation ?? this.#o.isolation;
    if (isolation !== "snapshot" && isolation !== "serializable") {
      throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `isolation must be "snapshot" or "serializable", got ${JSON.stringify(isolation)}`);
    }
    const coord = this.#coord;
    const published = coord.publishedSnapshot;
    if (published !== null) {
      // PP-9: a snapshot this handle publishes already bounds every checkpoint; no gate while it stays (synchronously).
      // `now >= published` always holds (the visible TSN never falls, nothing is published above it): checked, not assumed.
      const now = this.#visibleNow();
      if (now !== null && now >= published) return this.#started(now, readOnly, isolation);
    }
    await coord.enterGate(); // PP-3
    try {
      return this.#started(await this.#newestVisible(), readOnly, isolation);
    } finally {
      coord.leaveGate();
    }
  }

  /** A transaction on `snapshot`, published (PP-2). */
  #started(snapshot: number, readOnly: boolean, isolation: Isolation): Transaction {
    const tx = new Transaction(this.#host, snapshot, { readOnly, isolation });
    this.#coord.publish(snapshot);
    this.#live.set(tx, snapshot); // once published
    this.#newestSnapshot = snapshot;
    // DB-8: a newer snapshot, published, takes the spare's place (never below it: the visible TSN never falls).
    if (snapshot > (this.#snapshotSpare.tsn ?? snapshot)) this.#snapshotSpare.release();
    else this.#snapshotSpare.want();
    return tx;
  }

  /**
   * The transaction of a write that reads nothing: its snapshot only decides
   * first-committer-wins for the keys it writes, so it is not published
   * (PP-2) — a checkpoint folding past it can only let the write win where
   * it would have conflicted and been retried to the same end.
   */
  async #beginBlind(): Promise<Transaction> {
    this.#checkUsable(this.#state !== "open");
    return new Transaction(this.#host, await this.#newestVisible(), { readOnly: false, isolation: "snapshot" });
  }

  /**
   * Catches up with the log and returns the newest TSN a snapshot may take
   * (contract 6). ST-1 keeps this handle's own undurable commits out of
   * snapshots; when another process's commit follows one of them, this waits
   * for our datasync, so that commit (which may have resolved already) is
   * visible. Synchronous on the hot path: nothing new in the log (SEG-7).
   */
  #newestVisible(): number | Promise<number> {
    const store = this.#store;
    return this.#visibleNow() ?? (async () => {
      await this.#catchUp(false);
      if (store.lastForeignTsn > store.visibleTsn) await this.#commits.synced();
      return store.visibleTsn;
    })();
  }

  /** #newestVisible() when it needs no catch-up nor datasync: nothing new in the log, no other process's record above the visible TSN; else null. */
  #visibleNow(): number | null {
    const store = this.#store;
    return this.#log.unchangedNow() && store.lastForeignTsn <= store.visibleTsn ? store.visibleTsn : null;
  }

  #release(tx: Transaction): void {
    const snapshot = this.#live.get(tx);
    if (snapshot === undefined) return;
    this.#live.delete(tx);
    if (this.#snapshotSpare.tsn === null && this.#state === "open" && snapshot === this.#newestSnapshot) {
      this.#snapshotSpare.keep(snapshot); // DB-8: stays published
    } else {
      this.#coord.unpublish(snapshot);
    }
  }

  /** Withdraws this handle's spare snapshots: its committer's (GC-9) and its ended transactions' (DB-8). */
  #releaseSpares(): void {
    this.#commits.releaseSpareHold();
    this.#snapshotSpare.release();
  }

  /**
   * PP-5: every record up to `tsn` durable, by this handle's datasync or one
   * another handle published; whether it ran a datasync. `blocking` (GC-7)
   * is asked right before the datasync: a catch-up first may have let
   * another batch in.
   */
  async #syncThrough(tsn: number, blocking: () => boolean): Promise<boolean> {
    const coord = this.#coord;
    if (!coord.othersOpen()) {
      // Alone on the database: nobody to share a datasync with.
      await this.#log.datasync(blocking());
      this.#metrics.datasyncs++;
      return true;
    }
    if (coord.durableAtLeast(tsn)) return false;
    await this.#catchUp(false); // then this datasync covers, and publishes, the others' records too
    const covered = this.#store.lastTsn;
    const carriedAll = await this.#log.datasync(blocking());
    this.#metrics.datasyncs++;
    if (carriedAll) coord.publishDurable(covered); // SEG-8: not through a descriptor that re-wrote nothing yet
    return true;
  }

  /**
   * Reads the records other processes appended (GC-2, DB-4); starts over from
   * the manifest when a segment it needs was removed meanwhile.
   */
  async #catchUp(holdsWriterLock: boolean): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (attempt > 0) await this.#resync();
        return await this.#log.catchUp(this.#sink, holdsWriterLock);
      } catch (err) {
        if (!(err instanceof LogResync)) throw err;
        if (attempt >= resyncAttemptsMax) {
          throw new TxtDbError(ErrorCode.IO, `could not follow the commit log: ${err.message}, ${resyncAttemptsMax} times in a row. ` +
            "Checkpoints in other processes keep removing it; close and reopen the database.", { cause: err });
        }
      }
    }
  }

  readonly #sink: LogSink = {
    record: (r) => this.#store.applyForeign(r),
    checkpoint: async () => {
      await this.#adoptFromDisk(false);
    },
  };

  /** Adopts the manifest on disk if it is newer and this handle has applied what it covers. */
  async #adoptFromDisk(jump: boolean): Promise<boolean> {
    const onDisk = await readManifest(this.#o.io, this.dir);
    if (onDisk === undefined || onDisk.checkpointTsn <= this.#store.manifest.checkpointTsn) return false;
    if (!jump && onDisk.checkpointTsn > this.#store.lastTsn) return false; // its own marker comes later in the log
    assert(Math.min(...this.#live.values()) >= onDisk.checkpointTsn, "a checkpoint folded past a live snapshot of this handle (PP-2 broken)");
    this.#store.adopt(onDisk, jump);
    return true;
  }

  /** The log segment this handle was reading is gone: a checkpoint covers it; continue from the manifest. */
  async #resync(): Promise<void> {
    await this.#adoptFromDisk(true);
    await this.#log.repositionAfter(this.#store.lastTsn);
  }

  /**
   * ST-2: a page file no longer matches this handle's manifest. If a
   * checkpoint moved on, adopt it (waiting while one is between renaming its
   * pages and installing its manifest; finishing one whose checkpointer
   * died). True if the manifest moved: the read is then retried. False: the
   * file was edited by someone else (contract 16).
   */
  async #refresh(): Promise<boolean> {
    const before = this.#store.manifest;
    for (let waitedMs = 0; ; waitedMs++) {
      await this.#catchUp(false);
      if (this.#store.manifest === before) await this.#adoptFromDisk(false);
      if (this.#store.manifest !== before) return true;
      if (this.#coord.checkpointInProgress()) {
        if (waitedMs >= checkpointWaitMsMax) return false;
        await this.#o.sleep(1);
        continue;
      }
      if (!(await this.#finishAbandonedCheckpoint())) return false;
    }
  }

  /** CP-3 while others are open: a checkpointer died after its intent was durable; complete it. */
  async #finishAbandonedCheckpoint(): Promise<boolean> {
    if (!this.#coord.tryCheckpointLock()) return false;
    try {
      const next = await readManifest(this.#o.io, this.dir, manifestNextFileName).catch(() => undefined);
      if (next === undefined || next.checkpointTsn <= this.#store.manifest.checkpointTsn) return false;
      await finishCheckpoint(this.#o.io, this.dir, next);
      await this.#commits.withWriterLock(async () => {
        await this.#catchUp(true);
        await this.#log.appendCheckpointMarker(next.checkpointTsn);
      });
      await this.#adoptFromDisk(false);
      return true;
    } finally {
      this.#coord.releaseCheckpointLock();
    }
  }

  /**
   * Runs `fn` in a transaction and commits it, retrying the whole of `fn` on
   * ConflictError (at most `retries` more times, with jittered backoff), and
   * on nothing else (contract 8). Resolves with `fn`'s result.
   */
  transaction<T>(fn: (tx: Transaction) => Promise<T> | T, options: TransactionOptions = {}): Promise<T> {
    return this.#track(this.#transaction(fn, options));
  }

  async #transaction<T>(fn: (tx: Transaction) => Promise<T> | T, options: TransactionOptions): Promise<T> {
    const retries = options.retries ?? transactionRetriesDefault;
    if (!(Number.isInteger(retries) && retries >= 0)) {
      throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `retries must be an integer ≥ 0, got ${String(options.retries)}`);
    }
    for (let attempt = 0; ; attempt++) {
      if (options.signal?.aborted) throw abortedError(options.signal);
      const tx = await this.begin(options);
      try {
        const result = await fn(tx);
        await tx.commit();
        return result;
      } catch (err) {
        await tx.rollback();
        if (!(err instanceof ConflictError) || attempt >= retries) throw err;
      }
      const bound = Math.min(retryBackoffMaxMs, retryBackoffFirstMs * 2 ** attempt);
      await this.#o.sleep(this.#o.random() * bound);
    }
  }

  /** One-operation transaction: the value of a key, or undefined. */
  get(ns: string, key: Key): Promise<unknown> {
    // Not an async function: when the snapshot and the value are at hand
    // (the hot path) the promise is settled when returned, so close() has
    // nothing to wait for; anything that waits is tracked.
    try {
      this.#checkUsable(this.#state !== "open");
      validateNamespace(ns);
      const enc = encodeKey(key);
      const snapshot = this.#newestVisible();
      const value = typeof snapshot === "number" ? this.#readAt(ns, enc, snapshot) : snapshot.then((tsn) => this.#readAt(ns, enc, tsn));
      return value instanceof Promise ? this.#track(value) : Promise.resolve(value);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * A single read needs no published snapshot (PP-2): it reads one key at the
   * newest visible TSN, and a checkpoint racing it only moves the key's value
   * from the versions into a page (ST-2 retries), never to another TSN's.
   * Synchronous when the versions or a cached page answer.
   */
  #readAt(ns: string, enc: string, snapshot: number): unknown {
    if (!this.#metrics.sample("get")) return this.#store.get(ns, enc, snapshot);
    const t0 = this.#o.now();
    const value = this.#store.get(ns, enc, snapshot);
    const done = (): void => this.#metrics.record("get", (this.#o.now() - t0) * 1000);
    if (value instanceof Promise) void value.then(done, () => {});
    else done();
    return value;
  }

  put(ns: string, key: Key, value: unknown): Promise<CommitResult> {
    return this.#track(this.#put(ns, key, value));
  }

  #put(ns: string, key: Key, value: unknown): Promise<CommitResult> {
    return this.#blindWrite((tx) => tx.put(ns, key, value));
  }

  /**
   * A write that reads nothing (put, delete, drop): it conflicts only with a
   * concurrent write of the same key, so it is simply retried — the last
   * writer wins, as a caller of a one-operation shortcut expects.
   */
  async #blindWrite(write: (tx: Transaction) => Promise<void>): Promise<CommitResult> {
    for (let attempt = 0; ; attempt++) {
      const tx = await this.#beginBlind();
      try {
        await write(tx);
      } catch (err) {
        await tx.rollback();
        throw err;
      }
      try {
        return await tx.commit();
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= transactionRetriesDefault) throw err;
      }
      await this.#o.sleep(this.#o.random() * Math.min(retryBackoffMaxMs, retryBackoffFirstMs * 2 ** attempt));
    }
  }

  delete(ns: string, key: Key): Promise<CommitResult> {
    return this.#track(this.#delete(ns, key));
  }

  #delete(ns: string, key: Key): Promise<CommitResult> {
    return this.#blindWrite((tx) => tx.delete(ns, key));
  }

  /** Namespaces that hold at least one key now, sorted. */
  namespaces(): Promise<string[]> {
    return this.#track(this.#namespaces());
  }

  async #namespaces(): Promise<string[]> {
    const tx = await this.begin({ readOnly: true });
    try {
      const names: string[] = [];
      for (const ns of this.#store.knownNamespaces()) {
        for await (const _ of tx.scan(ns, { limit: 1 })) names.push(ns);
      }
      return names;
    } finally {
      await tx.rollback();
    }
  }

  /** Removes every key of a namespace, as one transaction. */
  dropNamespace(ns: string): Promise<CommitResult> {
    return this.#track(this.#dropNamespace(ns));
  }

  async #dropNamespace(ns: string): Promise<CommitResult> {
    validateNamespace(ns);
    return this.#blindWrite((tx) => tx.dropNamespace(ns));
  }

  /**
   * Moves every key of `from` to `to`, as one transaction (written to the log
   * as the rows of `to` and a drop of `from`). `to` must be empty: TXTDB_EXISTS.
   */
  renameNamespace(from: string, to: string): Promise<CommitResult> {
    return this.#track(this.#renameNamespace(from, to));
  }

  async #renameNamespace(from: string, to: string): Promise<CommitResult> {
    validateNamespace(from);
    validateNamespace(to);
    if (from === to) throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `cannot rename namespace '${from}' to itself`);
    const tx = await this.begin();
    try {
      for await (const _ of tx.scan(to, { limit: 1 })) {
        throw new TxtDbError(ErrorCode.EXISTS, `cannot rename '${from}' to '${to}': '${to}' is not empty. Drop it first.`);
      }
      const rows: Array<[Key, unknown]> = [];
      for await (const row of tx.scan(from)) rows.push(row);
      for (const [key, value] of rows) await tx.put(to, key, value);
      await tx.dropNamespace(from);
    } catch (err) {
      await tx.rollback();
      throw err;
    }
    return tx.commit();
  }

  /**
   * Adopts hand edits of page files as one transaction (src/engine/edits.ts,
   * ADOPT-1…5), then checkpoints so the files show the adopted rows in
   * txtdb's layout. Runs in this handle's checkpoint slot and under the
   * checkpoint lock: no checkpoint of any process moves files meanwhile.
   */
  adoptEdits(options: AdoptEditsOptions = {}): Promise<AdoptEditsResult> {
    this.#checkUsable(this.#state !== "open");
    if (this.#commits.failure !== null) throw this.#commits.failure;
    return this.#track(this.#adoptEdits(options));
  }

  async #adoptEdits(options: AdoptEditsOptions): Promise<AdoptEditsResult> {
    const result = await this.#inCheckpointSlot("adoptEdits()", () =>
      adoptEdits({ io: this.#o.io, store: this.#store, begin: () => this.begin() }, { ...options, apply: options.apply ?? applyEditsThroughTables(this) }));
    if (result.tsn !== null) await this.#runCheckpoint().catch((err) => (this.#checkpointError = err));
    return result;
  }

  // -------------------------------------------------------------------------
  // The table layer (src/table/): built on the public API above only.

  /**
   * Opens table `name` as the catalog stores it (TXTDB_NOT_FOUND if there is
   * none), or — with options — creates it, or checks the options against it
   * and builds the indexes it does not have yet (src/table/catalog.ts).
   */
  table<Row extends object = Record<string, unknown>>(name: string, options?: TableOptions<Row>): Promise<Table<Row>> {
    return this.#track(openTable(this, name, options));
  }

  /** The names of the tables, sorted. */
  tables(): Promise<string[]> {
    return this.#track(listTables(this));
  }

  /** Drops a table: its rows, its index entries and its catalog entry, in one transaction. True if it existed. */
  dropTable(name: string): Promise<boolean> {
    return this.#track(dropTable(this, name));
  }

  /** Folds the log into the page files now (see checkpoint.ts); resolves when done. */
  async checkpoint(): Promise<{ tsn: number }> {
    this.#checkUsable(this.#state !== "open");
    if (this.#commits.failure !== null) throw this.#commits.failure;
    await this.#runCheckpoint();
    return { tsn: this.#store.manifest.checkpointTsn };
  }

  /**
   * After a batch: past the log threshold, checkpoint — on the next turn of
   * the event loop, once the batch's transactions have settled and no longer
   * hold their snapshots (DB-3).
   */
  #maybeCheckpoint(): void {
    if (this.#log.bytesAppended - this.#logBytesAtCheckpoint < this.#o.checkpointLogBytes) return;
    if (this.#checkpointRunning || this.#state !== "open") return;
    void this.#o.sleep(0).then(() => {
      if (this.#state !== "open") return;
      return this.#runCheckpoint().catch((err) => (this.#checkpointError = err));
    });
  }

  /** One checkpoint at a time; callers during one share it. */
  #runCheckpoint(): Promise<void> {
    if (this.#slotOther !== null) return this.#slotOther.then(() => this.#runCheckpoint()); // after check() or adoptEdits()
    if (!this.#checkpointRunning) {
      this.#checkpointRunning = true;
      this.#checkpointing = this.#checkpointOnce();
    }
    return this.#checkpointing;
  }

  async #checkpointOnce(): Promise<void> {
    const coord = this.#coord;
    let holder = false;
    try {
      if (this.#commits.failure !== null) return; // a handle that cannot write leaves checkpoints to the others
      holder = coord.tryCheckpointLock(); // PP-4: another handle checkpointing does the work
      if (!holder) return;
      const abandoned = await readManifest(this.#o.io, this.dir, manifestNextFileName).catch(() => undefined);
      if (abandoned !== undefined && abandoned.checkpointTsn > this.#store.manifest.checkpointTsn) {
        // CP-3: a checkpointer died after its intent was durable; finish its work first.
        await finishCheckpoint(this.#o.io, this.dir, abandoned);
        this.#leftoversRemoved = false; // DB-7: it may have left files of its own
        await this.#commits.withWriterLock(async () => {
          await this.#catchUp(true);
          await this.#log.appendCheckpointMarker(abandoned.checkpointTsn);
        });
        await this.#adoptFromDisk(false);
      }
      const onDisk = await this.#announceInstalled();
      if (!this.#leftoversRemoved) await this.#removeLeftovers(onDisk);
      const c = await this.#chooseCheckpointTsn();
      if (c <= this.#store.manifest.checkpointTsn) return;
      const t0 = this.#o.now();
      this.#logBytesAtCheckpoint = this.#log.bytesAppended;
      try {
        await checkpoint(this.#o.io, this.dir, this.#store, c);
      } catch (err) {
        if (!(err instanceof CheckpointIncomplete)) throw err;
        throw this.#failFatally(err);
      }
      // Tell the other handles, then let the segments it covers go (SEG-3).
      // The manifest is installed: failing to tell them is as bad as DB-5.
      try {
        await this.#commits.withWriterLock(async () => {
          await this.#catchUp(true);
          await this.#log.appendCheckpointMarker(c);
        });
      } catch (err) {
        throw this.#failFatally(new CheckpointIncomplete(err));
      }
      this.#log.requestRotation();
      await this.#log.removeThrough(c);
      this.#metrics.checkpoints++;
      this.#metrics.record("checkpoint", (this.#o.now() - t0) * 1000);
      this.#checkpointError = null;
    } finally {
      if (holder) coord.releaseCheckpointLock();
      this.#checkpointRunning = false; // in the same turn the work ends: a later call starts a new one
    }
  }

  /**
   * DB-7, holding the checkpoint lock: the manifest on disk names every page
   * file there should be — unless a manifest.next is there (a checkpoint to
   * finish, whose files are not garbage, or one this handle could not read):
   * then nothing goes. Best effort: leftovers change no result, so a failure
   * here never stops the checkpoint; the next one tries again. `onDisk`:
   * the manifest #announceInstalled read under the same checkpoint lock —
   * no other handle can install one meanwhile.
   */
  async #removeLeftovers(onDisk: Manifest | undefined): Promise<void> {
    const io = this.#o.io;
    try {
      if ((await io.stat(joinPath(this.dir, manifestNextFileName))) !== undefined) return;
      if (onDisk !== undefined) await removeLeftoverPages(io, this.#store.pages.root, onDisk);
      this.#leftoversRemoved = true;
    } catch {
      // Tried again by the next checkpoint.
    }
  }

  /**
   * The checkpointer, before it folds: a checkpoint installed (step 4) whose
   * marker never reached the log — its checkpointer failed (DB-5) or died
   * right after installing — is announced now and adopted. Folding from the
   * older manifest would read pages the installed one has replaced
   * (TXTDB_EDITED), and the other handles would learn of it only at a read.
   * Under the writer lock, caught up: the marker may only be unread.
   * Returns the manifest on disk (undefined: none yet).
   */
  async #announceInstalled(): Promise<Manifest | undefined> {
    const onDisk = await readManifest(this.#o.io, this.dir);
    if (onDisk === undefined || onDisk.checkpointTsn <= this.#store.manifest.checkpointTsn) return onDisk;
    await this.#commits.withWriterLock(async () => {
      await this.#catchUp(true);
      const c = onDisk.checkpointTsn;
      if (c > this.#store.manifest.checkpointTsn && c <= this.#store.lastTsn) await this.#log.appendCheckpointMarker(c);
    });
    await this.#adoptFromDisk(false);
    return onDisk;
  }

  /**
   * DB-3, PP-3: the newest TSN no live snapshot of any handle is older than,
   * and no newer than this handle's durable state.
   */
  async #chooseCheckpointTsn(): Promise<number> {
    this.#releaseSpares(); // this handle's spares hold back no checkpoint of its own
    await this.#coord.closeGate();
    try {
      await this.#catchUp(false);
      const visible = this.#store.visibleTsn;
      const c = Math.min(visible, this.#coord.oldestPublished(visible));
      if (visible - c > this.#o.snapshotLagWarnTsn && !this.#warnedLag) {
        this.#warnedLag = true;
        this.#o.onWarning({
          code: "TXTDB_SNAPSHOT_LAG",
          message: `a transaction begun at TSN ${c} (in this or another process) keeps checkpoints ${visible - c} commits behind; ` +
            "the log and in-memory versions grow until it commits or rolls back. Commit or roll back long-running transactions.",
          oldestSnapshotTsn: c,
          lastTsn: visible,
        });
      }
      return c;
    } finally {
      this.#coord.openGate();
    }
  }

  /** DB-5. */
  #failFatally(err: CheckpointIncomplete): TxtDbError {
    this.#fatal ??= new TxtDbError(ErrorCode.IO, `a checkpoint failed after its intent was made durable (${String((err.cause as Error)?.message ?? err.message)}): ` +
      "this handle serves nothing more. Close and reopen the database: open completes the checkpoint.", { cause: err.cause });
    this.#commits.stop(this.#fatal);
    return this.#fatal;
  }

  /** Counters, latency percentiles per operation (µs), and cache figures. */
  stats(): DatabaseStats {
    const m = this.#metrics;
    const last = this.#store.visibleTsn;
    this.#releaseSpares(); // the oldest snapshot is a transaction's, not a spare
    const oldest = this.#state === "closed" ? last : Math.min(last, this.#coord.oldestPublished(last));
    const cache = this.#store.pages.stats;
    const lookups = cache.hits + cache.misses;
    return {
      commits: m.commits,
      readOnlyCommits: m.readOnlyCommits,
      batches: m.batches,
      fsyncs: m.datasyncs,
      datasyncs: m.datasyncs,
      datasyncsPerCommit: m.commits === 0 ? 0 : m.datasyncs / m.commits,
      conflicts: m.conflicts,
      rollbacks: m.rollbacks,
      checkpoints: m.checkpoints,
      lastTsn: last,
      checkpointTsn: this.#store.manifest.checkpointTsn,
      openTransactions: this.#live.size,
      oldestSnapshotTsn: oldest,
      checkpointHeldBackTsn: last - oldest,
      recoveredRecords: m.recoveredRecords,
      tornTailBytesDiscarded: m.tornTailBytesDiscarded,
      writeFailure: this.#commits.failure?.message ?? null,
      checkpointFailure: this.#checkpointError === null ? null : String((this.#checkpointError as Error).message ?? this.#checkpointError),
      cache: { bytes: cache.bytes, pages: cache.pages, hits: cache.hits, misses: cache.misses, hitRate: lookups === 0 ? 0 : cache.hits / lookups },
      latency: Object.fromEntries(operations.map((op) => [op, m.latency.get(op)!.summary()])) as DatabaseStats["latency"],
    };
  }

  /**
   * Full integrity check: every page against the manifest, every log record,
   * key order. Holds the checkpoint lock, so no checkpoint (of any process)
   * moves files under it.
   */
  check(): Promise<CheckResult> {
    this.#checkUsable(this.#state !== "open");
    return this.#track(this.#check());
  }

  async #check(): Promise<CheckResult> {
    return this.#inCheckpointSlot("check()", async (onDisk) => {
      // Under the checkpoint lock the manifest on disk is the one whose page
      // files are there: check those, even when this handle has not read the
      // log up to it yet (its catch-up may stop at an append in progress) and
      // so still serves from the one before.
      const manifest = onDisk !== undefined && onDisk.checkpointTsn > this.#store.manifest.checkpointTsn ? onDisk : this.#store.manifest;
      const problems: string[] = [];
      for (const [ns, files] of manifest.namespaces) {
        for (let i = 0; i < files.pages.length; i++) {
          try {
            await this.#store.pages.read(files, i);
          } catch (err) {
            problems.push(`namespace '${ns}': ${(err as Error).message}`);
          }
        }
      }
      problems.push(...(await this.#checkLog()));
      return { ok: problems.length === 0, problems };
    });
  }

  /**
   * Runs `fn` in this handle's checkpoint slot, under the checkpoint lock,
   * caught up with the log and the manifest on disk: no checkpoint of this
   * handle (whose lock would not keep it out: locks of one handle never
   * conflict) or of any other process moves page files meanwhile.
   */
  async #inCheckpointSlot<T>(what: string, fn: (onDisk: Manifest | undefined) => Promise<T>): Promise<T> {
    while (this.#checkpointRunning || this.#slotOther !== null) await (this.#slotOther ?? this.#checkpointing).catch(() => {});
    this.#checkpointRunning = true; // automatic checkpoints wait (#maybeCheckpoint, #runCheckpoint)
    const run = (async () => {
      for (let waitedMs = 0; !this.#coord.tryCheckpointLock(); waitedMs++) {
        if (waitedMs >= checkpointWaitMsMax) throw new TxtDbError(ErrorCode.LOCKED, `${what} waited 30 s for a checkpoint to finish; try again`);
        await this.#o.sleep(1);
      }
      try {
        await this.#catchUp(false);
        const onDisk = await readManifest(this.#o.io, this.dir);
        if (this.#store.manifest.checkpointTsn < (onDisk?.checkpointTsn ?? 0)) await this.#adoptFromDisk(false);
        return await fn(onDisk);
      } finally {
        this.#coord.releaseCheckpointLock();
      }
    })();
    this.#slotOther = run.then(() => {}, () => {});
    try {
      return await run;
    } finally {
      this.#checkpointRunning = false;
      this.#slotOther = null;
    }
  }

  /** Every line of every segment: checksums, TSN order. */
  async #checkLog(): Promise<string[]> {
    const problems: string[] = [];
    const log = new CommitLog(this.#o.io, this.dir);
    await log.open(); // the segments as they are now, not as this handle last saw them
    let expected = 0;
    for (const segment of log.segments()) {
      let bytes: Uint8Array;
      try {
        bytes = await this.#o.io.readFile(segment.path);
      } catch (err) {
        if (err instanceof TxtDbError && err.code === ErrorCode.NOT_FOUND) continue; // removed by a checkpoint just now
        throw err;
      }
      const last = segment === log.segments().at(-1);
      for (const line of scanLines(bytes)) {
        if ("bad" in line) {
          if (last && line.incomplete === true) continue; // another process appending right now
          problems.push(`log '${segment.path}' at byte ${line.offset}: ${line.bad}`);
          continue;
        }
        if (!("record" in line)) continue;
        // A gap wholly ≤ the checkpoint TSN is a covered segment whose unlink failed (SEG-3): garbage, not a problem.
        const coveredGap = line.record.tsn > expected && line.record.tsn <= this.#store.manifest.checkpointTsn + 1;
        if (expected !== 0 && line.record.tsn !== expected && !coveredGap) problems.push(`log '${segment.path}' at byte ${line.offset}: TSN ${line.record.tsn} where ${expected} was expected`);
        expected = line.record.tsn + 1;
      }
    }
    return problems;
  }

  /** DB-2. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#state = "closing";
      while (this.#tracked.size > 0) await Promise.allSettled([...this.#tracked]);
      this.#state = "closed"; // transactions still open now fail with TXTDB_CLOSED
      await this.#commits.drain();
      this.#releaseSpares(); // before the lock file closes
      await this.#checkpointing.catch(() => {});
      this.#live.clear();
      if (this.#commits.failure === null && this.#fatal === null) {
        await this.#runCheckpoint().catch((err) => (this.#checkpointError = err));
        // SEG-3: the last one out, with everything folded, leaves no log to replay.
        await this.#commits.withWriterLock(async () => {
          await this.#catchUp(true);
          if (this.#store.lastTsn === this.#store.manifest.checkpointTsn && !this.#coord.othersOpen()) await this.#log.retire();
        }).catch(() => {}); // a failure leaves a log that replays to the same state
      }
      this.#commits.stopKeepingWriterLock(); // GC-10
      await this.#log.close();
      await this.#coord.close();
      await this.#claim?.release();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#tracked.add(p);
    const untrack = (): void => void this.#tracked.delete(p);
    p.then(untrack, untrack);
    return p;
  }

  #submit(c: PendingCommit): Promise<number> {
    this.#checkUsable(this.#state === "closed");
    return this.#commits.submit(c);
  }

  /** Throws TXTDB_CLOSED when `closed`, or the fatal error (DB-5). */
  #checkUsable(closed: boolean): void {
    if (this.#fatal !== null) throw this.#fatal;
    if (closed) throw new TxtDbError(ErrorCode.CLOSED, `the database '${this.dir}' is closed; open it again`);
  }
}

/** A warning delivered to `open(dir, { onWarning })`. */
export interface TxtDbWarning {
  /** "TXTDB_SNAPSHOT_LAG": a long-lived snapshot holds checkpoints back. */
  code: "TXTDB_SNAPSHOT_LAG";
  message: string;
  oldestSnapshotTsn: number;
  lastTsn: number;
}

export interface LatencySummary {
  count: number;
  p50Us: number;
  p95Us: number;
  p99Us: number;
  maxUs: number;
}

export interface DatabaseStats {
  commits: number;
  readOnlyCommits: number;
  batches: number;
  /** Log syncs that made commits durable (fdatasync on Linux): the contract's name for `datasyncs`. */
  fsyncs: number;
  datasyncs: number;
  datasyncsPerCommit: number;
  conflicts: number;
  rollbacks: number;
  checkpoints: number;
  lastTsn: number;
  checkpointTsn: number;
  openTransactions: number;
  /** The oldest snapshot any handle on the database (any process) publishes — a transaction's, or a spare (GC-9, DB-8) — or lastTsn. */
  oldestSnapshotTsn: number;
  /** How many TSNs a checkpoint now could not fold because of that snapshot. */
  checkpointHeldBackTsn: number;
  recoveredRecords: number;
  tornTailBytesDiscarded: number;
  /** Why writes are refused (fail-stop after an I/O error), or null. */
  writeFailure: string | null;
  /** Why the last automatic checkpoint failed, or null. */
  checkpointFailure: string | null;
  cache: { bytes: number; pages: number; hits: number; misses: number; hitRate: number };
  latency: Record<(typeof operations)[number], LatencySummary>;
}

/** Steps 1–2 of open: finish or discard manifest.next, read or create the manifest. */
async function recoverManifest(io: FileIO, dir: string, o: EngineOptions, noCheckpointer: boolean): Promise<Manifest> {
  const nextPath = joinPath(dir, manifestNextFileName);
  if (noCheckpointer && (await io.stat(nextPath)) !== undefined) {
    let next: Manifest | null = null;
    try {
      next = decodeManifest(new TextDecoder().decode(await io.readFile(nextPath, { inline: true })), nextPath);
    } catch (err) {
      if (!(err instanceof TxtDbError && err.code === ErrorCode.CORRUPT)) throw err; // an I/O error is not a torn intent
      next = null; // torn: the checkpoint's intent never became durable (CP-3)
    }
    if (next === null) {
      await io.unlink(nextPath);
      await io.syncDir(dir);
    } else {
      await finishCheckpoint(io, dir, next);
    }
  }
  let manifest = await readManifest(io, dir, manifestFileName, { inline: true }); // open waits on it (NIO-5)
  if (manifest === undefined) {
    manifest = emptyManifest(o.format);
    await writeManifestNext(io, dir, manifest);
    await installManifestNext(io, dir);
  }
  if (manifest.format !== o.format && o.formatExplicit) {
    throw new TxtDbError(ErrorCode.FORMAT, `the database in '${dir}' stores "${manifest.format}" pages, not "${o.format}": ` +
      `open it with { format: "${manifest.format}" } or without a format (the format is fixed when a database is created).`, { file: joinPath(dir, manifestFileName) });
  }
  return manifest;
}

/** The page format a manifest names (contract 17): one this version cannot read is TXTDB_FORMAT. */
async function formatOf(manifest: Manifest, dir: string): Promise<PageFormat> {
  const format = await loadPageFormat(manifest.format);
  if (format === undefined) {
    throw new TxtDbError(ErrorCode.FORMAT, `the database in '${dir}' stores "${manifest.format}" pages, which this version of txtdb cannot read yet.`,
      { file: joinPath(dir, manifestFileName) });
  }
  return format;
}

/** CP-3: redo steps 3 and 4 of a checkpoint whose manifest.next is durable. */
async function finishCheckpoint(io: FileIO, dir: string, next: Manifest): Promise<void> {
  const root = joinPath(dir, pagesDirName);
  for (const files of next.namespaces.values()) {
    const folder = joinPath(root, files.dir);
    for (const page of files.pages) {
      const path = joinPath(folder, page.file);
      if ((await io.stat(path + tempSuffix)) !== undefined) await io.rename(path + tempSuffix, path);
      await installBase(io, path);
    }
    await io.syncDir(folder);
  }
  await installManifestNext(io, dir);
}

/**
 * DB-7, with no other checkpointer alive and no manifest.next: .tmp files are
 * pages of a checkpoint that never became durable; page files the manifest
 * does not name are pages a checkpoint replaced or emptied but crashed
 * before unlinking. Both go (deleted rows must not stay greppable); so do
 * folders of namespaces the manifest no longer has, once empty.
 */
async function removeLeftoverPages(io: FileIO, pagesRoot: string, manifest: Manifest): Promise<void> {
  if ((await io.stat(pagesRoot)) === undefined) return;
  const named = new Map([...manifest.namespaces.values()].map((ns) => [ns.dir, new Set(ns.pages.map((p) => p.file))]));
  let removedFolder = false;
  for (const folder of await io.readdir(pagesRoot)) {
    const path = joinPath(pagesRoot, folder);
    if (!(await io.stat(path))?.isDirectory) continue;
    const files = named.get(folder);
    const leftovers = (await io.readdir(path)).filter((f) => {
      const page = pageOfBase(f) ?? f; // a base copy goes with its page (BASE-2)
      return f.endsWith(tempSuffix) || (pageFilePattern.test(page) && files?.has(page) !== true);
    });
    for (const f of leftovers) await io.unlink(joinPath(path, f));
    if (leftovers.length > 0) await io.syncDir(path);
    if (files === undefined && (await io.readdir(path)).length === 0) {
      await io.rmdir(path);
      removedFolder = true;
    }
  }
  if (removedFolder) await io.syncDir(pagesRoot);
}

/** The names page files get (pages.ts): six digits and the format's extension. */
const pageFilePattern = /^\d{6}\.(json|ya?ml|xml)$/;

function abortedError(signal: AbortSignal): TxtDbError {
  return new TxtDbError(ErrorCode.ABORTED, "the transaction was aborted through its signal", { cause: signal.reason });
}
