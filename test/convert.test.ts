/**
 * Tests of src/convert.ts: CONV-1 (one snapshot), CONV-2 (a new destination,
 * progress, pages in the new format), CONV-3 (every namespace and row, every
 * value type), through every pair of formats.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { encodeKey, type Key } from "../src/codec/key.ts";
import { encodeValue } from "../src/codec/value.ts";
import { convert, joinPath, memoryIO, open, type ConvertProgress, type Database, type PageFormatName } from "../src/mod.ts";
import { codeOf, collect } from "./_helpers/expect.ts";
import { trickyStrings } from "./_helpers/arbitraries.ts";

async function dump(db: Database): Promise<string[]> {
  const tx = await db.begin({ readOnly: true });
  const out: string[] = [];
  for (const ns of await tx.namespaces()) for (const [k, v] of await collect(tx.scan(ns))) out.push(`${JSON.stringify(ns)} ${JSON.stringify([...encodeKey(k)].map((c) => c.charCodeAt(0)))} ${encodeValue(v)}`);
  await tx.rollback();
  return out;
}

const formats: PageFormatName[] = ["json", "yaml", "xml"];

describe("convert()", () => {
  test("copies every namespace, row and value type through json → yaml → xml → json, with progress", async () => {
    const io = memoryIO();
    const db = await open("/json", { io });
    await db.transaction(async (tx) => {
      for (let i = 0; i < 2500; i++) await tx.put("rows", i, { i, s: trickyStrings[i % trickyStrings.length] });
      await tx.put("types", ["k", 1n, new Date(0), new Uint8Array([1])] as Key, { m: new Map([[1, new Set([undefined, -0, NaN])]]), big: 2n ** 70n });
      await tx.put("__proto__", "yes", JSON.parse('{"__proto__":{"x":1}}'));
    });
    const expected = await dump(db);
    await db.close();
    let from = "/json";
    for (const format of ["yaml", "xml", "json"] as const) {
      const to = `/${format}-copy`;
      const progress: ConvertProgress[] = [];
      const result = await convert(from, to, { format, io, batchRows: 1000, onProgress: (p) => progress.push(p) });
      assert.equal(result.rows, 2502);
      assert.equal(result.namespaces, 3);
      assert.ok(progress.length >= 5, `progress reported ${progress.length} times`);
      assert.equal(progress.at(-1)!.rows, 2502);
      assert.ok(progress.every((p, i) => i === 0 || p.rows >= progress[i - 1]!.rows));
      const copy = await open(to, { io, format });
      assert.deepEqual(await dump(copy), expected, `${from} → ${to}`);
      assert.deepEqual(await copy.check(), { ok: true, problems: [] });
      await copy.close();
      const folders = await io.readdir(joinPath(to, "pages"));
      for (const folder of folders) for (const f of await io.readdir(joinPath(to, "pages", folder))) if (!f.startsWith(".")) assert.ok(f.endsWith("." + format), f);
      from = to;
    }
  });

  test("CONV-1: the copy is one snapshot even while another handle commits", async () => {
    const io = memoryIO();
    const db = await open("/src", { io });
    for (let i = 0; i < 3000; i++) await db.put("n", i, 0);
    let writes = 0;
    const convertDone = convert("/src", "/dst", {
      format: "yaml", io, batchRows: 100,
      onProgress: () => void db.put("n", 2999 - writes++, 1),
    });
    const result = await convertDone;
    const copy = await open("/dst", { io });
    const tx = await copy.begin({ readOnly: true });
    const values = (await collect(tx.scan("n"))).map(([, v]) => v);
    await tx.rollback();
    assert.ok(writes > 10);
    assert.equal(values.length, 3000);
    assert.ok(values.every((v) => v === 0), "no write after the snapshot leaked into the copy");
    assert.ok(result.snapshotTsn <= 3000);
    await copy.close();
    await db.close();
  });

  test("CONV-2: an existing destination is TXTDB_EXISTS and a missing source TXTDB_NOT_FOUND; nothing is written", async () => {
    const io = memoryIO();
    for (const d of ["/a", "/b"]) {
      const db = await open(d, { io });
      await db.put("n", 1, 1);
      await db.close();
    }
    assert.equal(await codeOf(() => convert("/a", "/b", { format: "xml", io })), "TXTDB_EXISTS");
    assert.equal(await codeOf(() => convert("/none", "/c", { format: "xml", io })), "TXTDB_NOT_FOUND");
    assert.equal(await io.stat("/c"), undefined);
    for (const format of formats) assert.equal(await codeOf(() => convert("/a", `/x-${format}`, { format, io, batchRows: 0 })), "TXTDB_INVALID_ARGUMENT");
  });
});
