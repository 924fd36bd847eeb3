/**
 * A reference model of txtdb's transactions, small enough to be obviously
 * right: every committed version of every key in a list, one transaction at
 * a time committing. The verification suite runs the engine and this model
 * side by side and requires equal answers.
 *
 * - M-1  A transaction reads the newest version with TSN ≤ its snapshot,
 *        overlaid with its own writes (DESIGN "Transactions and MVCC").
 * - M-2  Snapshot isolation: a commit with writes is rejected iff a key it
 *        writes has a version with TSN > its snapshot (first committer wins).
 * - M-3  Serializable: also rejected iff a key it read through get() before
 *        writing it, or a key inside a range a scan observed, has such a
 *        version. The observed range (TX-6, contract 3) is the scan's range
 *        cut at the last key returned when the scan stopped at its limit,
 *        else the whole range; `limit: 0` observes nothing.
 * - M-4  A transaction without writes commits with its snapshot TSN; a
 *        commit with writes takes the next TSN; a rejected one takes none.
 * - M-5  Deleting is a write, present key or not (contract 5).
 *
 * Keys are strings (the model compares them with `<`, which is the engine's
 * order for the ASCII keys the tests use).
 */

export type Value = number | { v: number; tag: string };
export type Isolation = "snapshot" | "serializable";

export interface ScanSpec {
  prefix?: string;
  gte?: string;
  gt?: string;
  lte?: string;
  lt?: string;
  limit?: number;
  reverse?: boolean;
}

/** A key predicate: the scanned range of M-3. */
interface Observed {
  ns: string;
  spec: ScanSpec;
  /** Forward: keys ≤ this; reverse: keys ≥ this; null: the whole range. */
  cut: string | null;
  reverse: boolean;
}

export interface ModelTx {
  readonly id: number;
  readonly snapshot: number;
  readonly isolation: Isolation;
  readonly readOnly: boolean;
  ended: boolean;
  /** ns → key → value, or null for a delete. */
  readonly writes: Map<string, Map<string, Value | null>>;
  readonly reads: Array<{ ns: string; key: string }>;
  readonly observed: Observed[];
}

export type CommitOutcome = { tsn: number } | "conflict";

export function inSpec(key: string, spec: ScanSpec): boolean {
  if (spec.prefix !== undefined && !key.startsWith(spec.prefix)) return false;
  if (spec.gte !== undefined && key < spec.gte) return false;
  if (spec.gt !== undefined && key <= spec.gt) return false;
  if (spec.lte !== undefined && key > spec.lte) return false;
  if (spec.lt !== undefined && key >= spec.lt) return false;
  return true;
}

function inObserved(ns: string, key: string, o: Observed): boolean {
  if (o.ns !== ns || !inSpec(key, o.spec)) return false;
  if (o.cut === null) return true;
  return o.reverse ? key >= o.cut : key <= o.cut;
}

export class SiModel {
  /** ns → key → versions in TSN order (null value: deleted). */
  readonly #versions = new Map<string, Map<string, Array<{ tsn: number; value: Value | null }>>>();
  lastTsn = 0;
  #nextId = 1;

  begin(isolation: Isolation, readOnly = false): ModelTx {
    return { id: this.#nextId++, snapshot: this.lastTsn, isolation, readOnly, ended: false, writes: new Map(), reads: [], observed: [] };
  }

  /** The committed value at `tsn` (M-1). */
  valueAt(ns: string, key: string, tsn: number): Value | undefined {
    const versions = this.#versions.get(ns)?.get(key) ?? [];
    let found: Value | null | undefined;
    for (const v of versions) if (v.tsn <= tsn) found = v.value;
    return found ?? undefined;
  }

  get(tx: ModelTx, ns: string, key: string): Value | undefined {
    const own = tx.writes.get(ns);
    if (own?.has(key) === true) return own.get(key) ?? undefined;
    if (tx.isolation === "serializable" && !tx.readOnly) tx.reads.push({ ns, key });
    return this.valueAt(ns, key, tx.snapshot);
  }

  write(tx: ModelTx, ns: string, key: string, value: Value | null): void {
    let own = tx.writes.get(ns);
    if (own === undefined) tx.writes.set(ns, (own = new Map()));
    own.set(key, value);
  }

  /** The entries a scan returns, and the range it observes (M-3). */
  scan(tx: ModelTx, ns: string, spec: ScanSpec): Array<[string, Value]> {
    const limit = spec.limit ?? Infinity;
    if (limit === 0) return [];
    const keys = new Set<string>([...(this.#versions.get(ns)?.keys() ?? []), ...(tx.writes.get(ns)?.keys() ?? [])]);
    const visible: Array<[string, Value]> = [];
    for (const key of [...keys].sort()) {
      if (!inSpec(key, spec)) continue;
      const own = tx.writes.get(ns);
      const value = own?.has(key) === true ? own.get(key) ?? undefined : this.valueAt(ns, key, tx.snapshot);
      if (value !== undefined) visible.push([key, value]);
    }
    if (spec.reverse === true) visible.reverse();
    const out = visible.slice(0, limit);
    if (tx.isolation === "serializable" && !tx.readOnly) {
      const stopped = out.length === limit;
      tx.observed.push({ ns, spec, cut: stopped ? out.at(-1)![0] : null, reverse: spec.reverse === true });
    }
    return out;
  }

  /** Ends the transaction with its outcome (M-2…M-4). */
  commit(tx: ModelTx): CommitOutcome {
    tx.ended = true;
    if (tx.writes.size === 0) return { tsn: tx.snapshot };
    if (this.#conflicts(tx)) return "conflict";
    const tsn = ++this.lastTsn;
    for (const [ns, writes] of tx.writes) {
      let keys = this.#versions.get(ns);
      if (keys === undefined) this.#versions.set(ns, (keys = new Map()));
      for (const [key, value] of writes) {
        let versions = keys.get(key);
        if (versions === undefined) keys.set(key, (versions = []));
        versions.push({ tsn, value });
      }
    }
    return { tsn };
  }

  rollback(tx: ModelTx): void {
    tx.ended = true;
  }

  #writtenAfter(ns: string, key: string, snapshot: number): boolean {
    return (this.#versions.get(ns)?.get(key)?.at(-1)?.tsn ?? 0) > snapshot;
  }

  #conflicts(tx: ModelTx): boolean {
    for (const [ns, writes] of tx.writes) for (const key of writes.keys()) if (this.#writtenAfter(ns, key, tx.snapshot)) return true;
    if (tx.isolation !== "serializable") return false;
    for (const { ns, key } of tx.reads) if (this.#writtenAfter(ns, key, tx.snapshot)) return true;
    for (const o of tx.observed) {
      for (const [key] of this.#versions.get(o.ns) ?? []) {
        if (inObserved(o.ns, key, o) && this.#writtenAfter(o.ns, key, tx.snapshot)) return true;
      }
    }
    return false;
  }

  /** Every namespace's live keys and values at the last TSN, sorted (namespaces without keys left out). */
  dump(): Array<[string, Array<[string, Value]>]> {
    const out: Array<[string, Array<[string, Value]>]> = [];
    for (const ns of [...this.#versions.keys()].sort()) {
      const rows: Array<[string, Value]> = [];
      for (const key of [...this.#versions.get(ns)!.keys()].sort()) {
        const v = this.valueAt(ns, key, this.lastTsn);
        if (v !== undefined) rows.push([key, v]);
      }
      if (rows.length > 0) out.push([ns, rows]);
    }
    return out;
  }
}
