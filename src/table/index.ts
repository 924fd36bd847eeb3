/**
 * Reading through a secondary index: `users.index("byEmail").get(v)` and
 * `.scan({ prefix, gte, gt, lte, lt, limit, reverse })`, in or outside a
 * transaction.
 *
 * An index scan orders rows by the index's values (then, in a non-unique
 * index, by primary key). Its bounds are TUPLES of the index's leading
 * values: for a one-field index a bound is the value itself; for a composite
 * index an array of 1…n values, compared with the rows' first values only —
 * `gt: ["acme"]` starts after every "acme" row, `lte: ["acme", 30]` ends
 * after every ["acme", 30] row, `prefix: ["acme"]` is every row whose first
 * value equals "acme" (element-wise and exact: a string prefix of a value is
 * `{ gte: "ab", lt: "ac" }`).
 *
 * - IDX-1  Reads go through an index only once it is "ready" at the reading
 *          transaction's snapshot; before, they reject with TXTDB_SCHEMA
 *          ("being built"). An unknown index is TXTDB_NOT_FOUND.
 * - IDX-2  An index read and the rows it returns come from one snapshot (a
 *          lookup outside a transaction is one read-only transaction).
 * - IDX-3  Bounds translate to an engine range that is exact wherever the
 *          bound's last value has an immediate successor in the key order
 *          (keySuccessor); otherwise (+Infinity) the range is widened and the
 *          entries outside the bounds are filtered out, so the rows returned
 *          are always exactly those within the bounds.
 */
import { ErrorCode, TxtDbError } from "../errors.ts";
import { compareKeys, encodeKey, keyToString, type Key } from "../codec/key.ts";
import { compositeKeyElementsMax, keyBytesMax } from "../codec/limits.ts";
import type { Database } from "../engine/database.ts";
import type { ScanOptions, Transaction } from "../engine/transaction.ts";
import { definitionIn, definitionKnown } from "./row_change.ts";
import { decodeEntry, indexTupleOf, type CompiledIndex, type CompiledTable } from "./schema.ts";

/**
 * An index scan takes the engine's scan options, read on the index key: its
 * leading indexed values (`prefix` element-wise and exact; bounds compare
 * the leading values, so `gt: ["acme"]` starts after every "acme" row).
 */
export type IndexScanOptions = ScanOptions;

/** Where a table's index handles find the table: its name and the definition last seen. */
export interface IndexHost {
  readonly db: Database;
  readonly table: string;
  /** The definition this process last saw; only a hint (IDX-2 checks what it finds). */
  cached(): CompiledTable;
}

/** An index of a table, outside any transaction: each call is its own read-only transaction. */
export class TableIndex<Row> {
  readonly name: string;
  readonly #host: IndexHost;

  constructor(host: IndexHost, name: string) {
    this.#host = host;
    this.name = name;
  }

