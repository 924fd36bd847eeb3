/**
 * Table definitions: the options a caller gives, the entry the catalog
 * stores, and the compiled form the read and write paths use — plus how a
 * row maps to its primary key and to its index entries.
 *
 * NAMESPACES (all valid names, contract 15, and readable in pages/):
 *
 * | namespace           | key                                  | value            |
 * |---------------------|--------------------------------------|------------------|
 * | `txtdb.tables`      | table name                           | TableDefinition  |
 * | `<table>`           | primary key: `row.id`, or            | the row          |
 * |                     | `[row.tenant, row.id]` (composite)   |                  |
 * | `<table>.<index>`   | unique, one field: the value         | the primary key  |
 * | (unique)            | unique, several: `[v1, v2, …]`       |                  |
 * | `<table>.<index>`   | `[v1, …, vn, primaryKey]`            | null             |
 * | (non-unique)        |                                      |                  |
 *
 * A catalog entry, as a page file shows it:
 *
 *     "users": { "format": 1, "key": "id", "version": 2, "indexes": {
 *       "byEmail": { "fields": "email", "unique": true, "state": "ready" },
 *       "byTenantAge": { "fields": ["tenant", "age"], "unique": false, "state": "building" } } }
 *
 * Invariants (cited by src/table/*.ts and test/table*.test.ts):
 *
 * - SCH-1  Table names are namespace names without "." and not "txtdb";
 *          index names are non-empty, without "."; so `<table>`,
 *          `<table>.<index>` and `txtdb.tables` never collide.
 * - SCH-2  A table's primary key (`key`, a field or a list of fields) never
 *          changes while the table exists: asking for another is
 *          TXTDB_SCHEMA. `"id"` and `["id"]` are different keys (the second
 *          stores `[1]`, not `1`).
 * - SCH-3  An index's fields and uniqueness never change while it exists:
 *          redefining one is TXTDB_SCHEMA (dropIndex it first).
 * - SCH-4  A row is a plain object. Its primary-key fields must all be
 *          present and hold keys (contract 13); its indexed fields may be
 *          absent or null (the row is then not in that index: indexes are
 *          sparse) but, when present, must hold keys. Anything else is a
 *          ValidationError (TXTDB_INVALID_VALUE) before anything is written.
 * - SCH-5  `version` grows by one with every change of a table's entry; an
 *          index is "building" from the transaction that declares it until
 *          the one that marks it "ready" (index_build.ts).
 */
import { ErrorCode, TxtDbError, ValidationError, type ValidationIssue } from "../errors.ts";
import { encodeKey, type Key } from "../codec/key.ts";
import { compositeKeyElementsMax } from "../codec/limits.ts";
import { validateNamespace } from "../engine/names.ts";
import { catalogFormatVersion, catalogNamespace, compiledDefinitionsMax, reservedTableName } from "./_defaults.ts";
import type { Validator } from "./validate.ts";

/** A field name, or a list of them (a composite). */
export type Fields = string | readonly string[];

export interface IndexOptions {
  /** The indexed field, or fields (a composite index, ordered field by field). */
  fields: Fields;
  /** At most one row per value (values of absent or null fields excepted). Default false. */
  unique?: boolean;
}

/** Progress of building an index over existing rows. */
export interface IndexBuildProgress {
  table: string;
  index: string;
  /** Rows indexed so far by this build. */
  rowsIndexed: number;
  /** True once, when the index is ready. */
  done: boolean;
}

export interface TableOptions<Row> {
  /** The primary-key field, or fields: `"id"` or `["tenant", "id"]`. Fixed when the table is created (SCH-2). */
  key: Fields;
  /** Secondary indexes by name. An index missing here that the table has stays until `dropIndex()`. */
  indexes?: Readonly<Record<string, IndexOptions>>;
  /** Checks (and may transform) every row written through this handle: a function, or a Standard Schema validator. */
  validate?: Validator<Row>;
  /** Called after every chunk of an index build, and once with `done: true`. */
  onProgress?: (progress: IndexBuildProgress) => void;
}

export type IndexState = "building" | "ready";

export interface IndexDefinition {
  fields: Fields;
  unique: boolean;
  state: IndexState;
}

/** A table's catalog entry (SCH-5). */
export interface TableDefinition {
  format: number;
  key: Fields;
  version: number;
  indexes: Record<string, IndexDefinition>;
}

export interface CompiledIndex {
  readonly name: string;
  readonly table: string;
  readonly namespace: string;
  readonly fields: readonly string[];
  readonly unique: boolean;
  readonly ready: boolean;
  /** A unique index on one field: its entry key is the value itself, not a tuple. */
  readonly bare: boolean;
}

