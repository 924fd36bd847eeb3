/**
 * The committed state: page files as of the checkpoint TSN (through the page
 * cache) plus the in-memory versions of everything committed after it. It
 * answers reads at any snapshot S with checkpointTsn ≤ S ≤ lastTsn.
 *
 * - ST-1  A snapshot never includes this process's own commits that are not
 *         durable yet: `visibleTsn` stops below the first of them. Commits
 *         of other processes are visible once read from the log (they may
 *         still be in their writer's datasync; if the machine loses power
 *         then, the log loses them and everything after them together).
 * - ST-2  A read that raced a checkpoint (the page it needed was replaced
 *         under it) is retried against the new manifest, never reported as
 *         an edit.
 * - ST-3  Versions are applied as records are appended (own) or read
 *         (others'), in TSN order: validation sees every record, durable or not.
 */
import { ErrorCode, TxtDbError, assert, assertionFailed } from "../errors.ts";
import type { Manifest } from "./manifest.ts";
import type { LogRecord } from "./log_record.ts";
import { LogResync } from "./log.ts";
import { pageIndexFor, pointValue, type PageStore } from "./pages.ts";
import { ScanCursor } from "./scan_cursor.ts";
import { lowerBound, NamespaceVersions, undecided } from "./versions.ts";

/** A key range in encoded form: start inclusive, end exclusive (null: unbounded). */
export interface EncRange {
  readonly start: string;
  readonly end: string | null;
}

export class Store {
  manifest: Manifest;
  readonly pages: PageStore;
  readonly versions = new Map<string, NamespaceVersions>();
  /** The newest applied TSN (ST-3). */
  lastTsn: number;
  /** The newest TSN applied from another process's record. */
  lastForeignTsn = 0;
  /** ST-2: called when a page file no longer matches; true if the manifest moved on (then reads retry). */
  onStalePage: () => Promise<boolean> = async () => false;
  /** First TSN of each own batch that is appended but not yet durable, ascending (ST-1). */
  readonly #pendingOwn: Array<{ first: number; last: number }> = [];

  constructor(manifest: Manifest, pages: PageStore) {
    this.manifest = manifest;
    this.pages = pages;
    this.lastTsn = manifest.checkpointTsn;
  }

  /** ST-1: the newest TSN a new snapshot may include. */
  get visibleTsn(): number {
    return this.#pendingOwn.length === 0 ? this.lastTsn : this.#pendingOwn[0]!.first - 1;
  }

  /** Applies a record (ST-3). Records arrive in TSN order. */
  apply(record: LogRecord): void {
    if (record.tsn !== this.lastTsn + 1) assertionFailed(`record ${record.tsn} applied after ${this.lastTsn}`);
    for (const op of record.ops) {
      const nsv = this.#versionsOf(op.ns);
      if (op.kind === "drop") nsv.drop(record.tsn);
      else nsv.apply(op.enc, record.tsn, op.kind === "put" ? op.valueText : undefined);
    }
    this.lastTsn = record.tsn;
  }

  /** This process's batch, just appended: applied, invisible until durable (ST-1). */
  applyOwn(records: readonly LogRecord[]): void {
    for (const r of records) this.apply(r);
    this.#pendingOwn.push({ first: records[0]!.tsn, last: records.at(-1)!.tsn });
  }

  /** Another process's record, read from the log; one already known (after a resync) is skipped. */
  applyForeign(record: LogRecord): void {
    if (record.tsn <= this.lastTsn) return;
    // A gap: the log this handle reads moved past records it never applied
    // (a checkpoint removed their segment meanwhile); start over from the manifest.
    if (record.tsn > this.lastTsn + 1) throw new LogResync(`the log continues at TSN ${record.tsn}, after ${this.lastTsn}`);
    this.apply(record);
    this.lastForeignTsn = record.tsn;
  }

