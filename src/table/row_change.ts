/**
 * The write path of the table layer: one row change — insert, put, update,
 * delete — and the index entries it implies, in the caller's transaction.
 * Every way a row changes goes through changeRow(): Table and TableTx
 * methods, index builds (index_build.ts) and, for hand edits adopted as a
 * transaction, applyRowChange().
 *
 * - ROW-1  A row change and its index maintenance are writes of one
 *          transaction: committed together or not at all, so no commit
 *          ever leaves a table and its indexes disagreeing (in any process,
 *          across crashes — the engine's atomicity).
 * - ROW-2  The table's definition is read from the catalog inside the
 *          transaction (once per transaction and table), so a writer
 *          maintains every index its snapshot knows, "building" ones
 *          included; index_build.ts waits out older snapshots.
 * - ROW-3  All checks come before the first write: validation, primary key,
 *          TXTDB_DUPLICATE_KEY, TXTDB_NOT_FOUND, TXTDB_UNIQUE, key sizes. A
 *          refused change writes nothing and leaves the transaction usable.
 *          The row is written first (a value the codec refuses fails there,
 *          still before any other write); should a later index write fail
 *          (the transaction's size bound), the transaction is rolled back
 *          rather than left half-changed.
 * - ROW-4  Row changes of one transaction run one at a time (a queue per
 *          transaction), so concurrent calls on one transaction cannot
 *          interleave their reads and writes.
 * - ROW-5  A unique index entry is keyed by the value: two transactions
 *          giving two rows the same value write the same key, so the later
 *          committer gets ConflictError (contract 17), and its retry sees the
 *          value taken: TXTDB_UNIQUE naming the index and the value.
 */
import { ErrorCode, TxtDbError } from "../errors.ts";
import { encodeKey, keyToString, type Key } from "../codec/key.ts";
import type { Database } from "../engine/database.ts";
import type { Transaction } from "../engine/transaction.ts";
import { catalogNamespace, reservedTableName } from "./_defaults.ts";
import {
  checkRowShape, compileEntry, describeTuple, entryKeyOf, entryValueOf, indexTupleOf, invalidRow, primaryKeyOf,
  type CompiledIndex, type CompiledTable,
} from "./schema.ts";
import { runValidator, type Validator } from "./validate.ts";

type RowObject = Record<string, unknown>;

interface TxState {
  /** ROW-4: the last row change queued. */
  queue: Promise<unknown>;
  /** Row changes queued and not yet settled. */
  pending: number;
  /** ROW-2: the definition of each table as this transaction's snapshot has it. */
  readonly defs: Map<string, Promise<CompiledTable | null>>;
  /** The same, once read. */
  readonly known: Map<string, CompiledTable | null>;
}

const txStates = new WeakMap<Transaction, TxState>();

function stateOf(tx: Transaction): TxState {
  let s = txStates.get(tx);
  if (s === undefined) txStates.set(tx, (s = { queue: Promise.resolve(), pending: 0, defs: new Map(), known: new Map() }));
  return s;
}


/** Runs `fn` after the row changes already queued on `tx` (ROW-4). */
function serialized<T>(tx: Transaction, fn: () => Promise<T>): Promise<T> {
  const s = stateOf(tx);
  // Nothing queued (the common, sequential case): start now, without waiting a turn.
  const run = s.pending === 0 ? fn() : s.queue.then(fn);
  s.pending++;
  const settled = (): void => void s.pending--;
  s.queue = run.then(settled, settled);
  return run;
}

/** The definition of `table` at the transaction's snapshot, or null if there is no such table (ROW-2). */
export function definitionIn(tx: Transaction, table: string): Promise<CompiledTable | null> {
  const s = stateOf(tx);
  let def = s.defs.get(table);
  if (def === undefined) {
    def = tx.get(catalogNamespace, table).then((v) => {
      const t = v === undefined ? null : compileEntry(table, v);
      s.known.set(table, t);
      return t;
    });
    s.defs.set(table, def);
  }
  return def;
}

