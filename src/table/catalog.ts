/**
 * The catalog: which tables exist, their primary keys and indexes, persisted
 * transactionally in the namespace `txtdb.tables` (one entry per table; the
 * entry's form is in schema.ts). Opening, creating, changing and dropping
 * tables happens here.
 *
 * - CAT-1  Every catalog change is one transaction, together with the data
 *          it implies (dropping a table drops its rows and index entries in
 *          the same transaction), so a crash leaves the catalog and the data
 *          in agreement. Two processes changing one table's entry at once
 *          conflict on its key; the retry sees the other's change.
 * - CAT-2  db.table(name) without options opens what the catalog holds (in
 *          any process, after any reopen); for an unknown table it throws
 *          TXTDB_NOT_FOUND (contract 17). With options, an unknown table is
 *          created — if its namespaces are empty (TXTDB_EXISTS otherwise: a
 *          table never adopts keys written outside the table layer).
 * - CAT-3  Options are compared with the catalog: another primary key or a
 *          redefined index is TXTDB_SCHEMA (SCH-2, SCH-3); a new index is
 *          declared and built (index_build.ts); an index the options leave
 *          out stays, maintained and readable, until dropIndex().
 * - CAT-4  db.table() resolves once every index of the table is ready
 *          (including builds another process left unfinished, BLD-2).
 * - CAT-5  A validator lives in the handle that db.table() returns (functions
 *          are not data): the catalog stores keys and indexes only.
 */
import { ErrorCode, TxtDbError } from "../errors.ts";
import type { Database } from "../engine/database.ts";
import type { Transaction } from "../engine/transaction.ts";
import { catalogNamespace } from "./_defaults.ts";
import { writeTx } from "./_write_tx.ts";
import { finishBuilds } from "./index_build.ts";
import { definitionIn, registerValidator } from "./row_change.ts";
import {
  compile, describeFields, indexNamespace, newDefinition, normalizeOptions, sameFields, validateIndexName, validateTableName,
  type CompiledTable, type TableOptions,
} from "./schema.ts";
import { Table } from "./table.ts";
import type { Validator } from "./validate.ts";

/** db.table(name, options?) (CAT-2…CAT-5). */
export async function openTable<Row extends object>(db: Database, name: string, options?: TableOptions<Row>): Promise<Table<Row>> {
  validateTableName(name);
  if (options === undefined) {
    const tx = await db.begin({ readOnly: true });
    let def: CompiledTable | null;
    try {
      def = await definitionIn(tx, name);
    } finally {
      await tx.rollback();
    }
    if (def === null) {
      throw new TxtDbError(ErrorCode.NOT_FOUND, `there is no table '${name}': create it with db.table('${name}', { key: … })`);
    }
    def = await finishBuilds(db, def, tx.snapshotTsn, undefined);
    return new Table<Row>(db, def, undefined);
  }
  const wanted = normalizeOptions(name, options);
  const { result: declared, tsn } = await writeTx(db, async (tx) => {
    const current = await definitionIn(tx, name);
    if (current === null) {
      await mustBeEmpty(tx, name, `table '${name}'`);
      for (const ix of wanted.indexes.keys()) await mustBeEmpty(tx, indexNamespace(name, ix), `index '${ix}' of table '${name}'`);
      const def = newDefinition(wanted.key, wanted.indexes);
      await tx.put(catalogNamespace, name, def);
      return compile(name, def);
    }
    const def = current.definition;
    if (!sameFields(def.key, wanted.key)) {
      throw new TxtDbError(ErrorCode.SCHEMA, `table '${name}' has primary key ${describeFields(def.key)}, not ${describeFields(wanted.key)}: ` +
        "a primary key cannot change (copy the rows to a new table instead)");
    }
    const next = structuredClone(def);
    for (const [ix, want] of wanted.indexes) {
      const have = def.indexes[ix];
      if (have === undefined) {
        await mustBeEmpty(tx, indexNamespace(name, ix), `index '${ix}' of table '${name}'`);
        next.indexes[ix] = { fields: want.fields, unique: want.unique, state: "building" };
      } else if (!sameFields(have.fields, want.fields) || have.unique !== want.unique) {
        throw new TxtDbError(ErrorCode.SCHEMA, `index '${ix}' of table '${name}' is ${have.unique ? "unique " : ""}on ${describeFields(have.fields)}, ` +
          `not ${want.unique ? "unique " : ""}on ${describeFields(want.fields)}: drop it first (table.dropIndex('${ix}')), or give the new one another name`);
      }
    }
    if (Object.keys(next.indexes).length === Object.keys(def.indexes).length) return current;
    next.version++;
    await tx.put(catalogNamespace, name, next);
    return compile(name, next);
  });
  registerValidator(db, name, options.validate as Validator<never> | undefined);
  const def = await finishBuilds(db, declared, tsn, options.onProgress);
  return new Table<Row>(db, def, options.validate);
}

async function mustBeEmpty(tx: Transaction, ns: string, what: string): Promise<void> {
  for await (const _ of tx.scan(ns, { limit: 1 })) {
    throw new TxtDbError(ErrorCode.EXISTS, `cannot create ${what}: namespace '${ns}' already holds keys written outside the table layer; ` +
      "drop it (db.dropNamespace) or choose another name");
  }
}

/** db.tables(): the names of the tables, sorted. */
export async function listTables(db: Database): Promise<string[]> {
  const tx = await db.begin({ readOnly: true });
  try {
    const names: string[] = [];
    for await (const [name] of tx.scan(catalogNamespace)) names.push(name as string);
    return names;
  } finally {
    await tx.rollback();
  }
}

/** db.dropTable(name): the table's rows, index entries and catalog entry, in one transaction (CAT-1). True if it existed. */
export async function dropTable(db: Database, name: string): Promise<boolean> {
  validateTableName(name);
  const { result } = await writeTx(db, async (tx) => {
    const def = await definitionIn(tx, name);
    if (def === null) return false;
    await tx.delete(catalogNamespace, name);
    await tx.dropNamespace(name);
    for (const ix of def.indexes) await tx.dropNamespace(ix.namespace);
    return true;
  });
  registerValidator(db, name, undefined);
  return result;
}

/** table.dropIndex(name): the index's entries and catalog entry, in one transaction (CAT-1). */
export async function dropIndex(db: Database, table: string, index: string): Promise<{ dropped: boolean; def: CompiledTable | null }> {
  validateIndexName(table, index);
  const { result } = await writeTx(db, async (tx) => {
    const def = await definitionIn(tx, table);
    if (def === null) throw new TxtDbError(ErrorCode.NOT_FOUND, `there is no table '${table}'`);
    if (def.definition.indexes[index] === undefined) return { dropped: false, def };
    const next = structuredClone(def.definition);
    delete next.indexes[index];
    next.version++;
    await tx.put(catalogNamespace, table, next);
    await tx.dropNamespace(indexNamespace(table, index));
    return { dropped: true, def: compile(table, next) };
  });
  return result;
}