export interface CompiledTable {
  readonly name: string;
  readonly namespace: string;
  readonly keyFields: readonly string[];
  readonly keyComposite: boolean;
  readonly indexes: readonly CompiledIndex[];
  readonly byName: ReadonlyMap<string, CompiledIndex>;
  readonly definition: TableDefinition;
  /** The definition as canonical text: equal text, equal definition. */
  readonly text: string;
}

// ---------------------------------------------------------------------------
// Names and options

/** SCH-1. */
export function validateTableName(name: unknown): string {
  validateNamespace(name);
  const n = name as string;
  if (n.includes(".")) throw new TxtDbError(ErrorCode.INVALID_NAME, `invalid table name ${JSON.stringify(n)}: "." is reserved for index namespaces (<table>.<index>)`);
  if (n === reservedTableName) throw new TxtDbError(ErrorCode.INVALID_NAME, `"${reservedTableName}" is reserved: its index namespaces would collide with the catalog ('${catalogNamespace}')`);
  return n;
}

/** SCH-1. */
export function validateIndexName(table: string, name: unknown): string {
  // "__proto__" would be the prototype's setter, not a key, in the definition's plain object of indexes.
  if (typeof name !== "string" || name === "" || name.includes(".") || name === "__proto__") {
    throw new TxtDbError(ErrorCode.INVALID_NAME, `invalid index name ${JSON.stringify(String(name)).slice(0, 80)} for table '${table}': a non-empty string without ".", other than "__proto__"`);
  }
  validateNamespace(indexNamespace(table, name));
  return name;
}

export function indexNamespace(table: string, index: string): string {
  return `${table}.${index}`;
}

function fieldList(fields: Fields): readonly string[] {
  return typeof fields === "string" ? [fields] : fields;
}

function validateFields(fields: unknown, what: string, max: number): Fields {
  const bad = (why: string): TxtDbError => new TxtDbError(ErrorCode.INVALID_ARGUMENT, `${what} must be a field name or a non-empty array of distinct field names: ${why}`);
  if (typeof fields === "string") {
    if (fields === "") throw bad("got an empty name");
    return fields;
  }
  if (!Array.isArray(fields)) throw bad(`got ${typeof fields}`);
  if (fields.length === 0) throw bad("got []");
  if (fields.length > max) throw bad(`at most ${max} fields`);
  for (const f of fields) if (typeof f !== "string" || f === "") throw bad(`got ${JSON.stringify(f)}`);
  if (new Set(fields).size !== fields.length) throw bad(`a field is listed twice in ${JSON.stringify(fields)}`);
  return Object.freeze([...fields]) as readonly string[];
}

/** The options' key and indexes, checked (TXTDB_INVALID_ARGUMENT, TXTDB_INVALID_NAME). */
export function normalizeOptions(table: string, options: unknown): { key: Fields; indexes: Map<string, { fields: Fields; unique: boolean }> } {
  if (typeof options !== "object" || options === null) throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `table options must be an object with at least { key }, got ${String(options)}`);
  const o = options as Record<string, unknown>;
  const key = validateFields(o["key"], `the key of table '${table}'`, compositeKeyElementsMax);
  const indexes = new Map<string, { fields: Fields; unique: boolean }>();
  const given = o["indexes"];
  if (given !== undefined) {
    if (typeof given !== "object" || given === null || Array.isArray(given)) throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `indexes of table '${table}' must be an object of { name: { fields, unique? } }`);
    for (const [name, ix] of Object.entries(given)) {
      validateIndexName(table, name);
      if (typeof ix !== "object" || ix === null) throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `index '${name}' of table '${table}' must be { fields, unique? }`);
      const unique = (ix as IndexOptions).unique ?? false;
      if (typeof unique !== "boolean") throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `unique of index '${name}' must be a boolean`);
      // A non-unique entry is [...values, primaryKey]: one element more.
      indexes.set(name, { fields: validateFields((ix as IndexOptions).fields, `the fields of index '${name}'`, compositeKeyElementsMax - 1), unique });
    }
  }
  for (const k of ["validate", "onProgress"] as const) {
    if (o[k] !== undefined && typeof o[k] !== "function" && !(k === "validate" && typeof o[k] === "object" && o[k] !== null)) {
      throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `${k} of table '${table}' must be a function${k === "validate" ? " or a Standard Schema validator" : ""}`);
    }
  }
  return { key, indexes };
}

