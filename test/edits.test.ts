/**
 * Tests of src/engine/edits.ts (db.adoptEdits(), ADOPT-1…5) and
 * src/engine/page_base.ts (BASE-1, BASE-2), in every page format: a hand
 * edit is detected, refused with file and line when invalid, adopted as
 * exactly the rows it changed, conflicts like a transaction, and is
 * adopted while another process commits.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { PageFormatName } from "../src/codec/page_format.ts";
import { joinPath, memoryIO, open, type EditChange, type FileIO, type MemoryIO } from "../src/mod.ts";
import { basePath } from "../src/engine/page_base.ts";
import fc from "fast-check";
import { encodeValue } from "../src/codec/value.ts";
import { pageFormats } from "./_helpers/page_formats.ts";
import { codeOf, collect, errorOf, testSeed } from "./_helpers/expect.ts";
import { runtime, startHelper, type Child } from "./_helpers/runtime.ts";

const formats: PageFormatName[] = ["json", "yaml", "xml"];
const ext = { json: ".json", yaml: ".yaml", xml: ".xml" } as const;

async function pagePath(io: FileIO, dir: string, folder: string, format: PageFormatName): Promise<string> {
  const names = (await io.readdir(joinPath(dir, "pages", folder))).filter((f) => !f.startsWith(".") && f.endsWith(ext[format]));
  assert.equal(names.length, 1, names.join(","));
  return joinPath(dir, "pages", folder, names[0]!);
}

async function edit(io: FileIO, file: string, fn: (text: string) => string): Promise<void> {
  const before = new TextDecoder().decode(await io.readFile(file));
  const after = fn(before);
  assert.notEqual(after, before, "the edit changed the file");
  const f = await io.open(file);
  await f.truncate(0);
  await f.write(0, new TextEncoder().encode(after));
  await f.datasync(); // an editor's save that survives memoryIO().crash()
  await f.close();
}

/** The same edit in each format's layout: bob's balance 5 → 7, carol removed, dave added. */
function editRows(format: PageFormatName, text: string): string {
  if (format === "json") {
    return text.replace('["bob",{"balance":5}]', '["bob",{"balance":7}]').replace(',\n["carol",{"balance":3}]', "").replace(/\n\]\}\n$/, ',\n["dave",{"balance":1}]\n]}\n');
  }
  if (format === "yaml") {
    return text.replace("- key: bob\n  value:\n    balance: 5", "- key: bob\n  value:\n    balance: 7").replace("- key: carol\n  value:\n    balance: 3\n", "") + "- key: dave\n  value:\n    balance: 1\n";
  }
  const row = (k: string, n: number): string => `<entry><key><str>${k}</str></key><value><obj><field name="balance"><num>${n}</num></field></obj></value></entry>\n`;
  return text.replace(row("bob", 5), row("bob", 7)).replace(row("carol", 3), "").replace("</page>", row("dave", 1) + "</page>");
}

async function seeded(format: PageFormatName): Promise<{ io: ReturnType<typeof memoryIO>; file: string }> {
  const io = memoryIO();
  const db = await open("/db", { io, format });
  for (const [k, n] of [["alice", 10], ["bob", 5], ["carol", 3]] as const) await db.put("accounts", k, { balance: n });
  await db.close(); // checkpoints
  return { io, file: await pagePath(io, "/db", "accounts", format) };
}

