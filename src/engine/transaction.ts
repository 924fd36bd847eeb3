/**
 * A transaction: a snapshot to read from, and buffered writes that become
 * visible to others only if commit() succeeds.
 *
 * You must commit or roll back every transaction you begin: while it is open
 * its snapshot holds back checkpoints (old versions cannot be folded away).
 *
 * - TX-1  Reads see the snapshot (every commit with TSN ≤ snapshotTsn) plus
 *         the transaction's own writes, in get() and in scan() alike.
 * - TX-2  Writes are validated and encoded when they are made (bad keys and
 *         values throw then), buffered, and written at commit as one log line.
 * - TX-3  No call waits for another transaction; conflicts surface only at
 *         commit(), as ConflictError (code TXTDB_CONFLICT).
 * - TX-4  After commit() (resolved or rejected) or rollback(), every call but
 *         rollback() throws TXTDB_TX_CLOSED (contract 1).
 * - TX-5  A transaction without writes commits without touching the log or
 *         the writer lock and resolves with its snapshot TSN (contract 2).
 * - TX-6  Serializable transactions record what they read: each key got, and
 *         each scanned range from its lower bound to the last key returned
 *         (to its upper bound if the scan ran to the end) (contract 3).
 * - TX-7  Values returned are fresh objects: mutating one changes nothing
 *         that another read sees.
 */
import { setOf } from "./_collections.ts";
import { ConflictError, ErrorCode, TxtDbError } from "../errors.ts";
import { decodeKey, encodeKey, encodePrefix, keyToJson, type Key } from "../codec/key.ts";
import { transactionBytesMax } from "../codec/limits.ts";
import { decodeValue, encodeValue } from "../codec/value.ts";
import type { Metrics } from "./metrics.ts";
import { encodeOps, type Op } from "./log_record.ts";
import { validateNamespace } from "./names.ts";
import type { EncRange, Store } from "./store.ts";
import { lowerBound } from "./versions.ts";

export type Isolation = "snapshot" | "serializable";

export interface ScanOptions {
  /** Only keys starting with this prefix (contract 7). */
  prefix?: Key;
  gte?: Key;
  gt?: Key;
  lte?: Key;
  lt?: Key;
  /** At most this many entries; 0 returns none. */
  limit?: number;
  /** Descending key order. */
  reverse?: boolean;
}

export interface CommitResult {
  tsn: number;
}

/** What a transaction hands to group commit. */
export interface PendingCommit {
  readonly snapshot: number;
  readonly ops: readonly Op[];
  /** The record's text after its TSN, in pieces (encodeOps). */
  readonly opsPieces: readonly string[];
  readonly bytes: number;
  /** Serializable only (TX-6): keys read, and ranges scanned, per namespace. */
  readonly reads: ReadonlyMap<string, ReadonlySet<string>> | null;
  readonly ranges: ReadonlyArray<{ ns: string; range: EncRange }> | null;
}

/** What a transaction needs from its database. */
export interface TxHost {
  readonly store: Store;
  readonly metrics: Metrics;
  readonly now: () => number;
  submit(commit: PendingCommit): Promise<number>;
  /** The transaction ended: its snapshot no longer holds back checkpoints. */
  release(tx: Transaction): void;
  /** Throws TXTDB_CLOSED once the database is closed (DB-2), or its fatal error (DB-5). */
  check(): void;
}

interface Write {
  readonly enc: string;
  readonly keyText: string;
  /** undefined: a delete. */
  readonly valueText: string | undefined;
}

type State = "active" | "ended";

export class Transaction {
  /** The last TSN visible to this transaction. */
  readonly snapshotTsn: number;
  readonly readOnly: boolean;
  readonly isolation: Isolation;
  readonly #host: TxHost;
  #state: State = "active";
  readonly #writes = new Map<string, Map<string, Write>>();
  /** Namespaces this transaction dropped (before any of its later writes in them). */
  readonly #drops = new Set<string>();
  #bytes = 0;
  readonly #reads: Map<string, Set<string>> | null;
  /** TX-6: ranges scanned; an entry grows while its scan runs. */
  readonly #ranges: Array<{ ns: string; range: EncRange }> | null;

  constructor(host: TxHost, snapshotTsn: number, options: { readOnly: boolean; isolation: Isolation }) {
    this.#host = host;
    this.snapshotTsn = snapshotTsn;
    this.readOnly = options.readOnly;
    this.isolation = options.isolation;
    const serializable = options.isolation === "serializable" && !options.readOnly;
    this.#reads = serializable ? new Map() : null;
    this.#ranges = serializable ? [] : null;
  }