/** Whether two field lists are the same (a string and a one-element array are not: SCH-2). */
export function sameFields(a: Fields, b: Fields): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return a.length === b.length && a.every((f, i) => f === b[i]);
}

export function describeFields(f: Fields): string {
  return JSON.stringify(f);
}

// ---------------------------------------------------------------------------
// The catalog entry

/** Checks a catalog entry read back (a hand-edited catalog is reported, never guessed at). */
export function decodeDefinition(table: string, value: unknown): TableDefinition {
  const bad = (why: string): TxtDbError =>
    new TxtDbError(ErrorCode.CORRUPT, `the catalog entry of table '${table}' (namespace '${catalogNamespace}') is not a table definition: ${why}`);
  if (typeof value !== "object" || value === null) throw bad("not an object");
  const v = value as Record<string, unknown>;
  if (v["format"] !== catalogFormatVersion) throw bad(`format ${JSON.stringify(v["format"])}, this version reads ${catalogFormatVersion}`);
  if (!(Number.isSafeInteger(v["version"]) && (v["version"] as number) >= 1)) throw bad("version is not a positive integer");
  let key: Fields;
  try {
    key = validateFields(v["key"], "key", compositeKeyElementsMax);
  } catch (err) {
    throw bad((err as Error).message);
  }
  const ixs = v["indexes"];
  if (typeof ixs !== "object" || ixs === null || Object.getPrototypeOf(ixs) !== Object.prototype) throw bad("indexes is not a plain object");
  const indexes: Record<string, IndexDefinition> = {};
  for (const [name, ix] of Object.entries(ixs)) {
    const i = ix as Record<string, unknown>;
    if (typeof i !== "object" || i === null || typeof i["unique"] !== "boolean" || (i["state"] !== "building" && i["state"] !== "ready")) throw bad(`index '${name}' is malformed`);
    try {
      validateIndexName(table, name);
      indexes[name] = { fields: validateFields(i["fields"], "fields", compositeKeyElementsMax - 1), unique: i["unique"], state: i["state"] };
    } catch (err) {
      throw bad((err as Error).message);
    }
  }
  return { format: catalogFormatVersion, key, version: v["version"] as number, indexes };
}

export function newDefinition(key: Fields, indexes: ReadonlyMap<string, { fields: Fields; unique: boolean }>): TableDefinition {
  const def: TableDefinition = { format: catalogFormatVersion, key, version: 1, indexes: {} };
  for (const [name, ix] of indexes) def.indexes[name] = { fields: ix.fields, unique: ix.unique, state: "ready" };
  return def;
}

const compiled = new Map<string, CompiledTable>();

/** The last catalog entry of each table read back, and its compiled form (compileEntry). */
const lastEntries = new Map<string, { entry: unknown; compiled: CompiledTable }>();

/**
 * The compiled definition of a catalog entry read back (decodeDefinition,
 * then compile). Every table write reads its table's entry (ROW-2), and the
 * entry almost never changes: one equal to the last of its table read
 * (sameJson, a walk of a few small objects) skips the checks and the
 * canonical text, about 8 µs of a table insert's CPU.
 */
export function compileEntry(table: string, entry: unknown): CompiledTable {
  const last = lastEntries.get(table);
  if (last !== undefined && sameJson(last.entry, entry)) return last.compiled;
  const t = compile(table, decodeDefinition(table, entry));
  if (!lastEntries.has(table) && lastEntries.size >= compiledDefinitionsMax) lastEntries.clear();
  lastEntries.set(table, { entry, compiled: t }); // a value read back is the reader's own copy (VER-5, VAL-6): nothing else changes it
  return t;
}

/** Whether two values are equal as JSON: primitives, arrays and plain objects (anything else is never the same). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (Object.getPrototypeOf(a) !== Object.prototype || Object.getPrototypeOf(b) !== Object.prototype) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** The compiled form of a definition (cached by its canonical text). */
export function compile(table: string, def: TableDefinition): CompiledTable {
  const text = canonicalText(table, def);
  const hit = compiled.get(text);
  if (hit !== undefined) return hit;
  const indexes = Object.keys(def.indexes).sort().map((name): CompiledIndex => {
    const ix = def.indexes[name]!;
    const fields = fieldList(ix.fields);
    return { name, table, namespace: indexNamespace(table, name), fields, unique: ix.unique, ready: ix.state === "ready", bare: ix.unique && typeof ix.fields === "string" };
  });
  const t: CompiledTable = {
    name: table, namespace: table, keyFields: fieldList(def.key), keyComposite: typeof def.key !== "string",
    indexes, byName: new Map(indexes.map((i) => [i.name, i])), definition: def, text,
  };
  if (compiled.size >= compiledDefinitionsMax) compiled.clear();
  compiled.set(text, t);
  return t;
}

