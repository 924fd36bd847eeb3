/**
 * Tests of src/codec/page_formats.ts — every registered format end to end,
 * through the engine: put, delete, scan, checkpoint (split pages), reopen,
 * crash recovery with memoryIO(), check(), and the files on disk being in
 * the database's format. Random operations are checked against a model;
 * replay with TXTDB_SEED=<n>.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeKey, type Key } from "../src/codec/key.ts";
import { encodeValue } from "../src/codec/value.ts";
import { pageFormats } from "./_helpers/page_formats.ts";
import type { PageFormatName } from "../src/codec/page_format.ts";
import { joinPath, memoryIO, open, type Database, type MemoryIO } from "../src/mod.ts";
import { keyArb, valueArb } from "./_helpers/arbitraries.ts";
import { collect, testSeed } from "./_helpers/expect.ts";

const seed = testSeed("page_formats");
const formats = Object.keys(pageFormats) as PageFormatName[];

type Model = Map<string, Map<string, [Key, string]>>;

async function assertMatches(db: Database, model: Model, label: string): Promise<void> {
  for (const [ns, rows] of model) {
    const expected = [...rows].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, [k, v]]) => [encodeKey(k), v]);
    const tx = await db.begin({ readOnly: true });
    const scanned = (await collect(tx.scan(ns))).map(([k, v]) => [encodeKey(k), encodeValue(v)]);
    await tx.rollback();
    assert.deepEqual(scanned, expected, `${label}: scan of ${JSON.stringify(ns)}`);
    for (const [, [k, v]] of rows) assert.equal(encodeValue(await db.get(ns, k)), v, `${label}: get`);
  }
}

async function pageFiles(io: MemoryIO, dir: string): Promise<string[]> {
  const out: string[] = [];
  const root = joinPath(dir, "pages");
  if ((await io.stat(root)) === undefined) return out;
  for (const folder of await io.readdir(root)) {
    for (const f of await io.readdir(joinPath(root, folder))) if (!f.startsWith(".")) out.push(joinPath(root, folder, f));
  }
  return out;
}

for (const format of formats) {
  describe(`a ${format} database end to end`, () => {
    test("random puts, deletes and scans match a model across checkpoints, reopen and a crash", async () => {
      const opArb = fc.oneof(
        { weight: 4, arbitrary: fc.tuple(fc.constant("put" as const), fc.constantFrom("a", "b", "yes", "__proto__"), keyArb, valueArb) },
        { weight: 1, arbitrary: fc.tuple(fc.constant("del" as const), fc.constantFrom("a", "b", "yes", "__proto__"), keyArb, fc.constant(null)) },
      );
      const batches = fc.sample(fc.array(fc.array(opArb, { minLength: 1, maxLength: 12 }), { minLength: 6, maxLength: 6 }), { seed, numRuns: 1 })[0]!;
      let io = memoryIO();
      let db = await open("/db", { io, format });
      const model: Model = new Map();
      const known: Array<[string, Key]> = [];
      for (const [n, batch] of batches.entries()) {
        await db.transaction(async (tx) => {
          for (const [op, ns, key, value] of batch) {
            const rows = model.get(ns) ?? new Map<string, [Key, string]>();
            model.set(ns, rows);
            // Deletes mostly hit keys that exist.
            const [dns, dkey] = op === "del" && known.length > 0 ? known[Math.abs(encodeKey(key).length * 7919) % known.length]! : [ns, key];
            if (op === "put") {
              await tx.put(ns, key, value);
              rows.set(encodeKey(key), [key, encodeValue(value)]);
              known.push([ns, key]);
            } else {
              await tx.delete(dns, dkey);
              model.get(dns)?.delete(encodeKey(dkey));
            }
          }
        }, { retries: 0 });
        if (n === 1 || n === 3) await db.checkpoint();
        if (n === 2) {
          await db.close();
          db = await open("/db", { io });
        }
        if (n === 4) {
          io = io.crash(); // everything committed was datasync'd
          db = await open("/db", { io, format });
        }
        await assertMatches(db, model, `after batch ${n}`);
      }
      await db.close();
      db = await open("/db", { io, format });
      await assertMatches(db, model, "after close and reopen");
      assert.deepEqual(await db.check(), { ok: true, problems: [] });
      const files = await pageFiles(io, "/db");
      assert.ok(files.length > 0);
      for (const f of files) {
        assert.ok(f.endsWith(pageFormats[format]!.extension), f);
        pageFormats[format]!.decode(new TextDecoder().decode(await io.readFile(f)), f); // parses in its format
      }
      await db.close();
    });

    test("a namespace large enough to split into several pages reads back after checkpoint and reopen", async () => {
      const io = memoryIO();
      let db = await open("/db", { io, format });
      await db.transaction(async (tx) => {
        for (let i = 0; i < 600; i++) await tx.put("big", i, { i, text: `row ${i} with\nline breaks & <markup> and 'quotes'`, pad: "x".repeat(200) });
      });
      await db.checkpoint();
      await db.delete("big", 300);
      await db.put("big", 301, "changed");
      await db.close();
      db = await open("/db", { io, format });
      assert.ok((await pageFiles(io, "/db")).length > 1, "split into several pages");
      const tx = await db.begin({ readOnly: true });
      const rows = await collect(tx.scan("big"));
      await tx.rollback();
      assert.equal(rows.length, 599);
      assert.equal(await db.get("big", 301), "changed");
      assert.equal(await db.get("big", 300), undefined);
      assert.deepEqual(await db.get("big", 599), { i: 599, text: "row 599 with\nline breaks & <markup> and 'quotes'", pad: "x".repeat(200) });
      assert.deepEqual(await db.check(), { ok: true, problems: [] });
      await db.close();
    });

    test("a checkpoint that fails or crashes at any step recovers in this format", async () => {
      for (const op of ["write", "datasync", "rename", "syncDir"] as const) {
        for (let skip = 0; skip < 6; skip++) {
          const io = memoryIO();
          const db = await open("/db", { io, format });
          for (let i = 0; i < 50; i++) await db.put("n", i, { i });
          await db.checkpoint();
          for (let i = 0; i < 50; i += 2) await db.put("n", i, { i, v: 2 });
          await db.delete("n", 7);
          io.injectFault({ op, code: "EIO", skip, path: /pages|manifest/ });
          await db.checkpoint().catch(() => {});
          io.clearFaults();
          const after = io.crash();
          await db.close().catch(() => {});
          const again = await open("/db", { io: after, format });
          for (let i = 0; i < 50; i++) assert.deepEqual(await again.get("n", i), i === 7 ? undefined : i % 2 === 0 ? { i, v: 2 } : { i }, `${op} ${skip}, key ${i}`);
          assert.deepEqual(await again.check(), { ok: true, problems: [] });
          await again.close();
        }
      }
    });
  });
}

test("YAML and XML load on first use: loadPageFormat gives each format by name, undefined for an unknown one", async () => {
  const { loadPageFormat, isPageFormatName } = await import("../src/codec/page_formats.ts");
  for (const name of Object.keys(pageFormats) as PageFormatName[]) assert.equal(await loadPageFormat(name), pageFormats[name]);
  assert.equal(await loadPageFormat("toml"), undefined);
  assert.equal(isPageFormatName("__proto__"), false);
});
