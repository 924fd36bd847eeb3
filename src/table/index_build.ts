/**
 * Building an index over the rows a table already has, while others write.
 *
 * The steps (each a transaction of its own):
 *
 *   1. DECLARE: the index enters the catalog as "building" (catalog.ts).
 *      From then on every writer whose snapshot includes that commit
 *      maintains it (ROW-2), and a unique one already refuses values it
 *      holds.
 *   2. WAIT: until no transaction older than the declaration is open, in any
 *      process (db.stats().oldestSnapshotTsn, which the engine publishes
 *      across processes — with the spares of GC-9 and DB-8, which move up or
 *      go within a turn): such a transaction could still commit rows without
 *      the new index's entries. Bounded by indexBuildWaitMsMax, then
 *      TXTDB_LOCKED (the index stays "building"; the next db.table() call
 *      for the table resumes the build).
 *   3. BACKFILL: in primary-key order, chunks of indexBuildChunkRows rows,
 *      one transaction each: scan the chunk, put each row's entry. A writer
 *      changing a row of the chunk meanwhile writes that row's old or new
 *      entry too, so one of the two transactions gets ConflictError and is
 *      retried on the newer state (first committer wins, per key). A unique
 *      value held by another row fails the build (BLD-3).
 *   4. READY: the catalog marks the index "ready"; reads may use it (IDX-1).
 *
 * - BLD-1  An index is "ready" only when every row committed before the
 *          ready mark has its entry and no entry lacks its row.
 * - BLD-2  A build interrupted (crash, TXTDB_LOCKED, close) leaves the index
 *          "building" — maintained by writers, refused to readers — and the
 *          next db.table() call for the table completes it. Chunks are
 *          idempotent: an entry already there is left as it is.
 * - BLD-3  A build that meets two rows with the same value of a unique index,
 *          or a row whose indexed field cannot be a key, removes the index
 *          and its entries (one transaction) and rejects with TXTDB_UNIQUE /
 *          TXTDB_INVALID_VALUE naming the rows: the table is as before.
 * - BLD-4  Several processes may build the same index at once: their chunks
 *          write the same entries, conflict, retry, and agree.
 */
import { ErrorCode, TxtDbError } from "../errors.ts";
import { encodeKey, keyToString, type Key } from "../codec/key.ts";
import type { Database } from "../engine/database.ts";
import type { Transaction } from "../engine/transaction.ts";
import { catalogNamespace, indexBuildChunkRows, indexBuildPollMs, indexBuildWaitMsMax } from "./_defaults.ts";
import { sleep, writeTx } from "./_write_tx.ts";
import { definitionIn } from "./row_change.ts";
import {
  checkRowShape, compile, describeTuple, entryKeyOf, entryValueOf, indexTupleOf, sameFields, type CompiledIndex, type CompiledTable,
  type IndexBuildProgress,
} from "./schema.ts";

/**
 * Steps 2–4 for every "building" index of `t`; `declaredTsn` is a TSN at
 * which all of them were already declared. Resolves with the definition
 * after the last one is ready.
 */
export async function finishBuilds(db: Database, t: CompiledTable, declaredTsn: number, onProgress: ((p: IndexBuildProgress) => void) | undefined): Promise<CompiledTable> {
  const building = t.indexes.filter((ix) => !ix.ready);
  if (building.length === 0) return t;
  await waitForOlderSnapshots(db, t.name, declaredTsn);
  let def = t;
  for (const ix of building) {
    const done = await buildIndex(db, t.name, ix, onProgress);
    if (done !== null) def = done;
  }
  return def;
}

/** Step 2. */
async function waitForOlderSnapshots(db: Database, table: string, tsn: number): Promise<void> {
  for (let waitedMs = 0; db.stats().oldestSnapshotTsn < tsn; waitedMs += indexBuildPollMs) {
    if (waitedMs >= indexBuildWaitMsMax) {
      throw new TxtDbError(ErrorCode.LOCKED, `an index of table '${table}' waited ${indexBuildWaitMsMax / 1000} s for transactions begun before it was declared ` +
        `(snapshot ${db.stats().oldestSnapshotTsn} < ${tsn}, in this or another process) to end: commit or roll them back; ` +
        "the index stays \"building\" and the next db.table() call for the table finishes it");
    }
    await sleep(indexBuildPollMs);
  }
}

