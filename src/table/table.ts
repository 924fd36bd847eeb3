/**
 * Tables: rows with a primary key and secondary indexes, over the engine's
 * public API (db.begin / db.transaction / db.get and the transaction's
 * get / put / delete / scan), so they inherit its isolation, durability and
 * multi-process safety. The layout of rows, index entries and the catalog is
 * in schema.ts; the write path in row_change.ts; index reads in index.ts;
 * the catalog and schema changes in catalog.ts and index_build.ts.
 *
 * - TBL-1  `Table` methods outside a transaction are each one transaction:
 *          writes run in db.transaction() (retried on ConflictError, so a
 *          lost unique race ends in TXTDB_UNIQUE, contract 17), reads in a
 *          read-only transaction or one db.get().
 * - TBL-2  `tx.table(t)` (= `t.in(tx)`) gives the same methods inside the
 *          caller's transaction: nothing is written until it commits.
 * - TBL-3  A row is validated (validate.ts) before its transaction starts
 *          (outside one) or before any write (inside one); `update()`
 *          validates what its function returns. The row as stored — the
 *          validator's output — is what insert/put/update resolve with.
 * - TBL-4  A primary key read back has the type it was written with
 *          (KEY-1): `get(1)` and `get("1")` are different rows.
 * - TBL-5  A Table whose table was dropped (in any process) rejects writes
 *          with TXTDB_NOT_FOUND; one whose table was re-created with another
 *          primary key rejects them with TXTDB_SCHEMA.
 */
import { ErrorCode, TxtDbError } from "../errors.ts";
import { encodeKey, keyToString, type Key } from "../codec/key.ts";
import type { Database } from "../engine/database.ts";
import type { ScanOptions, Transaction } from "../engine/transaction.ts";
import { TableIndex, TableIndexTx, type IndexHost } from "./index.ts";
import { changeRow, definitionIn, definitionKnown } from "./row_change.ts";
import { dropIndex } from "./catalog.ts";
import {
  checkRowShape, describeFields, primaryKeyOf, sameFields, validateIndexName, type CompiledTable, type Fields, type TableDefinition,
} from "./schema.ts";
import { runValidator, type Validator } from "./validate.ts";

type RowObject = Record<string, unknown>;

/** What a Table and its TableTx views share. */
interface TableState<Row> {
  readonly db: Database;
  readonly name: string;
  readonly key: Fields;
  readonly validate: Validator<Row> | undefined;
  /** The newest definition this process has seen (a hint for reads outside transactions). */
  def: CompiledTable;
  /** index(name) handles of the table's indexes: a loop calling `users.index("byEmail").get(…)` checks the name once. */
  readonly indexes: Map<string, TableIndex<Row>>;
}

const states = new WeakMap<object, TableState<unknown>>();

function stateOf<Row extends object>(t: Table<Row> | TableTx<Row>): TableState<Row> {
  return states.get(t) as unknown as TableState<Row>;
}

/**
 * A table of rows. Get one with `db.table(name, options)`.
 *
 * @example
 * ```ts
 * import { open, memoryIO } from "txtdb";
 * type User = { id: number; email: string; name: string };
 * const db = await open("/demo", { io: memoryIO() });
 * const users = await db.table<User>("users", { key: "id", indexes: { byEmail: { fields: "email", unique: true } } });
 * await users.insert({ id: 1, email: "ada@example.com", name: "Ada" });
 * console.log(await users.index("byEmail").get("ada@example.com")); // { id: 1, email: "ada@example.com", name: "Ada" }
 * await db.close();
 * ```
 */
export class Table<Row extends object = RowObject> {
  readonly name: string;

  /** @internal Use db.table(). */
  constructor(db: Database, def: CompiledTable, validate: Validator<Row> | undefined) {
    this.name = def.name;
    states.set(this, { db, name: def.name, key: def.definition.key, validate, def, indexes: new Map() } as unknown as TableState<unknown>);
  }

  /** The primary-key field(s). */
  get key(): Fields {
    return stateOf(this).key;
  }

  /** The definition this handle last saw (a copy): key, version, indexes and their state. */
  definition(): TableDefinition {
    return structuredClone(stateOf(this).def.definition);
  }

  /** This table inside `tx` (TBL-2); `tx.table(table)` is the same. */
  in(tx: Transaction): TableTx<Row> {
    return new TableTx<Row>(this, tx);
  }

  /** The row with primary key `key`, or undefined (TBL-4). */
  get(key: Key): Promise<Row | undefined> {
    return stateOf(this).db.get(this.name, key) as Promise<Row | undefined>;
  }

  /** Inserts a row; TXTDB_DUPLICATE_KEY if its primary key exists, TXTDB_UNIQUE if a unique index holds one of its values. */
  async insert(row: Row): Promise<Row> {
    const valid = await validated(stateOf(this), row);
    return stateOf(this).db.transaction((tx) => TableTx.write(this.in(tx), "insert", valid));
  }

  /** Inserts or replaces a row (by primary key). */
  async put(row: Row): Promise<Row> {
    const valid = await validated(stateOf(this), row);
    return stateOf(this).db.transaction((tx) => TableTx.write(this.in(tx), "put", valid));
  }

  /** Replaces the row `key` with `fn(row)`; TXTDB_NOT_FOUND if absent. `fn` may run more than once (conflict retries). */
  update(key: Key, fn: (row: Row) => Row | Promise<Row>): Promise<Row> {
    return stateOf(this).db.transaction((tx) => this.in(tx).update(key, fn));
  }

  /** Deletes the row `key`; true if there was one. */
  delete(key: Key): Promise<boolean> {
    return stateOf(this).db.transaction((tx) => this.in(tx).delete(key));
  }

