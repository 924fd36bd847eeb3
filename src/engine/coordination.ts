/**
 * The process protocol: how handles on one database — in one process or many,
 * in Node, Deno or Bun — coordinate through byte-range locks in the lock file
 * (the table of bytes is in _defaults.ts). Locks belong to a file handle, and
 * a dead process's locks vanish with it: no heartbeats, no timeouts, no stale
 * leases.
 *
 * - PP-1  Reader slot: every open handle holds one slot byte exclusively for
 *         its life, so "is any other handle open?" is one lock test.
 * - PP-2  Published snapshot: a handle with live transactions (or a spare
 *         hold: GC-9, DB-8) holds a shared lock on byte (2^40 + S), S the
 *         oldest snapshot TSN it holds. A
 *         checkpoint never folds past the lowest published S (VER-4 across
 *         processes).
 * - PP-3  Snapshot gate: begin() catches up and publishes its snapshot while
 *         holding the gate shared; a checkpoint chooses its TSN holding it
 *         exclusively. So a snapshot is either published before the choice
 *         (and bounds it) or taken after it, from a log that already holds
 *         every record the checkpoint can fold (and is at least its TSN).
 * - PP-4  One checkpointer at a time, by the checkpoint lock; it is tried, not
 *         waited for: a handle that finds it held leaves the work to the holder.
 * - PP-5  Group commit across processes: a handle that needs its records
 *         durable first checks whether another handle has published a
 *         durable TSN that covers them; if not, it datasyncs the log and
 *         publishes the newest TSN that datasync covered (none when its log
 *         descriptor has not re-written the unattested tail yet, SEG-8: the
 *         datasync may not have carried all of it). Datasyncs of
 *         several processes run concurrently (they overlap in the kernel,
 *         and a journal commits them together); none waits for a lock to
 *         sync: making them wait for one another's datasync through a lock
 *         cost throughput, in txtdb and in a C loop doing the same I/O.
 * - PP-6  Log generation: the lock file's first 8 bytes, mapped shared where
 *         the FileIO can (FileHandle.mapShared), count the changes to the
 *         log's lines: whoever appends to or cuts a segment, holding the
 *         writer lock, makes the count odd before the change and the next
 *         even number after it (SEG-9 in log.ts). A handle that finds the
 *         count where it was when it last caught up knows no line came since
 *         — with a load from memory, where begin(), db.get() and a commit
 *         would otherwise read the log (SEG-7). The lock file holds no data:
 *         its bytes are only the counts of PP-6 and PP-7, and its byte ranges
 *         the locks.
 * - PP-7  Handle generation: the lock file's next 8 bytes count the handles
 *         ever opened on the database: a handle adds one right after taking
 *         its slot, before it reads anything. A handle that found itself
 *         alone (PP-1) when the count was n is still alone while the count
 *         is n — no lock test at each commit (othersOpen). A handle that
 *         closes changes nothing: "not alone" is always tested again.
 * - PP-8  All or none: PP-6 and PP-7 hold only if every handle on the
 *         database keeps the counts, so handles that map the lock file and
 *         handles that cannot (a FileIO without mapShared) never share a
 *         database. Each holds, for its life, a shared lock on the byte of
 *         its kind, taken before it tests the other kind's byte; finding the
 *         other kind there, open fails with TXTDB_LOCKED. (Two opening at
 *         once may both fail; neither ever runs beside the other.)
 * - PP-9  PP-3's exception: a begin() of a handle that publishes a snapshot
 *         P already takes no gate when its snapshot S ≥ P is at hand without
 *         catching up — nothing new in the log since it last did, no other
 *         process's record above its visible TSN — and publishes S in the
 *         same synchronous run (database.ts). A checkpoint choosing its TSN
 *         meanwhile is bounded by P ≤ S. One that chose before could fold
 *         only records already in the log; those above S are this handle's
 *         own, not yet durable, and each batch of them published its GC-6
 *         hold (≤ S) before it was appended, so that choice is ≤ S too.
 *         Under durability "relaxed" there are none: a batch is made visible
 *         in the same synchronous run that ends its append (no await between
 *         them), and until then the log's chain is busy, so no begin() finds
 *         its snapshot at hand (unchangedNow). A loop of transactions with
 *         a spare published (GC-9's, of a committer; DB-8's, of a snapshot)
 *         takes no lock at begin.
 *
 * Two handles on the lock file: `main` holds the slot, the writer lock, the
 * gate in shared mode and the published snapshot; `aux` holds the checkpoint
 * lock and the gate in exclusive mode. Locks of one handle never conflict
 * with each other, so the checkpointer's exclusive gate must live on another
 * handle than this process's own shared holders — then the kernel orders them.
 */