class BuildFailed extends Error {
  constructor(readonly error: TxtDbError) {
    super(error.message);
  }
}

/** Steps 3–4 for one index; resolves with the definition that marks it ready, or null if it was dropped meanwhile. */
async function buildIndex(db: Database, table: string, ix: CompiledIndex, onProgress: ((p: IndexBuildProgress) => void) | undefined): Promise<CompiledTable | null> {
  let cursor: Key | undefined;
  let rowsIndexed = 0;
  try {
    for (;;) {
      const { result } = await writeTx(db, async (tx) => {
        const now = await definitionIn(tx, table);
        const current = now?.byName.get(ix.name);
        if (current === undefined || current.ready || !sameIndex(current, ix)) return null; // dropped, or finished by another process
        let rows = 0;
        let last: Key | undefined;
        for await (const [pk, value] of tx.scan(table, cursor === undefined ? { limit: indexBuildChunkRows } : { gt: cursor, limit: indexBuildChunkRows })) {
          rows++;
          last = pk;
          await indexRow(tx, table, current, pk, value);
        }
        return { rows, last };
      });
      if (result === null) return null;
      rowsIndexed += result.rows;
      cursor = result.last;
      if (result.rows < indexBuildChunkRows) break;
      onProgress?.({ table, index: ix.name, rowsIndexed, done: false });
      await sleep(0); // a turn of the event loop between chunks: the build never monopolizes the process
    }
  } catch (err) {
    if (!(err instanceof BuildFailed)) throw err;
    await abandon(db, table, ix);
    throw err.error;
  }
  const { result: def } = await writeTx(db, async (tx) => {
    const now = await definitionIn(tx, table);
    const current = now?.definition.indexes[ix.name];
    if (now === null || current === undefined || !sameIndex(now.byName.get(ix.name)!, ix)) return null;
    if (current.state === "ready") return now;
    const next = structuredClone(now.definition);
    next.indexes[ix.name]!.state = "ready";
    next.version++;
    await tx.put(catalogNamespace, table, next);
    return compile(table, next);
  });
  if (def !== null) onProgress?.({ table, index: ix.name, rowsIndexed, done: true });
  return def;
}

/** Step 3 for one row (BLD-2, BLD-3). */
async function indexRow(tx: Transaction, table: string, ix: CompiledIndex, pk: Key, value: unknown): Promise<void> {
  let tuple: Key[] | undefined;
  try {
    tuple = indexTupleOf(ix, checkRowShape(table, value));
  } catch (err) {
    if (!(err instanceof TxtDbError)) throw err;
    throw new BuildFailed(new TxtDbError(ErrorCode.INVALID_VALUE, `cannot build index '${ix.name}' of table '${table}': row ${keyToString(pk)}: ${err.message}; ` +
      "the index was not created", { cause: err }));
  }
  if (tuple === undefined) return;
  const key = entryKeyOf(ix, tuple, pk);
  if (ix.unique) {
    const holder = await tx.get(ix.namespace, key);
    if (holder !== undefined) {
      if (encodeKey(holder as Key) === encodeKey(pk)) return;
      throw new BuildFailed(new TxtDbError(ErrorCode.UNIQUE, `cannot build unique index '${ix.name}' of table '${table}': rows ${keyToString(holder as Key)} and ` +
        `${keyToString(pk)} both have ${describeTuple(ix, tuple)}; the index was not created`));
    }
  }
  await tx.put(ix.namespace, key, entryValueOf(ix, pk));
}

/** BLD-3: removes the index being built and its entries. */
async function abandon(db: Database, table: string, ix: CompiledIndex): Promise<void> {
  await writeTx(db, async (tx) => {
    const now = await definitionIn(tx, table);
    const current = now?.byName.get(ix.name);
    if (now === null || current === undefined || current.ready || !sameIndex(current, ix)) return;
    const next = structuredClone(now.definition);
    delete next.indexes[ix.name];
    next.version++;
    await tx.put(catalogNamespace, table, next);
    await tx.dropNamespace(ix.namespace);
  });
}

function sameIndex(a: CompiledIndex, b: CompiledIndex): boolean {
  return a.unique === b.unique && a.bare === b.bare && sameFields(a.fields, b.fields);
}