for (const format of formats) {
  describe(`hand edits of ${format} pages`, () => {
    test("an edited page is refused for reads and reported by check(); adoptEdits() commits exactly the changed rows", async () => {
      const { io, file } = await seeded(format);
      await edit(io, file, (t) => editRows(format, t));
      const db = await open("/db", { io });
      assert.equal(await codeOf(() => db.get("accounts", "alice")), "TXTDB_EDITED");
      const checked = await db.check();
      assert.equal(checked.ok, false);
      assert.ok(checked.problems.some((p) => p.includes(file)), checked.problems.join("\n"));
      const result = await db.adoptEdits();
      assert.deepEqual(result.files, [file]);
      const lines = { json: [3, 4], yaml: [8, 11], xml: [5, 6] }[format];
      assert.deepEqual(result.changes, [
        { namespace: "accounts", key: "bob", deleted: false, value: { balance: 7 }, file, line: lines[0] },
        { namespace: "accounts", key: "carol", deleted: true, file },
        { namespace: "accounts", key: "dave", deleted: false, value: { balance: 1 }, file, line: lines[1] },
      ]);
      assert.equal(typeof result.tsn, "number");
      assert.deepEqual(await db.get("accounts", "alice"), { balance: 10 });
      assert.deepEqual(await db.get("accounts", "bob"), { balance: 7 });
      assert.equal(await db.get("accounts", "carol"), undefined);
      assert.deepEqual(await db.get("accounts", "dave"), { balance: 1 });
      assert.deepEqual(await db.check(), { ok: true, problems: [] });
      // The checkpoint adoptEdits ran wrote the adopted rows into the file, in txtdb's layout.
      const text = new TextDecoder().decode(await io.readFile(file));
      assert.ok(text.includes("dave") && !text.includes("carol"), text);
      await db.close();
      const again = await open("/db", { io: io.crash() });
      assert.deepEqual(await again.get("accounts", "bob"), { balance: 7 });
      assert.deepEqual(await again.check(), { ok: true, problems: [] });
      await again.close();
    });

    test("ADOPT-1: an invalid edit is refused with file, line and reason, and nothing changes", async () => {
      const { io, file } = await seeded(format);
      const broken = format === "json" ? (t: string) => t.replace('["bob",{"balance":5}]', '["bob",{"balance":5}')
        : format === "yaml" ? (t: string) => t.replace("- key: bob\n  value:\n    balance: 5", "- key: bob\n  value:\n    balance: [5")
        : (t: string) => t.replace("<num>5</num>", "<num>5</nm>");
      await edit(io, file, broken);
      const before = await io.readFile(file);
      const db = await open("/db", { io });
      const err = await errorOf(() => db.adoptEdits());
      assert.equal(err.code, "TXTDB_EDITED");
      assert.equal(err.file, file);
      assert.match(err.message, new RegExp(`line \\d+`), err.message);
      assert.deepEqual(await io.readFile(file), before, "the file is left as the person wrote it");
      assert.equal(db.stats().lastTsn, 3, "nothing committed");
      await db.close();
    });

    test("ADOPT-1: keys out of order, a bad value tag and a namespace mismatch name the line", async () => {
      const cases: Array<[string, (t: string) => string, RegExp]> = format === "json" ? [
        ["order", (t) => t.replace('["alice"', '["zed"'), /line 3\b.*order/],
        ["tag", (t) => t.replace('{"balance":5}', '{"$nope":5}'), /line 3\b/],
        ["namespace", (t) => t.replace('"namespace":"accounts"', '"namespace":"other"'), /other/],
      ] : format === "yaml" ? [
        ["order", (t) => t.replace("- key: alice", "- key: zed"), /line 8\b.*order/],
        ["tag", (t) => t.replace("    balance: 5", "    $nope: 5"), /line 8\b/],
        ["namespace", (t) => t.replace("namespace: accounts", "namespace: other"), /other/],
      ] : [
        ["order", (t) => t.replace("<str>alice</str>", "<str>zed</str>"), /line 5\b.*order/],
        ["tag", (t) => t.replace('<field name="balance"><num>5</num>', '<field name="$nope"><num>5</num>'), /line 5\b/],
        ["namespace", (t) => t.replace('namespace="accounts"', 'namespace="other"'), /other/],
      ];
      for (const [label, change, message] of cases) {
        const { io, file } = await seeded(format);
        await edit(io, file, change);
        const db = await open("/db", { io });
        const err = await errorOf(() => db.adoptEdits());
        assert.equal(err.code, "TXTDB_EDITED", label);
        assert.match(err.message, message, `${label}: ${err.message}`);
        assert.equal(db.stats().lastTsn, 3, `${label}: nothing committed`);
        await db.close();
      }
    });

    test("ADOPT-3: a row changed after the page was written conflicts; the file stays edited", async () => {
      const { io, file } = await seeded(format);
      const db = await open("/db", { io });
      await db.put("accounts", "bob", { balance: 6 }); // after the checkpoint; not folded (db stays open)
      await edit(io, file, (t) => editRows(format, t));
      assert.equal(await codeOf(() => db.adoptEdits()), "TXTDB_CONFLICT");
      assert.equal(await codeOf(() => db.get("accounts", "alice")), "TXTDB_EDITED");
      assert.deepEqual(await db.get("accounts", "bob"), { balance: 6 }, "the newer commit stands");
      await db.close().catch(() => {});
    });

    test("ADOPT-3: a transaction begun before the adoption that writes an adopted row loses at commit (first committer wins)", async () => {
      const { io, file } = await seeded(format);
      await edit(io, file, (t) => editRows(format, t));
      const db = await open("/db", { io });
      const tx = await db.begin();
      await tx.put("accounts", "bob", { balance: 99 });
      await tx.put("accounts", "erin", { balance: 2 });
      await db.adoptEdits();
      assert.equal(await codeOf(() => tx.commit()), "TXTDB_CONFLICT");
      assert.deepEqual(await db.get("accounts", "bob"), { balance: 7 });
      assert.equal(await db.get("accounts", "erin"), undefined);
      await db.close();
    });

    test("ADOPT-5: the apply step receives the changes inside the transaction and may write more", async () => {
      const { io, file } = await seeded(format);
      await edit(io, file, (t) => editRows(format, t));
      const db = await open("/db", { io });
      let seen: readonly EditChange[] = [];
      await db.adoptEdits({
        apply: async (tx, changes) => {
          seen = changes;
          assert.deepEqual(await tx.get("accounts", "bob"), { balance: 5 }, "reads see the rows as txtdb wrote them");
          for (const c of changes) await tx.put("audit", [c.namespace, c.key as string], c.deleted ? "deleted" : "changed");
          await tx.put("accounts", "bob", { balance: 70 });
        },
      });
      assert.equal(seen.length, 3);
      assert.equal(await db.get("audit", ["accounts", "carol"]), "deleted");
      assert.deepEqual(await db.get("accounts", "bob"), { balance: 70 });
      await db.close();
    });

    test("ADOPT-6: a crash after the adoption committed but before the file was restored: adopting again commits nothing more", async () => {
      const { io, file } = await seeded(format);
      await edit(io, file, (t) => editRows(format, t));
      const db = await open("/db", { io });
      io.injectFault({ op: "rename", code: "EIO", path: file + ".tmp" });
      assert.equal(await codeOf(() => db.adoptEdits()), "TXTDB_IO");
      io.clearFaults();
      const image = io.crash();
      await db.close().catch(() => {});
      const again = await open("/db", { io: image });
      assert.equal(await codeOf(() => again.get("accounts", "alice")), "TXTDB_EDITED", "the file is still edited");
      const result = await again.adoptEdits();
      assert.deepEqual(result.changes, []);
      assert.equal(result.tsn, null);
      assert.deepEqual(await again.get("accounts", "bob"), { balance: 7 });
      assert.equal(await again.get("accounts", "carol"), undefined);
      assert.deepEqual(await again.get("accounts", "dave"), { balance: 1 });
      assert.deepEqual(await again.check(), { ok: true, problems: [] });
      await again.close();
    });

    test("an adoption failing or crashing at any I/O step leaves the edit adoptable: adopting again ends in the edited rows", async () => {
      for (const op of ["write", "append", "datasync", "rename", "syncDir", "unlink"] as const) {
        for (let skip = 0; skip < 4; skip++) {
          const { io, file } = await seeded(format);
          await edit(io, file, (t) => editRows(format, t));
          const db = await open("/db", { io });
          io.injectFault({ op, code: "EIO", skip });
          await db.adoptEdits().catch(() => {});
          io.clearFaults();
          const image = io.crash();
          await db.close().catch(() => {});
          const again = await open("/db", { io: image });
          await again.adoptEdits();
          const label = `${op} skip ${skip}`;
          assert.deepEqual(await again.get("accounts", "alice"), { balance: 10 }, label);
          assert.deepEqual(await again.get("accounts", "bob"), { balance: 7 }, label);
          assert.equal(await again.get("accounts", "carol"), undefined, label);
          assert.deepEqual(await again.get("accounts", "dave"), { balance: 1 }, label);
          assert.deepEqual(await again.check(), { ok: true, problems: [] }, label);
          await again.close();
        }
      }
    });

    for (const [what, spoil] of [
      ["missing", async (io: MemoryIO, base: string) => io.unlink(base)],
      ["torn (cut short: GZ-1)", async (io: MemoryIO, base: string) => io.open(base).then(async (f) => { await f.truncate(Math.floor((await f.size()) / 2)); await f.close(); })],
      ["not gzip at all", async (io: MemoryIO, base: string) => io.open(base).then(async (f) => { await f.truncate(0); await f.write(0, new TextEncoder().encode("plain text")); await f.close(); })],
    ] as const) {
      test(`BASE-1: with its base copy ${what}, the edit is refused, naming why`, async () => {
        const { io, file } = await seeded(format);
        await spoil(io, basePath(file));
        await edit(io, file, (t) => editRows(format, t));
        const db = await open("/db", { io });
        const err = await errorOf(() => db.adoptEdits());
        assert.equal(err.code, "TXTDB_EDITED");
        assert.match(err.message, /base copy/);
        await db.close();
      });
    }

    test("an edited file over the size bound is refused before it is read", async () => {
      const { io, file } = await seeded(format);
      const f = await io.open(file);
      await f.write(0, new Uint8Array(50 << 20).fill(0x61)); // 50 MB on one line
      await f.close();
      const db = await open("/db", { io });
      const t0 = performance.now();
      const err = await errorOf(() => db.adoptEdits());
      assert.ok(performance.now() - t0 < 1000);
      assert.equal(err.code, "TXTDB_EDITED");
      assert.match(err.message, /bytes/);
      await db.close();
    });
  });
}

