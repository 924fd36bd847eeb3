/**
 * The table layer in every page format (issue 7: "engine, tables,
 * multi-process, crash tests run with each format"): rows and index entries
 * through checkpoints, reopen and a crash image, and convert() carrying a
 * table with its indexes from one format to the next.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { PageFormatName } from "../src/codec/page_format.ts";
import { convert, memoryIO, open, type Database } from "../src/mod.ts";
import { collect } from "./_helpers/expect.ts";

type User = { id: number; email: string; tenant: string; age: number; joined: Date; tags: Set<string> };
const formats: PageFormatName[] = ["json", "yaml", "xml"];
const options = { key: "id", indexes: { byEmail: { fields: "email", unique: true }, byTenantAge: { fields: ["tenant", "age"] } } } as const;

function user(id: number): User {
  return { id, email: `u${id}@example.com`, tenant: id % 2 === 0 ? "acme" : "yes", age: 20 + (id % 7), joined: new Date(Date.UTC(2026, 0, 1 + id)), tags: new Set(["no", "~", ""]) };
}

/** Every row agrees with both indexes, and the rows are exactly `ids`. */
async function agrees(db: Database, ids: number[]): Promise<void> {
  const users = await db.table<User>("users");
  assert.deepEqual((await collect(users.scan())).map((u) => u.id), ids);
  for (const id of ids) {
    assert.deepEqual(await users.get(id), user(id));
    assert.deepEqual(await users.index("byEmail").get(`u${id}@example.com`), user(id));
  }
  const acme = (await collect(users.index("byTenantAge").scan({ prefix: ["acme"] }))).map((u) => u.id).sort((a, b) => a - b);
  assert.deepEqual(acme, ids.filter((id) => id % 2 === 0));
}

for (const format of formats) {
  describe(`tables on ${format} pages`, () => {
    test("rows and indexes agree through checkpoints, reopen and a crash image", async () => {
      const io = memoryIO();
      const db = await open("/db", { io, format });
      const users = await db.table<User>("users", options);
      for (let id = 1; id <= 40; id++) await users.insert(user(id));
      await db.checkpoint();
      for (let id = 1; id <= 40; id += 3) await users.delete(id);
      await users.update(2, (u) => ({ ...u, email: "two@example.com" }));
      await users.update(2, (u) => ({ ...u, email: "u2@example.com" }));
      const ids = Array.from({ length: 40 }, (_, i) => i + 1).filter((id) => (id - 1) % 3 !== 0);
      await agrees(db, ids);
      const image = io.crash();
      await db.close();
      for (const reopened of [await open("/db", { io }), await open("/db", { io: image })]) {
        await agrees(reopened, ids);
        assert.deepEqual(await reopened.check(), { ok: true, problems: [] });
        await reopened.close();
      }
    });
  });
}

test("convert() carries a table and its indexes through json → yaml → xml → json", async () => {
  const io = memoryIO();
  const db = await open("/a", { io });
  const users = await db.table<User>("users", options);
  for (let id = 1; id <= 25; id++) await users.insert(user(id));
  await db.close();
  const ids = Array.from({ length: 25 }, (_, i) => i + 1);
  let from = "/a";
  for (const [to, format] of [["/b", "yaml"], ["/c", "xml"], ["/d", "json"]] as const) {
    await convert(from, to, { io, format });
    const copy = await open(to, { io, format });
    assert.deepEqual(await copy.tables(), ["users"]);
    await agrees(copy, ids);
    await assert.rejects((await copy.table<User>("users")).insert({ ...user(99), email: "u1@example.com" }), { code: "TXTDB_UNIQUE" });
    await copy.close();
    from = to;
  }
});