  /** The row whose value (a unique index's) is `value`, or undefined. */
  async get(value: Key): Promise<Row | undefined> {
    const fast = await this.#fastGet(value);
    if (fast !== retry) return fast as Row;
    const tx = await this.#host.db.begin({ readOnly: true });
    try {
      return await new TableIndexTx<Row>(tx, this.#host.table, this.name).get(value);
    } finally {
      await tx.rollback();
    }
  }

  /**
   * IDX-2 without reading the catalog and without a snapshot: the entry and
   * then its row, each read as it stands now (db.get), through the
   * definition this process last saw. A row that carries `value` is the
   * answer whatever happened between the two reads — the index is unique,
   * so no other row can carry it at that moment (and an entry exists only
   * while its index does). Anything else — no entry, a row that no longer
   * carries the value, an index this process does not know as ready and
   * unique — is decided by the full path, on one snapshot, reading the catalog.
   */
  async #fastGet(value: Key): Promise<Row | typeof retry> {
    const ix = this.#host.cached().byName.get(this.name);
    if (ix === undefined || !ix.ready || !ix.unique) return retry;
    const tuple = tupleOf(ix, value, "value");
    const db = this.#host.db;
    const pk = await db.get(ix.namespace, ix.bare ? tuple[0]! : tuple);
    if (pk === undefined) return retry;
    const row = (await db.get(this.#host.table, pk as Key)) as Record<string, unknown> | undefined;
    return row !== undefined && carries(ix, row, tuple) ? (row as Row) : retry;
  }

  /** Rows in index order (see the file comment for the bounds); holds one read-only snapshot while it runs. */
  async *scan(options: IndexScanOptions = {}): AsyncGenerator<Row> {
    const tx = await this.#host.db.begin({ readOnly: true });
    try {
      yield* new TableIndexTx<Row>(tx, this.#host.table, this.name).scan(options);
    } finally {
      await tx.rollback();
    }
  }

  /** How many rows the index holds (sparse indexes leave out rows without the values). */
  async count(options: IndexScanOptions = {}): Promise<number> {
    let n = 0;
    for await (const _ of this.scan(options)) n++;
    return n;
  }
}

const retry: unique symbol = Symbol("retry");

/** Whether `row` holds `tuple` in the index's fields. */
function carries(ix: CompiledIndex, row: Record<string, unknown>, tuple: readonly Key[]): boolean {
  if (ix.bare) {
    const v = Object.hasOwn(row, ix.fields[0]!) ? row[ix.fields[0]!] : undefined;
    if (typeof v === "string" && typeof tuple[0] === "string") return v === tuple[0];
  }
  let now: Key[] | undefined;
  try {
    now = indexTupleOf(ix, row);
  } catch {
    return false;
  }
  return now !== undefined && encodeKey(now) === encodeKey(tuple);
}

/** An index of a table in a transaction (`tx.table(users).index("byEmail")`). */
export class TableIndexTx<Row> {
  readonly name: string;
  readonly #tx: Transaction;
  readonly #table: string;

  constructor(tx: Transaction, table: string, name: string) {
    this.#tx = tx;
    this.#table = table;
    this.name = name;
  }

  /** IDX-1: the index as this transaction's snapshot has it. */
  async #index(): Promise<{ t: CompiledTable; ix: CompiledIndex }> {
    const t = definitionKnown(this.#tx, this.#table) ?? (await definitionIn(this.#tx, this.#table));
    if (t === null) throw new TxtDbError(ErrorCode.NOT_FOUND, `table '${this.#table}' does not exist (dropped?)`);
    const ix = t.byName.get(this.name);
    if (ix === undefined) {
      throw new TxtDbError(ErrorCode.NOT_FOUND, `table '${this.#table}' has no index '${this.name}'` +
        (t.indexes.length > 0 ? ` (it has ${t.indexes.map((i) => `'${i.name}'`).join(", ")})` : ""));
    }
    if (!ix.ready) {
      throw new TxtDbError(ErrorCode.SCHEMA, `index '${this.name}' of table '${this.#table}' is being built and cannot be read yet: ` +
        "wait for the db.table() call that declared it to resolve");
    }
    return { t, ix };
  }

  /** The row whose value (a unique index's) is `value`, or undefined. */
  async get(value: Key): Promise<Row | undefined> {
    const { t, ix } = await this.#index();
    if (!ix.unique) {
      throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `index '${ix.name}' of table '${t.name}' is not unique: read it with scan({ prefix })`);
    }
    const tuple = tupleOf(ix, value, "value");
    const pk = await this.#tx.get(ix.namespace, ix.bare ? tuple[0]! : tuple);
    if (pk === undefined) return undefined;
    return (await this.#row(t, ix, pk as Key)) as Row;
  }

  async #row(t: CompiledTable, ix: CompiledIndex, pk: Key): Promise<unknown> {
    const row = await this.#tx.get(t.namespace, pk);
    if (row === undefined) {
      throw new TxtDbError(ErrorCode.CORRUPT, `index '${ix.name}' of table '${t.name}' names row ${keyToString(pk)}, which does not exist ` +
        `(namespace '${ix.namespace}' was changed outside the table layer): drop and rebuild the index`);
    }
    return row;
  }

  /** Rows in index order, within the bounds (see the file comment). */
  async *scan(options: IndexScanOptions = {}): AsyncGenerator<Row> {
    const { t, ix } = await this.#index();
    const plan = planScan(ix, options);
    if (plan === null) return;
    let returned = 0;
    for await (const [key, value] of this.#tx.scan(ix.namespace, plan.range)) {
      const entry = decodeEntry(ix, key, value);
      if (entry === undefined) {
        throw new TxtDbError(ErrorCode.CORRUPT, `namespace '${ix.namespace}' holds ${keyToString(key)}, which is no entry of index '${ix.name}' ` +
          `of table '${t.name}' (changed outside the table layer): drop and rebuild the index`);
      }
      if (plan.filter !== null) {
        const where = plan.filter(entry.tuple);
        if (where === "stop") break;
        if (where === "skip") continue;
      }
      yield (await this.#row(t, ix, entry.pk)) as Row;
      if (++returned >= plan.limit) break;
    }
  }

  async count(options: IndexScanOptions = {}): Promise<number> {
    let n = 0;
    for await (const _ of this.scan(options)) n++;
    return n;
  }
}

// ---------------------------------------------------------------------------
// Bounds (IDX-3)

interface Bound {
  tuple: readonly Key[];
  inclusive: boolean;
}

interface ScanPlan {
  range: ScanOptions;
  /** null when the range is exact. */
  filter: ((tuple: readonly Key[]) => "take" | "skip" | "stop") | null;
  limit: number;
}

/** A bound as a tuple of leading index values. */
function tupleOf(ix: CompiledIndex, bound: Key, what: string): Key[] {
  if (ix.fields.length === 1) return [bound]; // validated where it is used as a key
  if (!Array.isArray(bound) || bound.length === 0 || bound.length > ix.fields.length) {
    throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `${what} for composite index '${ix.name}' (${ix.fields.join(", ")}) must be an array of 1 to ${ix.fields.length} values, ` +
      `got ${Array.isArray(bound) ? `${bound.length} values` : keyToString(bound)}`);
  }
  encodeKey(bound);
  if (what === "value" && ix.unique && bound.length !== ix.fields.length) {
    throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `get() on unique index '${ix.name}' needs all ${ix.fields.length} values (${ix.fields.join(", ")})`);
  }
  return bound as Key[];
}

/** The storage key of a bound tuple: the value itself for a bare index, else the tuple. */
function storageKey(ix: CompiledIndex, tuple: readonly Key[]): Key {
  return ix.bare ? tuple[0]! : tuple;
}

export function planScan(ix: CompiledIndex, o: IndexScanOptions): ScanPlan | null {
  const limit = o.limit ?? Infinity;
  if (!(limit >= 0)) throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `scan limit must be a number ≥ 0, got ${String(o.limit)}`);
  if (limit === 0) return null;
  const lowers: Bound[] = [];
  const uppers: Bound[] = [];
  if (o.prefix !== undefined) {
    const p = tupleOf(ix, o.prefix, "prefix");
    lowers.push({ tuple: p, inclusive: true });
    uppers.push({ tuple: p, inclusive: true });
  }
  if (o.gte !== undefined) lowers.push({ tuple: tupleOf(ix, o.gte, "gte"), inclusive: true });
  if (o.gt !== undefined) lowers.push({ tuple: tupleOf(ix, o.gt, "gt"), inclusive: false });
  if (o.lte !== undefined) uppers.push({ tuple: tupleOf(ix, o.lte, "lte"), inclusive: true });
  if (o.lt !== undefined) uppers.push({ tuple: tupleOf(ix, o.lt, "lt"), inclusive: false });