import { ErrorCode, TxtDbError, assert, assertionFailed } from "../errors.ts";
import type { FileHandle, FileIO } from "../io/file_io.ts";
import { joinPath } from "../io/path.ts";
import {
  lockCheckpointOffset, lockDurableOffset, lockFileName, lockMappedOffset, lockSharedBytes, lockSlotsMax, lockSlotsOffset,
  lockSnapshotGateOffset, lockSnapshotsOffset, lockUnmappedOffset,
} from "./_defaults.ts";

export class Coordination {
  readonly main: FileHandle;
  readonly #aux: FileHandle;
  readonly slot: number;
  /** PP-3: how many begin() calls of this handle are inside the gate. */
  #gateHolders = 0;
  #gateOpening: Promise<void> | null = null;
  /** PP-2: live snapshot TSN → how many transactions of this handle hold it. */
  readonly #live = new Map<number, number>();
  #published: number | null = null;
  /** PP-5: the durable TSN this handle publishes, or null. */
  #durablePublished: number | null = null;
  /** PP-6: the shared log generation, or null where the FileIO cannot map the lock file. */
  readonly logGeneration: BigInt64Array | null;
  /** PP-7: the shared handle generation (null where the lock file is not mapped), and its value when this handle last found itself alone. */
  readonly #handleGeneration: BigInt64Array | null;
  #aloneAt: bigint | null = null;

  private constructor(main: FileHandle, aux: FileHandle, slot: number, shared: ArrayBuffer | null) {
    this.main = main;
    this.#aux = aux;
    this.slot = slot;
    this.logGeneration = shared === null ? null : new BigInt64Array(shared, 0, 1);
    this.#handleGeneration = shared === null ? null : new BigInt64Array(shared, 8, 1);
  }

  /** Opens the lock file twice and takes a reader slot (PP-1). */
  static async open(io: FileIO, dir: string): Promise<Coordination> {
    const path = joinPath(dir, lockFileName);
    const main = await io.open(path, { create: true });
    let aux: FileHandle | null = null;
    try {
      aux = await io.open(path);
      for (let i = 0; i < lockSlotsMax; i++) {
        if (!main.tryLock(lockSlotsOffset + i, 1, "exclusive")) continue;
        const shared = main.mapShared?.(lockSharedBytes) ?? null;
        // PP-8: this handle's kind first, then the other kind's.
        const [mine, other] = shared === null ? [lockUnmappedOffset, lockMappedOffset] : [lockMappedOffset, lockUnmappedOffset];
        const granted = main.tryLock(mine, 1, "shared");
        assert(granted, "a shared lock on a kind byte can only conflict with an exclusive one, and nobody takes those");
        if (main.testLock(other, 1, "exclusive") !== null) {
          throw new TxtDbError(ErrorCode.LOCKED, `the database in '${dir}' is open through a FileIO that ${shared === null ? "maps" : "cannot map"} ` +
            `its lock file (FileHandle.mapShared), and this one ${shared === null ? "cannot" : "does"}: every handle on a database must be of one kind. ` +
            "Close the others first, or open through the same FileIO.", { file: path });
        }
        if (shared !== null) Atomics.add(new BigInt64Array(shared, 8, 1), 0, 1n); // PP-7: before this handle reads anything
        return new Coordination(main, aux, i, shared);
      }
      throw new TxtDbError(ErrorCode.LOCKED, `the database in '${dir}' has ${lockSlotsMax} open handles already; close some first`, { file: path });
    } catch (err) {
      await aux?.close();
      await main.close();
      throw err;
    }
  }

  /** PP-3, reader side: holds the gate shared until leaveGate(). */
  async enterGate(): Promise<void> {
    this.#gateHolders++;
    if (this.#gateHolders === 1) {
      if (!this.main.tryLock(lockSnapshotGateOffset, 1, "shared")) {
        this.#gateOpening = this.main.lock(lockSnapshotGateOffset, 1, "shared");
      }
    }
    if (this.#gateOpening !== null) {
      try {
        await this.#gateOpening;
      } catch (err) {
        this.leaveGate();
        throw err;
      } finally {
        this.#gateOpening = null;
      }
    }
  }