describe("adoption against a model (property, every format)", () => {
  for (const format of formats) {
    test(`${format}: random edits of a several-page namespace are adopted exactly; rows committed after the checkpoint and not edited survive`, async () => {
      const seed = testSeed(`edits ${format}`);
      const runs = fc.sample(fc.array(fc.tuple(fc.nat({ max: 399 }), fc.constantFrom("change", "delete", "insert"), fc.string({ maxLength: 6 })), { minLength: 1, maxLength: 30 }), { seed, numRuns: 4 });
      for (const [run, ops] of runs.entries()) {
        const io = memoryIO();
        const db = await open("/db", { io, format });
        const model = new Map<string, unknown>();
        await db.transaction(async (tx) => {
          for (let i = 0; i < 400; i++) {
            const k = `k${String(i).padStart(4, "0")}`;
            const v = { i, pad: "p".repeat(300), s: i % 7 === 0 ? "yes" : "x" };
            await tx.put("ns", k, v);
            model.set(k, v);
          }
        });
        await db.checkpoint();
        await db.put("ns", "k0005", "committed later"); // not folded: the page still holds the old row
        model.set("k0005", "committed later");
        const folder = joinPath("/db", "pages", "ns");
        const files = (await io.readdir(folder)).filter((f) => !f.startsWith(".")).sort();
        assert.ok(files.length >= 2, `several pages (${files.length})`);
        const fmt = pageFormats[format]!;
        for (const name of files) {
          const file = joinPath(folder, name);
          const page = fmt.decode(new TextDecoder().decode(await io.readFile(file)), file);
          let entries = page.entries.map(([k, v]) => ({ key: k, valueText: JSON.stringify(v) }));
          for (const [at, op, text] of ops) {
            const e = entries[at % Math.max(1, entries.length)];
            if (e === undefined || e.key === "k0005") continue;
            const k = e.key as string;
            if (op === "change") {
              e.valueText = encodeValue({ edited: text, run });
              model.set(k, { edited: text, run });
            } else if (op === "delete") {
              entries = entries.filter((x) => x !== e);
              model.delete(k);
            } else if (!entries.some((x) => x.key === k + "x")) {
              entries.splice(entries.indexOf(e) + 1, 0, { key: k + "x", valueText: encodeValue([text]) });
              model.set(k + "x", [text]);
            }
          }
          const f = await io.open(file);
          await f.truncate(0);
          await f.write(0, new TextEncoder().encode(fmt.encode("ns", entries)));
          await f.close();
        }
        await db.adoptEdits();
        const tx = await db.begin({ readOnly: true });
        const rows = await collect(tx.scan("ns"));
        await tx.rollback();
        assert.deepEqual(rows.map(([k]) => k), [...model.keys()].sort(), `run ${run}: keys`);
        for (const [k, v] of rows) assert.deepEqual(v, model.get(k as string), `run ${run}: ${String(k)}`);
        assert.deepEqual(await db.check(), { ok: true, problems: [] });
        await db.close();
      }
    });
  }
});