  // Each bound as an engine bound: [key, exclusive].
  let exact = true;
  let lower: [Key, boolean] | null = null;
  let upper: [Key, boolean] | null = null;
  const tighterLower = (b: [Key, boolean]): void => {
    const c = lower === null ? 1 : compareKeys(b[0], lower[0]);
    if (c > 0 || (c === 0 && b[1])) lower = b;
  };
  const tighterUpper = (b: [Key, boolean]): void => {
    const c = upper === null ? -1 : compareKeys(b[0], upper[0]);
    if (c < 0 || (c === 0 && b[1])) upper = b;
  };
  for (const b of lowers) {
    if (ix.bare || b.inclusive) tighterLower([storageKey(ix, b.tuple), !b.inclusive]);
    else {
      const after = successorTuple(b.tuple);
      if (after === undefined) {
        exact = false;
        tighterLower([b.tuple, false]);
      } else tighterLower([after, false]);
    }
  }
  for (const b of uppers) {
    if (ix.bare || !b.inclusive) tighterUpper([storageKey(ix, b.tuple), !b.inclusive]);
    else {
      const after = successorTuple(b.tuple);
      if (after === undefined) exact = false; // no engine bound: the filter stops the scan
      else tighterUpper([after, true]);
    }
  }
  const range: ScanOptions = {};
  const lo = lower as [Key, boolean] | null;
  const hi = upper as [Key, boolean] | null;
  if (lo !== null) {
    if (lo[1]) range.gt = lo[0];
    else range.gte = lo[0];
  }
  if (hi !== null) {
    if (hi[1]) range.lt = hi[0];
    else range.lte = hi[0];
  }
  if (o.reverse === true) range.reverse = true;
  if (exact) return { range: limit === Infinity ? range : { ...range, limit }, filter: null, limit };
  const reverse = o.reverse === true;
  const filter = (tuple: readonly Key[]): "take" | "skip" | "stop" => {
    for (const b of lowers) {
      const c = compareKeys(tuple.slice(0, b.tuple.length), b.tuple);
      if (c < 0 || (c === 0 && !b.inclusive)) return reverse ? "stop" : "skip";
    }
    for (const b of uppers) {
      const c = compareKeys(tuple.slice(0, b.tuple.length), b.tuple);
      if (c > 0 || (c === 0 && !b.inclusive)) return reverse ? "skip" : "stop";
    }
    return "take";
  };
  return { range, filter, limit };
}