  /** The number of rows (counts them: time grows with the table). */
  count(): Promise<number> {
    return readOnly(stateOf(this).db, (tx) => this.in(tx).count());
  }

  /** Rows in primary-key order; the options are the engine's scan options over primary keys. Holds one snapshot while it runs. */
  async *scan(options: ScanOptions = {}): AsyncGenerator<Row> {
    const tx = await stateOf(this).db.begin({ readOnly: true });
    try {
      yield* this.in(tx).scan(options);
    } finally {
      await tx.rollback();
    }
  }

  /** A secondary index, to read rows through (index.ts). */
  index(name: string): TableIndex<Row> {
    const s = stateOf(this);
    let index = s.indexes.get(name);
    if (index === undefined) {
      validateIndexName(this.name, name);
      const host: IndexHost = { db: s.db, table: this.name, cached: () => s.def };
      index = new TableIndex<Row>(host, name);
      if (s.def.byName.has(name)) s.indexes.set(name, index); // bounded by the table's indexes
    }
    return index;
  }

  /** Drops an index and its entries (one transaction); true if it existed. */
  async dropIndex(name: string): Promise<boolean> {
    validateIndexName(this.name, name);
    const s = stateOf(this);
    const { dropped, def } = await dropIndex(s.db, this.name, name);
    if (def !== null) s.def = def;
    return dropped;
  }

}

/** A table inside a transaction (TBL-2): `tx.table(users)`. */
export class TableTx<Row extends object = RowObject> {
  readonly name: string;
  readonly #tx: Transaction;

  constructor(table: Table<Row>, tx: Transaction) {
    this.name = table.name;
    this.#tx = tx;
    states.set(this, stateOf(table) as unknown as TableState<unknown>);
  }

  /** The definition at this transaction's snapshot (ROW-2, TBL-5). */
  async #definition(): Promise<CompiledTable> {
    const s = stateOf(this);
    const known = definitionKnown(this.#tx, this.name);
    if (known !== undefined && known === s.def) return known; // checked when it was first read
    const def = known ?? (await definitionIn(this.#tx, this.name));
    if (def === null) throw new TxtDbError(ErrorCode.NOT_FOUND, `table '${this.name}' does not exist (it was dropped): open it again with db.table('${this.name}', { key: … })`);
    if (!sameFields(def.definition.key, s.key)) {
      throw new TxtDbError(ErrorCode.SCHEMA, `table '${this.name}' was re-created with primary key ${describeFields(def.definition.key)}; this handle has ${describeFields(s.key)}: open it again`);
    }
    if (def.definition.version >= s.def.definition.version) s.def = def;
    return def;
  }

  get(key: Key): Promise<Row | undefined> {
    return this.#tx.get(this.name, key) as Promise<Row | undefined>;
  }

  async insert(row: Row): Promise<Row> {
    const s = stateOf(this);
    return this.#writeValid("insert", s.validate === undefined ? (checkRowShape(s.name, row) as Row) : await validated(s, row));
  }

  async put(row: Row): Promise<Row> {
    const s = stateOf(this);
    return this.#writeValid("put", s.validate === undefined ? (checkRowShape(s.name, row) as Row) : await validated(s, row));
  }

  /** @internal A validated row. */
  async #writeValid(mode: "insert" | "put", row: Row): Promise<Row> {
    const def = await this.#definition();
    await changeRow(this.#tx, def, { mode, row: row as RowObject });
    return row;
  }

  /**
   * Replaces the row `key` with `fn(row)`; TXTDB_NOT_FOUND if absent. `fn`
   * runs outside this transaction's queue of row changes (ROW-4), so it may
   * itself read or write through the transaction.
   */
  async update(key: Key, fn: (row: Row) => Row | Promise<Row>): Promise<Row> {
    const def = await this.#definition();
    const old = (await this.#tx.get(this.name, key)) as Row | undefined;
    if (old === undefined) throw notFound(this.name, key);
    const next = await validated(stateOf(this), await fn(old));
    if (encodeKey(primaryKeyOf(def, next as RowObject)) !== encodeKey(key)) {
      throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `update() of table '${this.name}' cannot change the primary key of row ${keyToString(key)}: delete it and insert the new row`);
    }
    const replaced = await changeRow(this.#tx, def, { mode: "update", key, row: next as RowObject });
    if (replaced === undefined) throw notFound(this.name, key); // deleted meanwhile by another call on this transaction
    return next;
  }

  async delete(key: Key): Promise<boolean> {
    const def = await this.#definition();
    return (await changeRow(this.#tx, def, { mode: "delete", key })) !== undefined;
  }

  async count(): Promise<number> {
    let n = 0;
    for await (const _ of this.#tx.scan(this.name)) n++;
    return n;
  }

  async *scan(options: ScanOptions = {}): AsyncGenerator<Row> {
    for await (const [, row] of this.#tx.scan(this.name, options)) yield row as Row;
  }

  index(name: string): TableIndexTx<Row> {
    validateIndexName(this.name, name);
    return new TableIndexTx<Row>(this.#tx, this.name, name);
  }

  /** @internal Used by Table: a validated row. */
  static write<Row extends object>(t: TableTx<Row>, mode: "insert" | "put", row: Row): Promise<Row> {
    return t.#writeValid(mode, row);
  }
}

function notFound(table: string, key: Key): TxtDbError {
  return new TxtDbError(ErrorCode.NOT_FOUND, `table '${table}' has no row with primary key ${keyToString(key)}`);
}

async function validated<Row>(s: TableState<Row>, row: Row): Promise<Row> {
  return checkRowShape(s.name, await runValidator(s.name, s.validate, row)) as Row;
}

async function readOnly<T>(db: Database, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  const tx = await db.begin({ readOnly: true });
  try {
    return await fn(tx);
  } finally {
    await tx.rollback();
  }
}
