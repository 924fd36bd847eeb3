/**
 * Table/index agreement, checked from the outside (through the engine's
 * public API only): every ready index of a table holds exactly the entries
 * its rows imply (schema.ts layout), and a building one holds no entry that
 * does not name a row carrying its values.
 */
import { encodeKey, type Key } from "../../src/codec/key.ts";
import type { Database } from "../../src/engine/database.ts";
import type { TableDefinition } from "../../src/table/schema.ts";

const catalog = "txtdb.tables";

function entriesOf(def: TableDefinition, ixName: string, rows: Array<[Key, Record<string, unknown>]>): Map<string, unknown> {
  const ix = def.indexes[ixName]!;
  const fields = typeof ix.fields === "string" ? [ix.fields] : ix.fields;
  const out = new Map<string, unknown>();
  for (const [pk, row] of rows) {
    const tuple = fields.map((f) => row[f]);
    if (tuple.some((v) => v === undefined || v === null)) continue;
    const key = ix.unique ? (typeof ix.fields === "string" ? tuple[0] : tuple) : [...tuple, pk];
    const enc = encodeKey(key);
    if (out.has(enc)) throw new Error(`rows ${JSON.stringify(out.get(enc))} and ${String(pk)} share unique index '${ixName}' value`);
    out.set(enc, ix.unique ? pk : null);
  }
  return out;
}

/** Problems found (empty: consistent), at one snapshot. */
export async function tableProblems(db: Database, table: string): Promise<string[]> {
  const tx = await db.begin({ readOnly: true });
  try {
    const def = (await tx.get(catalog, table)) as TableDefinition | undefined;
    if (def === undefined) return [`no catalog entry for '${table}'`];
    const rows: Array<[Key, Record<string, unknown>]> = [];
    for await (const [k, v] of tx.scan(table)) rows.push([k, v as Record<string, unknown>]);
    const problems: string[] = [];
    const keyFields = typeof def.key === "string" ? [def.key] : def.key;
    for (const [pk, row] of rows) {
      const want = typeof def.key === "string" ? row[def.key] : keyFields.map((f) => row[f]);
      if (encodeKey(want as Key) !== encodeKey(pk)) problems.push(`row ${String(pk)} stored under another key than its fields'`);
    }
    for (const [name, ix] of Object.entries(def.indexes)) {
      let expected: Map<string, unknown>;
      try {
        expected = entriesOf(def, name, rows);
      } catch (err) {
        if (ix.state === "building") continue; // a build that will fail (BLD-3)
        problems.push(String(err));
        continue;
      }
      const actual = new Map<string, unknown>();
      for await (const [k, v] of tx.scan(`${table}.${name}`)) actual.set(encodeKey(k), v);
      for (const [enc, v] of actual) {
        if (!expected.has(enc)) problems.push(`index '${name}' (${ix.state}) has an entry no row implies: ${JSON.stringify(String(v))}`);
        else if (encodeKey((expected.get(enc) ?? 0) as Key) !== encodeKey((v ?? 0) as Key)) problems.push(`index '${name}' entry names the wrong row`);
      }
      if (ix.state === "ready") {
        for (const enc of expected.keys()) if (!actual.has(enc)) problems.push(`index '${name}' lacks an entry of a row`);
      }
    }
    return problems;
  } finally {
    await tx.rollback();
  }
}