/** definitionIn() without waiting, once it has been read in this transaction; undefined before. */
export function definitionKnown(tx: Transaction, table: string): CompiledTable | null | undefined {
  return txStates.get(tx)?.known.get(table);
}

export type RowChange =
  | { mode: "insert" | "put"; row: RowObject }
  /** Replaces (or, "replace" only, creates) the row stored under `key`; the row's own key must be `key`. "update" writes nothing if there is no row. */
  | { mode: "replace" | "update"; key: Key; row: RowObject }
  | { mode: "delete"; key: Key };

/** Applies one row change with its index maintenance (ROW-1…ROW-5); resolves with the row it replaced or deleted. */
export function changeRow(tx: Transaction, t: CompiledTable, change: RowChange): Promise<RowObject | undefined> {
  return serialized(tx, () => changeRowQueued(tx, t, change));
}

interface EntryChange {
  readonly ix: CompiledIndex;
  readonly oldKey: Key | undefined;
  readonly newKey: Key | undefined;
}

/** changeRow() for a caller already at the head of the transaction's queue. */
async function changeRowQueued(tx: Transaction, t: CompiledTable, change: RowChange): Promise<RowObject | undefined> {
  const row = change.mode === "delete" ? undefined : change.row;
  const pk = row === undefined ? (change as { key: Key }).key : primaryKeyOf(t, row);
  const pkEnc = encodeChecked(t, pk, row !== undefined, "the primary key");
  if ((change.mode === "replace" || change.mode === "update") && encodeKey(change.key) !== pkEnc) {
    throw invalidRow(t.name, [{ message: `the row's primary key ${keyToString(pk)} is not the key it is stored under, ${keyToString(change.key)}`, path: [...t.keyFields] }]);
  }
  const old = (await tx.get(t.namespace, pk)) as RowObject | undefined;
  if (change.mode === "insert" && old !== undefined) {
    throw new TxtDbError(ErrorCode.DUPLICATE_KEY, `table '${t.name}' already has a row with primary key ${keyToString(pk)}: use put() to replace it or update() to change it`);
  }
  if (old === undefined && (row === undefined || change.mode === "update")) return undefined;
  const entries: EntryChange[] = [];
  for (const ix of t.indexes) {
    const oldTuple = old === undefined ? undefined : storedTuple(ix, old);
    const newTuple = row === undefined ? undefined : indexTupleOf(ix, row);
    const oldKey = oldTuple === undefined ? undefined : entryKeyOf(ix, oldTuple, pk);
    const newKey = newTuple === undefined ? undefined : entryKeyOf(ix, newTuple, pk);
    const newEnc = newKey === undefined ? undefined : encodeChecked(t, newKey, true, `the entry of index '${ix.name}'`);
    if (newEnc === (oldKey === undefined ? undefined : encodeKey(oldKey))) continue;
    if (ix.unique && newKey !== undefined) {
      const holder = await tx.get(ix.namespace, newKey);
      if (holder !== undefined && encodeKey(holder as Key) !== pkEnc) {
        throw new TxtDbError(ErrorCode.UNIQUE, `unique index '${ix.name}' of table '${t.name}' already holds ${describeTuple(ix, newTuple!)} ` +
          `(row ${keyToString(holder as Key)}); row ${keyToString(pk)} cannot take it`);
      }
    }
    entries.push({ ix, oldKey, newKey });
  }
  // ROW-3: the row first; it is the write the codec may still refuse.
  if (row === undefined) await tx.delete(t.namespace, pk);
  else await tx.put(t.namespace, pk, row);
  try {
    for (const e of entries) {
      if (e.oldKey !== undefined) await tx.delete(e.ix.namespace, e.oldKey);
      if (e.newKey !== undefined) await tx.put(e.ix.namespace, e.newKey, entryValueOf(e.ix, pk));
    }
  } catch (err) {
    await tx.rollback();
    throw new TxtDbError(ErrorCode.INVALID_VALUE, `table '${t.name}': maintaining the indexes of row ${keyToString(pk)} failed (${(err as Error).message}); ` +
      "the transaction was rolled back so that it cannot commit a row without its index entries", { cause: err });
  }
  return old;
}