  /** Own batches up to `tsn` are durable now (ST-1). */
  markDurable(tsn: number): void {
    while (this.#pendingOwn.length > 0 && this.#pendingOwn[0]!.last <= tsn) this.#pendingOwn.shift();
  }

  /** GC-5: forgets this handle's records that never became durable (they were cut from the log). */
  rollbackPendingOwn(): void {
    const first = this.#pendingOwn[0]?.first;
    if (first === undefined) return;
    assert(first > this.lastForeignTsn, "own records to roll back lie below another process's records");
    for (const nsv of this.versions.values()) nsv.truncateFrom(first);
    this.lastTsn = first - 1;
    this.#pendingOwn.length = 0;
  }

  /** The last TSN of own batches not yet durable, or 0. */
  get pendingOwnThrough(): number {
    return this.#pendingOwn.at(-1)?.last ?? 0;
  }

  /**
   * Adopts a manifest another process's checkpoint installed. Its TSN must
   * not exceed what this process has applied, unless `jump` (a resync with
   * no local snapshot below it, P1): then the versions it covers are
   * dropped and lastTsn moves up to it.
   */
  adopt(manifest: Manifest, jump: boolean): void {
    const c = manifest.checkpointTsn;
    if (c <= this.manifest.checkpointTsn) return;
    assert(jump || c <= this.lastTsn, `adopting checkpoint ${c} beyond applied TSN ${this.lastTsn}`);
    this.manifest = manifest;
    this.pages.retain(manifest);
    for (const [ns, nsv] of this.versions) {
      nsv.prune(c);
      if (nsv.size === 0 && nsv.lastWriteTsn <= c) this.versions.delete(ns);
    }
    if (c > this.lastTsn) this.lastTsn = c;
  }

  #versionsOf(ns: string): NamespaceVersions {
    let nsv = this.versions.get(ns);
    if (nsv === undefined) {
      nsv = new NamespaceVersions();
      this.versions.set(ns, nsv);
    }
    return nsv;
  }

  /**
   * The value of a key at a snapshot, decoded — a fresh value the caller may
   * change, never engine state — or undefined. Synchronous when the versions
   * or a cached page answer (the hot path, PG-4); a promise when a page must
   * be read (a stored value is never a promise: VAL-3).
   */
  get(ns: string, enc: string, snapshot: number): unknown {
    const nsv = this.versions.get(ns);
    if (nsv !== undefined) {
      const value = nsv.visibleValue(enc, snapshot); // VER-5
      if (value !== undecided) return value;
    }
    const files = this.manifest.namespaces.get(ns);
    if (files === undefined || files.pages.length === 0) return undefined;
    const page = this.pages.cached(files, pageIndexFor(files, enc));
    return page !== undefined ? pointValue(page, enc) : this.#getFromFile(ns, enc, snapshot);
  }

  async #getFromFile(ns: string, enc: string, snapshot: number): Promise<unknown> {
    for (;;) {
      const manifest = this.manifest;
      const files = manifest.namespaces.get(ns);
      if (files === undefined || files.pages.length === 0) return undefined;
      try {
        return pointValue(await this.pages.load(files, pageIndexFor(files, enc)), enc);
      } catch (err) {
        if (!(await this.racedCheckpoint(err, manifest))) throw err;
        // The versions may have been pruned into the new pages: ask them again.
        const nsv = this.versions.get(ns);
        const value = nsv === undefined ? undecided : nsv.visibleValue(enc, snapshot);
        if (value !== undecided) return value;
      }
    }
  }

  /** ST-2: an EDITED error while the manifest moved on (here or in another process) means a checkpoint replaced the file (reads here, scans in ScanCursor). */
  async racedCheckpoint(err: unknown, used: Manifest): Promise<boolean> {
    if (!(err instanceof TxtDbError && err.code === ErrorCode.EDITED)) return false;
    return this.manifest !== used || (await this.onStalePage());
  }

  /** The last TSN that wrote the key (VER-3); 0 when only the page files know it. */
  lastTsnOf(ns: string, enc: string): number {
    return this.versions.get(ns)?.lastTsnOf(enc) ?? 0;
  }

  /** The last TSN that wrote anything in the namespace or dropped it. */
  namespaceLastTsn(ns: string): number {
    return this.versions.get(ns)?.lastWriteTsn ?? 0;
  }

  /** Whether a key in the range was written, or the namespace dropped, after `snapshot`. */
  writtenInRangeAfter(ns: string, range: EncRange, snapshot: number): boolean {
    const nsv = this.versions.get(ns);
    if (nsv === undefined || nsv.lastWriteTsn <= snapshot) return false;
    if (nsv.droppedBetween(snapshot, Infinity) > 0) return true;
    const keys = nsv.sortedKeys();
    for (let i = lowerBound(keys, range.start); i < keys.length; i++) {
      const k = keys[i]!;
      if (range.end !== null && k >= range.end) break;
      if (nsv.lastTsnOf(k) > snapshot) return true;
    }
    return false;
  }

  /** Namespaces that have page files or versions (some may be empty at a given snapshot). */
  knownNamespaces(): string[] {
    return [...new Set([...this.manifest.namespaces.keys(), ...this.versions.keys()])].sort();
  }

  /** Visible entries of a namespace in a range at a snapshot, in key order (or reverse): see ScanCursor. */
  scan(ns: string, range: EncRange, snapshot: number, reverse: boolean): ScanCursor {
    return new ScanCursor(this, ns, range, snapshot, reverse);
  }
}
