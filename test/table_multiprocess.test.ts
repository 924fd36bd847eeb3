/**
 * Tables across real processes (contract 17, ROW-5, CAT-2), with children
 * running test/_helpers/table_worker.ts in the suite's runtime:
 * two processes committing the same unique value at once (exactly one wins;
 * the other gets ConflictError, and its retry TXTDB_UNIQUE), two processes
 * racing through 100 shared unique values, and a fresh process reading the
 * catalog this one wrote.
 *
 *   tsc -p . && node --test dist/test/table_multiprocess.test.js
 *   deno test -A --quiet test/table_multiprocess.test.ts      bun test test/table_multiprocess.test.ts
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { open } from "../src/mod.ts";
import { runtime, startHelper, type Child } from "./_helpers/runtime.ts";
import { tableProblems } from "./_helpers/table_check.ts";

const tempDirs: string[] = [];
const children: Child[] = [];
after(async () => {
  for (const c of children) c.kill("SIGKILL");
  await Promise.all(children.map((c) => c.exited));
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-table-mp-"));
  tempDirs.push(dir);
  return dir;
}

function worker(dir: string, mode: string, who: string, n?: number): Child {
  const c = startHelper(runtime, "table_worker", [dir, mode, who, ...(n === undefined ? [] : [String(n)])], { stdin: true });
  children.push(c);
  return c;
}

async function json(c: Child, key: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return JSON.parse(await c.line(new RegExp(`^\\{"${key}"`), timeoutMs)) as Record<string, unknown>;
}

const options = { key: "id", indexes: { byEmail: { fields: "email", unique: true } } } as const;

describe("tables across processes", { timeout: 120_000 }, () => {
  test("two processes commit the same unique value at once: exactly one wins; the other gets ConflictError, then TXTDB_UNIQUE on retry", async () => {
    for (let round = 0; round < 3; round++) {
      const dir = tempDir();
      const db = await open(dir);
      await db.table("users", options);
      await db.close();
      const a = worker(dir, "race", "1");
      const b = worker(dir, "race", "2");
      await Promise.all([a.line(/^\{"ready":true/, 30_000), b.line(/^\{"ready":true/, 30_000)]);
      a.write("go");
      b.write("go");
      const [ca, cb] = await Promise.all([json(a, "commit"), json(b, "commit")]);
      const commits = [ca["commit"], cb["commit"]].sort();
      assert.deepEqual(commits, ["TXTDB_CONFLICT", "ok"], `round ${round}: ${JSON.stringify([ca, cb])}`);
      const loser = ca["commit"] === "ok" ? b : a;
      assert.deepEqual(await json(loser, "retry"), { retry: "TXTDB_UNIQUE" });
      await Promise.all([a.exited, b.exited]);
      const check = await open(dir);
      const users = await check.table<{ id: number; email: string }>("users");
      assert.equal(await users.count(), 1);
      assert.equal((await users.index("byEmail").get("same@example.com"))!.id, ca["commit"] === "ok" ? 1 : 2);
      assert.deepEqual(await tableProblems(check, "users"), []);
      await check.close();
    }
  });

  test("two processes racing to insert the same 100 unique values: each value is taken exactly once", async () => {
    const dir = tempDir();
    const db = await open(dir);
    await db.table("users", options);
    await db.close();
    const n = 100;
    const ws = [worker(dir, "loop", "a", n), worker(dir, "loop", "b", n)];
    await Promise.all(ws.map((w) => w.line(/^\{"ready":true/, 30_000)));
    for (const w of ws) w.write("go");
    const results = await Promise.all(ws.map((w) => json(w, "ok")));
    await Promise.all(ws.map((w) => w.exited));
    for (const r of results) assert.deepEqual(r["other"], [], "only TXTDB_UNIQUE refusals");
    assert.equal(results.reduce((s, r) => s + (r["ok"] as number), 0), n, JSON.stringify(results));
    assert.equal(results.reduce((s, r) => s + (r["unique"] as number), 0), n);
    const check = await open(dir);
    const users = await check.table<{ id: string; email: string }>("users");
    assert.equal(await users.count(), n);
    for (let i = 0; i < n; i++) assert.ok((await users.index("byEmail").get(`e${i}@example.com`)) !== undefined);
    assert.deepEqual(await tableProblems(check, "users"), []);
    await check.close();
  });

  test("two processes build the same index over 5,000 rows while a third inserts: the index is ready and agrees with the rows (BLD-4)", async () => {
    const dir = tempDir();
    const db = await open(dir);
    const users = await db.table("users", options);
    await db.transaction(async (tx) => {
      for (let i = 0; i < 5000; i++) await tx.table(users).insert({ id: `seed-${i}`, email: `seed${i}@example.com`, who: `w${i % 10}` });
    });
    await db.close();
    const writer = worker(dir, "loop", "writer", 300);
    await writer.line(/^\{"ready":true/, 30_000);
    writer.write("go");
    const builders = [worker(dir, "build", "b1"), worker(dir, "build", "b2")];
    const built = await Promise.all(builders.map((b) => json(b, "built")));
    const wrote = await json(writer, "ok");
    await Promise.all([...builders, writer].map((c) => c.exited));
    assert.ok(built.every((b) => b["built"] === true));
    assert.deepEqual(wrote, { ok: 300, unique: 0, other: [] });
    const check = await open(dir);
    const t = await check.table<{ id: string; who: string }>("users");
    assert.equal(t.definition().indexes["byWho"]?.state, "ready");
    assert.deepEqual(await tableProblems(check, "users"), []);
    assert.equal(await t.index("byWho").count({ prefix: "writer" }), 300);
    assert.equal(await t.index("byWho").count(), 5300);
    await check.close();
  });

  test("a fresh process opening the database sees the same catalog: db.table(name) without options, tables(), indexes", async () => {
    const dir = tempDir();
    const db = await open(dir);
    const users = await db.table("users", { key: "id", indexes: { byEmail: { fields: "email", unique: true }, byWho: { fields: ["who", "id"] } } });
    await db.table("audit", { key: ["at", "seq"] });
    await users.insert({ id: 1, email: "e1@example.com", who: "me" });
    const definition = users.definition();
    await db.close();
    const c = worker(dir, "catalog", "x");
    const out = await json(c, "tables");
    assert.deepEqual(out, { tables: ["audit", "users"], definition, count: 1, byEmail: { id: 1, email: "e1@example.com", who: "me" } });
  });
});