  /** Namespaces that hold at least one key in this transaction's view, sorted (used by convert()). */
  async namespaces(): Promise<string[]> {
    const names = new Set([...this.#host.store.knownNamespaces(), ...this.#writes.keys()]);
    const out: string[] = [];
    for (const ns of [...names].sort()) for await (const _ of this.scan(ns, { limit: 1 })) out.push(ns);
    return out;
  }

  /** The value of `key` in namespace `ns`, or undefined (TX-1, TX-7). */
  get(ns: string, key: Key): Promise<unknown> {
    // Not an async function: the hot path (versions or a cached page answer)
    // settles without one, which makes point reads ~15% faster.
    try {
      const value = this.#read(ns, key);
      return value instanceof Promise ? value : Promise.resolve(value);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The value get() returns — own writes first, then the snapshot — or a promise of it when a page must be read. */
  #read(ns: string, key: Key): unknown {
    this.#checkActive();
    validateNamespace(ns);
    const enc = encodeKey(key);
    const own = this.#writes.get(ns)?.get(enc);
    if (own !== undefined) return own.valueText === undefined ? undefined : decodeValue(own.valueText);
    if (this.#drops.has(ns)) return undefined;
    if (this.#reads !== null) setOf(this.#reads, ns).add(enc);
    if (!this.#host.metrics.sample("get")) return this.#host.store.get(ns, enc, this.snapshotTsn);
    const t0 = this.#host.now();
    const value = this.#host.store.get(ns, enc, this.snapshotTsn);
    const done = (): void => this.#host.metrics.record("get", (this.#host.now() - t0) * 1000);
    if (value instanceof Promise) void value.then(done, () => {});
    else done();
    return value;
  }

  /** Inserts or replaces (TX-2). */
  async put(ns: string, key: Key, value: unknown): Promise<void> {
    this.#checkWritable();
    validateNamespace(ns);
    const enc = encodeKey(key);
    this.#write(ns, { enc, keyText: JSON.stringify(keyToJson(key)), valueText: encodeValue(value) });
  }

  /** Deletes; deleting an absent key is still a write (contract 5). */
  async delete(ns: string, key: Key): Promise<void> {
    this.#checkWritable();
    validateNamespace(ns);
    const enc = encodeKey(key);
    this.#write(ns, { enc, keyText: JSON.stringify(keyToJson(key)), valueText: undefined });
  }

  /** Drops a namespace: every key in it, as of this transaction. Conflicts with any concurrent write to it. */
  async dropNamespace(ns: string): Promise<void> {
    this.#checkWritable();
    validateNamespace(ns);
    const writes = this.#writes.get(ns);
    if (writes !== undefined) for (const w of writes.values()) this.#bytes -= w.keyText.length + (w.valueText?.length ?? 0);
    this.#writes.delete(ns);
    this.#drops.add(ns);
  }

  #write(ns: string, w: Write): void {
    let writes = this.#writes.get(ns);
    if (writes === undefined) {
      writes = new Map();
      this.#writes.set(ns, writes);
    }
    const old = writes.get(w.enc);
    const bytes = this.#bytes + w.keyText.length + (w.valueText?.length ?? 0) - (old === undefined ? 0 : old.keyText.length + (old.valueText?.length ?? 0));
    if (bytes > transactionBytesMax) {
      throw new TxtDbError(ErrorCode.INVALID_VALUE, `the transaction's writes exceed ${transactionBytesMax} bytes: split it into smaller transactions`);
    }
    writes.set(w.enc, w);
    this.#bytes = bytes;
  }

  /** Entries in key order (TX-1, TX-6, contract 7). */
  async *scan(ns: string, options: ScanOptions = {}): AsyncGenerator<[Key, unknown]> {
    this.#checkActive();
    validateNamespace(ns);
    const range = rangeOf(options);
    const limit = options.limit ?? Infinity;
    if (!(limit >= 0)) throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `scan limit must be a number ≥ 0, got ${String(options.limit)}`);
    if (limit === 0 || (range.end !== null && range.start >= range.end)) return;
    const reverse = options.reverse === true;
    const own = this.#ownWritesIn(ns, range, reverse);
    const committed = this.#drops.has(ns) ? null : this.#host.store.scan(ns, range, this.snapshotTsn, reverse);
    let returned = 0;
    let observed: { ns: string; range: EncRange } | null = null;
    // TX-6 (serializable only): what the caller has seen so far counts as read, even if the scan is never closed.
    const ranges = this.#ranges;
    const observe = (into: Array<{ ns: string; range: EncRange }>, r: EncRange): void => {
      if (observed === null) into.push((observed = { ns, range: r }));
      else observed.range = r;
    };
    // The committed rows: the cursor's row is the head while `has`, taken when first looked at
    // (a scan that stops at its limit reads no page past it); a page's rows come without a promise.
    let has = false;
    let taken = true;
    let o = 0;
    for (;;) {
      if (taken && committed !== null) {
        const head = committed.next() || committed.fill();
        has = typeof head === "boolean" ? head : await head;
      }
      taken = false;
      this.#checkActive();
      const w = own[o];
      if (!has && w === undefined) {
        if (ranges !== null) observe(ranges, range);
        break;
      }
      const takeOwn = w !== undefined && (!has || (reverse ? w.enc >= committed!.enc : w.enc <= committed!.enc));
      let enc: string, value: unknown;
      if (takeOwn) {
        enc = w.enc;
        value = w.valueText === undefined ? undefined : decodeValue(w.valueText);
        o++;
        taken = has && committed!.enc === enc;
      } else {
        enc = committed!.enc;
        value = committed!.value;
        taken = true;
      }
      if (value === undefined) continue;
      returned++;
      if (ranges !== null) observe(ranges, reverse ? { start: enc, end: range.end } : { start: range.start, end: enc + "\0" });
      yield [decodeKey(enc), value];
      if (returned >= limit) break;
    }
  }

  #ownWritesIn(ns: string, range: EncRange, reverse: boolean): Write[] {
    const writes = this.#writes.get(ns);
    if (writes === undefined) return [];
    const sorted = [...writes.values()].sort((a, b) => (a.enc < b.enc ? -1 : 1));
    const keys = sorted.map((w) => w.enc);
    const from = lowerBound(keys, range.start);
    const to = range.end === null ? sorted.length : lowerBound(keys, range.end);
    const inRange = sorted.slice(from, to);
    return reverse ? inRange.reverse() : inRange;
  }

  /** Commits (TX-3, TX-5): resolves once the commit is durable. */
  async commit(): Promise<CommitResult> {
    this.#checkActive();
    this.#state = "ended"; // TX-4
    if (this.#writes.size === 0 && this.#drops.size === 0) {
      this.#host.metrics.readOnlyCommits++;
      this.#host.release(this);
      return { tsn: this.snapshotTsn };
    }
    const t0 = this.#host.now();
    const ops = this.#ops();
    try {
      const tsn = await this.#host.submit({
        snapshot: this.snapshotTsn, ops, opsPieces: encodeOps(ops), bytes: this.#bytes,
        reads: this.#reads, ranges: this.#ranges,
      });
      this.#host.metrics.record("commit", (this.#host.now() - t0) * 1000);
      return { tsn };
    } finally {
      // Only now: until validated, the snapshot must hold back checkpoints, or
      // a checkpoint could fold away the versions that prove a conflict (DB-3).
      this.#host.release(this);
    }
  }

  /** A table (src/table/) inside this transaction: `tx.table(users).put(row)` is `users.in(tx).put(row)`. */
  table<View>(table: { in(tx: Transaction): View }): View {
    this.#checkActive();
    return table.in(this);
  }

  /** Discards the writes. Always harmless (contract 1). */
  async rollback(): Promise<void> {
    if (this.#state !== "active") return;
    this.#host.metrics.rollbacks++;
    this.#end();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.rollback();
  }

  /** LOG-3: drops first, then each namespace's writes in key order. */
  #ops(): Op[] {
    const ops: Op[] = [...this.#drops].sort().map((ns) => ({ kind: "drop", ns }) as const);
    for (const ns of [...this.#writes.keys()].sort()) {
      const writes = [...this.#writes.get(ns)!.values()].sort((a, b) => (a.enc < b.enc ? -1 : 1));
      for (const w of writes) {
        ops.push(w.valueText === undefined
          ? { kind: "del", ns, enc: w.enc, keyText: w.keyText }
          : { kind: "put", ns, enc: w.enc, keyText: w.keyText, valueText: w.valueText });
      }
    }
    return ops;
  }

  #end(): void {
    this.#state = "ended";
    this.#host.release(this);
  }

  #checkActive(): void {
    if (this.#state === "active") this.#host.check(); // contract 1: an ended transaction says so first
    if (this.#state !== "active") {
      throw new TxtDbError(ErrorCode.TX_CLOSED, `the transaction (snapshot ${this.snapshotTsn}) has ended with commit() or rollback(); begin a new one`);
    }
  }

  #checkWritable(): void {
    this.#checkActive();
    if (this.readOnly) throw new TxtDbError(ErrorCode.READ_ONLY, "the transaction is read-only: begin it without { readOnly: true } to write");
  }
}

/** The encoded range of scan options (contract 7): the prefix and every bound, intersected. */
export function rangeOf(options: ScanOptions): EncRange {
  let start = "";
  let end: string | null = null;
  const lower = (s: string): void => void (s > start && (start = s));
  const upper = (e: string): void => void ((end === null || e < end) && (end = e));
  if (options.prefix !== undefined) {
    const p = encodePrefix(options.prefix);
    lower(p.start);
    upper(p.end);
  }
  if (options.gte !== undefined) lower(encodeKey(options.gte));
  if (options.gt !== undefined) lower(encodeKey(options.gt) + "\0");
  if (options.lte !== undefined) upper(encodeKey(options.lte) + "\0");
  if (options.lt !== undefined) upper(encodeKey(options.lt));
  return { start, end };
}

export function conflictError(ns: string, what: string): ConflictError {
  return new ConflictError(`${what} in namespace '${ns}' was changed by a transaction that committed after this one began; ` +
    "nothing of this transaction was written: run it again (db.transaction() does that for you)");
}