function canonicalText(table: string, def: TableDefinition): string {
  const ixs = Object.keys(def.indexes).sort().map((n) => [n, def.indexes[n]!.fields, def.indexes[n]!.unique, def.indexes[n]!.state]);
  return JSON.stringify([table, def.format, def.key, def.version, ixs]);
}

// ---------------------------------------------------------------------------
// Rows, primary keys, index entries (SCH-4)

export function invalidRow(table: string, issues: ValidationIssue[], cause?: unknown): ValidationError {
  return new ValidationError(`table '${table}' refused the row: ${issues.map((i) => (i.path !== undefined && i.path.length > 0 ? `${i.path.map(String).join(".")}: ` : "") + i.message).join("; ")}`,
    issues, cause === undefined ? {} : { cause });
}

export function checkRowShape(table: string, row: unknown): Record<string, unknown> {
  if (typeof row !== "object" || row === null || Array.isArray(row) || row instanceof Date || row instanceof Uint8Array || row instanceof Map || row instanceof Set) {
    throw invalidRow(table, [{ message: `a row is a plain object, got ${row === null ? "null" : Array.isArray(row) ? "an array" : typeof row}` }]);
  }
  return row as Record<string, unknown>;
}

function fieldOf(row: Record<string, unknown>, field: string): unknown {
  return Object.hasOwn(row, field) ? row[field] : undefined;
}

/** Whether `v` is a key (contract 13); composite values take the full check. */
function checkKeyPart(table: string, field: string, v: unknown, what: string): void {
  switch (typeof v) {
    case "string":
      return;
    case "number":
      if (v === v) return;
      break;
    case "bigint":
    case "boolean":
      return;
  }
  if (v instanceof Date && v.getTime() === v.getTime()) return;
  if (v instanceof Uint8Array) return;
  try {
    encodeKey(v);
  } catch (err) {
    throw invalidRow(table, [{ message: `${what} field '${field}' holds a value that cannot be a key: ${(err as Error).message}`, path: [field] }], err);
  }
}

/** The primary key of a row (SCH-4). */
export function primaryKeyOf(t: CompiledTable, row: Record<string, unknown>): Key {
  if (!t.keyComposite) return keyField(t, row, t.keyFields[0]!);
  return t.keyFields.map((f) => keyField(t, row, f));
}

function keyField(t: CompiledTable, row: Record<string, unknown>, field: string): Key {
  const v = fieldOf(row, field);
  if (v === undefined || v === null) throw invalidRow(t.name, [{ message: `the primary-key field '${field}' is missing`, path: [field] }]);
  checkKeyPart(t.name, field, v, "the primary-key");
  return v as Key;
}

/** The indexed values of a row, or undefined when a field is absent or null (the row is not in the index). */
export function indexTupleOf(ix: CompiledIndex, row: Record<string, unknown>): Key[] | undefined {
  const tuple: Key[] = [];
  for (const f of ix.fields) {
    const v = fieldOf(row, f);
    if (v === undefined || v === null) return undefined;
    checkKeyPart(ix.table, f, v, `index '${ix.name}':`);
    tuple.push(v as Key);
  }
  return tuple;
}

/** The key of an index entry (see the table of namespaces above). */
export function entryKeyOf(ix: CompiledIndex, tuple: readonly Key[], pk: Key): Key {
  if (ix.bare) return tuple[0]!;
  return ix.unique ? tuple : [...tuple, pk];
}

export function entryValueOf(ix: CompiledIndex, pk: Key): unknown {
  return ix.unique ? pk : null;
}

/** The indexed values and primary key an entry stands for. */
export function decodeEntry(ix: CompiledIndex, key: Key, value: unknown): { tuple: readonly Key[]; pk: Key } | undefined {
  if (ix.bare) return { tuple: [key], pk: value as Key };
  if (!Array.isArray(key)) return undefined;
  if (ix.unique) return key.length === ix.fields.length ? { tuple: key, pk: value as Key } : undefined;
  return key.length === ix.fields.length + 1 ? { tuple: key.slice(0, -1), pk: key[key.length - 1] as Key } : undefined;
}

export function describeTuple(ix: CompiledIndex, tuple: readonly Key[]): string {
  return ix.fields.map((f, i) => `${f}=${describeValue(tuple[i])}`).join(", ");
}

function describeValue(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Date) return `Date(${v.toISOString()})`;
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? s.slice(0, 80) + "…" : s;
}