  leaveGate(): void {
    assert(this.#gateHolders > 0, "leaveGate without enterGate");
    if (--this.#gateHolders === 0) this.main.unlock(lockSnapshotGateOffset, 1);
  }

  /** PP-2: the snapshot TSN this handle publishes, or null. */
  get publishedSnapshot(): number | null {
    return this.#published;
  }

  /** PP-2: a transaction of this handle took `snapshot`. */
  publish(snapshot: number): void {
    if (this.#published === null || snapshot < this.#published) this.#republish(snapshot);
    this.#live.set(snapshot, (this.#live.get(snapshot) ?? 0) + 1); // counted once published: a failed lock call leaves nothing counted
  }

  /** PP-2: a transaction with `snapshot` ended. */
  unpublish(snapshot: number): void {
    const n = this.#live.get(snapshot);
    if (n === undefined || n <= 0) assertionFailed(`unpublish of an unpublished snapshot ${snapshot}`);
    if (n > 1) return void this.#live.set(snapshot, n - 1);
    this.#live.delete(snapshot);
    if (snapshot !== this.#published) return;
    this.#republish(this.#live.size === 0 ? null : Math.min(...this.#live.keys()));
  }

  #republish(snapshot: number | null): void {
    const old = this.#published;
    if (snapshot !== null) {
      const granted = this.main.tryLock(lockSnapshotsOffset + snapshot, 1, "shared");
      assert(granted, "a shared lock on a snapshot byte can only conflict with an exclusive one, and nobody takes those");
    }
    if (old !== null && old !== snapshot) this.main.unlock(lockSnapshotsOffset + old, 1);
    this.#published = snapshot;
  }

  /** PP-4: whether this handle became the checkpointer. */
  tryCheckpointLock(): boolean {
    return this.#aux.tryLock(lockCheckpointOffset, 1, "exclusive");
  }

  /** Whether some handle (this process's checkpointer included) holds the checkpoint lock. */
  checkpointInProgress(): boolean {
    return this.main.testLock(lockCheckpointOffset, 1, "exclusive") !== null;
  }

  releaseCheckpointLock(): void {
    this.#aux.unlock(lockCheckpointOffset, 1);
  }

  /** PP-3, checkpointer side: no begin() is between catching up and publishing while this is held. */
  async closeGate(): Promise<void> {
    await this.#aux.lock(lockSnapshotGateOffset, 1, "exclusive");
  }

  openGate(): void {
    this.#aux.unlock(lockSnapshotGateOffset, 1);
  }

  /**
   * PP-2: the lowest snapshot TSN ≤ upTo that any handle (this one included)
   * publishes, or Infinity. A binary search over lock tests: ~log2(upTo) calls.
   */
  oldestPublished(upTo: number): number {
    const busy = (from: number, to: number): boolean => this.#aux.testLock(lockSnapshotsOffset + from, to - from + 1, "exclusive") !== null;
    if (upTo < 0 || !busy(0, upTo)) return Infinity;
    let lo = 0;
    let hi = upTo;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (busy(lo, mid)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** PP-5: whether some handle published that every record up to `tsn` (or later) is durable. */
  durableAtLeast(tsn: number): boolean {
    if (this.#durablePublished !== null && this.#durablePublished >= tsn) return true;
    return this.#aux.testLock(lockDurableOffset + tsn, 0, "exclusive") !== null;
  }

  /** PP-5: publishes that every record up to `tsn` is durable. */
  publishDurable(tsn: number): void {
    const old = this.#durablePublished;
    if (old !== null && old >= tsn) return;
    const granted = this.main.tryLock(lockDurableOffset + tsn, 1, "shared");
    assert(granted, "a shared lock on a durable-TSN byte can only conflict with an exclusive one, and nobody takes those");
    if (old !== null) this.main.unlock(lockDurableOffset + old, 1);
    this.#durablePublished = tsn;
  }

  /** PP-1: whether another handle (any process) has the database open; PP-7 spares the lock test while this one stays alone. */
  othersOpen(): boolean {
    const generation = this.#handleGeneration;
    if (generation === null) return this.main.testLock(lockSlotsOffset, lockSlotsMax, "exclusive") !== null;
    const now = Atomics.load(generation, 0);
    if (now === this.#aloneAt) return false;
    const others = this.main.testLock(lockSlotsOffset, lockSlotsMax, "exclusive") !== null;
    this.#aloneAt = others ? null : now;
    return others;
  }

  async close(): Promise<void> {
    await this.#aux.close();
    await this.main.close();
  }
}