/** The smallest tuple above every tuple that starts with `t`: t with its last value replaced by its successor. */
function successorTuple(t: readonly Key[]): Key[] | undefined {
  const next = keySuccessor(t[t.length - 1]!);
  if (next === undefined) return undefined;
  const out = [...t.slice(0, -1), next];
  try {
    if (encodeKey(out).length > keyBytesMax) return undefined;
  } catch {
    return undefined;
  }
  return out;
}

const dateTimeMsMax = 8.64e15;
const float64 = new DataView(new ArrayBuffer(8));

/**
 * The immediate successor of `k` in the key order (contract 13): the
 * smallest key greater than `k`, or undefined when there is none (+Infinity:
 * bigints have no smallest) or it could not be stored.
 */
export function keySuccessor(k: Key): Key | undefined {
  switch (typeof k) {
    case "string":
      return k + "\0";
    case "number":
      return k === Infinity ? undefined : nextUp(k);
    case "bigint":
      return k + 1n;
    case "boolean":
      return k ? new Date(-dateTimeMsMax) : true;
  }
  if (k instanceof Uint8Array) {
    const out = new Uint8Array(k.length + 1);
    out.set(k);
    return out;
  }
  if (k instanceof Date) return k.getTime() < dateTimeMsMax ? new Date(k.getTime() + 1) : [new Uint8Array(0)];
  // An array: every longer array starting with it lies between, so the successor appends the smallest key.
  const a = k as readonly Key[];
  return a.length < compositeKeyElementsMax ? [...a, new Uint8Array(0)] : undefined;
}

/** The next float64 above x (x < +Infinity); -0 and 0 are one key. */
function nextUp(x: number): number {
  if (x === 0) return Number.MIN_VALUE;
  float64.setFloat64(0, x);
  const bits = float64.getBigUint64(0);
  float64.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n);
  return float64.getFloat64(0);
}