describe("adopting an edit while another process commits", () => {
  const dirs: string[] = [];
  const children: Child[] = [];
  after(() => {
    for (const c of children) c.kill("SIGKILL");
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  for (const format of formats) {
    test(`${format}: the adoption commits between the other process's commits; both see it; nothing is lost`, { timeout: 60_000 }, async () => {
      const base = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-edits-"));
      dirs.push(base);
      const dir = path.join(base, "db");
      const db = await open(dir, { format });
      for (const [k, n] of [["alice", 10], ["bob", 5], ["carol", 3]] as const) await db.put("accounts", k, { balance: n });
      await db.checkpoint();
      const child = startHelper(runtime, "mp_worker", [dir, JSON.stringify({ format })], { stdin: true });
      children.push(child);
      await child.line(/^\{"ready":true/, 30_000);
      child.write(JSON.stringify({ id: 1, op: "commitLoop", ns: "accounts", key: "zz-loop" }));
      await child.line(/"loop":5\b/, 30_000);
      const io = (await import("../src/io/native_io.ts")).nativeIO();
      const file = await pagePath(io, dir, "accounts", format);
      await edit(io, file, (t) => editRows(format, t));
      const result = await db.adoptEdits();
      assert.equal(result.changes.length, 3);
      await child.line(new RegExp(`"loop":${10}\\b`), 30_000); // the other process keeps committing
      assert.deepEqual(await db.get("accounts", "bob"), { balance: 7 });
      child.write(JSON.stringify({ id: 2, op: "get", ns: "accounts", key: "dave" }));
      const reply = JSON.parse(await child.line(/^\{"id":2/, 30_000)) as { ok: boolean; result: unknown };
      assert.deepEqual(reply, { id: 2, ok: true, result: { balance: 1 } });
      child.kill("SIGKILL");
      await child.exited;
      assert.deepEqual(await db.check(), { ok: true, problems: [] });
      const loop = (await db.get("accounts", "zz-loop")) as number;
      assert.ok(loop >= 10, `the loop committed ${loop}`);
      await db.close();
      const again = await open(dir);
      assert.deepEqual(await again.get("accounts", "dave"), { balance: 1 });
      assert.equal(await again.get("accounts", "carol"), undefined);
      assert.deepEqual(await again.check(), { ok: true, problems: [] });
      await again.close();
    });
  }
});