/** The indexed values of a stored row; a value no key can be never had an entry. */
function storedTuple(ix: CompiledIndex, old: RowObject): Key[] | undefined {
  try {
    return indexTupleOf(ix, old);
  } catch {
    return undefined;
  }
}

/** encodeKey(), with a key too long for a row's key reported as the row's fault (SCH-4). */
function encodeChecked(t: CompiledTable, key: Key, fromRow: boolean, what: string): string {
  try {
    return encodeKey(key);
  } catch (err) {
    if (!fromRow || !(err instanceof TxtDbError)) throw err;
    throw invalidRow(t.name, [{ message: `${what} cannot be stored: ${err.message}` }], err);
  }
}

// ---------------------------------------------------------------------------
// Validators of tables opened on a database handle, for applyRowChange()

const validators = new WeakMap<Database, Map<string, Validator<never>>>();

export function registerValidator(db: Database, table: string, validate: Validator<never> | undefined): void {
  let m = validators.get(db);
  if (m === undefined) validators.set(db, (m = new Map()));
  if (validate === undefined) m.delete(table);
  else m.set(table, validate);
}

/**
 * Applies a change of one entry of `namespace` — as a hand edit of a page
 * file describes it — through the table layer: if `namespace` is a table's,
 * the row (undefined: deleted) is validated (with the validator that `db`'s
 * latest db.table() call for it gave, if `db` is passed) and written with
 * its index maintenance (ROW-1…ROW-3); the row's primary-key fields must
 * equal `key`. Resolves with true if the namespace is a table's, false if it
 * is not (then nothing was done: write it with tx.put/tx.delete). A change
 * to the catalog or to an index namespace is refused with TXTDB_SCHEMA:
 * index entries are derived from rows, and the catalog changes through
 * db.table(), dropIndex() and dropTable().
 *
 * @example
 * ```ts
 * import { open, memoryIO, applyRowChange } from "txtdb";
 * const db = await open("/x", { io: memoryIO() });
 * const users = await db.table("users", { key: "id", indexes: { byEmail: { fields: "email", unique: true } } });
 * await db.transaction(async (tx) => {
 *   await applyRowChange(tx, "users", 1, { id: 1, email: "a@example.com" }, db); // true: row and index entry
 *   await applyRowChange(tx, "notes", "n1", { text: "hi" });                      // false: not a table
 * });
 * console.log(await users.index("byEmail").get("a@example.com")); // { id: 1, email: "a@example.com" }
 * ```
 */
export async function applyRowChange(tx: Transaction, namespace: string, key: Key, row: unknown, db?: Database): Promise<boolean> {
  if (namespace === catalogNamespace) {
    throw new TxtDbError(ErrorCode.SCHEMA, `'${catalogNamespace}' is the table catalog: change tables through db.table(), table.dropIndex() and db.dropTable(), not by editing it`);
  }
  const dot = namespace.indexOf(".");
  if (dot >= 0) {
    const owner = await definitionIn(tx, namespace.slice(0, dot));
    if (owner?.byName.has(namespace.slice(dot + 1)) === true) {
      throw new TxtDbError(ErrorCode.SCHEMA, `'${namespace}' holds the entries of index '${namespace.slice(dot + 1)}' of table '${owner.name}': ` +
        "they are derived from the rows; change the rows of the table instead");
    }
    return false;
  }
  if (namespace === reservedTableName) return false;
  const t = await definitionIn(tx, namespace);
  if (t === null) return false;
  if (row === undefined) {
    await changeRow(tx, t, { mode: "delete", key });
    return true;
  }
  const validate = db === undefined ? undefined : validators.get(db)?.get(namespace);
  const valid = checkRowShape(namespace, await runValidator(namespace, validate as Validator<unknown> | undefined, row));
  await changeRow(tx, t, { mode: "replace", key, row: valid });
  return true;
}
