/**
 * Tests of src/table/adopt.ts (TADOPT-1): a hand edit of a table's page is
 * adopted through the table layer — indexes follow the edited rows, a row
 * that breaks a unique index or the validator is refused naming the file and
 * line with nothing committed, and index pages cannot be edited.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { joinPath, memoryIO, open, type FileIO, type MemoryIO } from "../src/mod.ts";
import { errorOf } from "./_helpers/expect.ts";

type User = { id: number; email: string; age: number };

async function pageOf(io: FileIO, folder: string): Promise<string> {
  const names = (await io.readdir(joinPath("/db", "pages", folder))).filter((f) => !f.startsWith(".") && f.endsWith(".json"));
  assert.equal(names.length, 1, names.join(","));
  return joinPath("/db", "pages", folder, names[0]!);
}

async function edit(io: FileIO, file: string, from: string, to: string): Promise<void> {
  const text = new TextDecoder().decode(await io.readFile(file));
  assert.ok(text.includes(from), `${file} holds ${from}:\n${text}`);
  const f = await io.open(file);
  await f.truncate(0);
  await f.write(0, new TextEncoder().encode(text.replace(from, to)));
  await f.close();
}

async function seeded(): Promise<MemoryIO> {
  const io = memoryIO();
  const db = await open("/db", { io });
  const users = await db.table<User>("users", { key: "id", indexes: { byEmail: { fields: "email", unique: true }, byAge: { fields: "age" } } });
  await users.insert({ id: 1, email: "ann@example.com", age: 30 });
  await users.insert({ id: 2, email: "bob@example.com", age: 40 });
  await db.close(); // checkpoints: the rows are in page files
  return io;
}

test("an edited table row is adopted with its index entries: the old email is gone, the new one finds the row", async () => {
  const io = await seeded();
  await edit(io, await pageOf(io, "users"), '"email":"ann@example.com"', '"email":"anna@example.com"');
  const db = await open("/db", { io });
  const result = await db.adoptEdits();
  assert.equal(result.changes.length, 1);
  const users = await db.table<User>("users");
  assert.deepEqual(await users.get(1), { id: 1, email: "anna@example.com", age: 30 });
  assert.deepEqual(await users.index("byEmail").get("anna@example.com"), { id: 1, email: "anna@example.com", age: 30 });
  assert.equal(await users.index("byEmail").get("ann@example.com"), undefined);
  assert.deepEqual((await db.check()).ok, true);
  await db.close();
});

test("an edit that duplicates a unique value is refused with TXTDB_UNIQUE naming file and line; nothing is committed", async () => {
  const io = await seeded();
  const file = await pageOf(io, "users");
  await edit(io, file, '"email":"bob@example.com"', '"email":"ann@example.com"');
  const db = await open("/db", { io });
  const before = db.stats().lastTsn;
  const err = await errorOf(() => db.adoptEdits());
  assert.equal(err.code, "TXTDB_UNIQUE");
  assert.equal(err.file, file);
  assert.match(err.message, /line \d+/);
  assert.equal(db.stats().lastTsn, before, "no transaction committed");
  await db.close();
});

test("an edit whose key does not match the row's primary key field is refused; an index page edit is TXTDB_SCHEMA", async () => {
  const io = await seeded();
  await edit(io, await pageOf(io, "users"), '"id":2', '"id":3');
  const db = await open("/db", { io });
  assert.equal((await errorOf(() => db.adoptEdits())).code, "TXTDB_INVALID_VALUE");
  await db.close();

  const io2 = await seeded();
  await edit(io2, await pageOf(io2, "users%2EbyAge"), "40", "41");
  const db2 = await open("/db", { io: io2 });
  assert.equal((await errorOf(() => db2.adoptEdits())).code, "TXTDB_SCHEMA");
  await db2.close();
});
