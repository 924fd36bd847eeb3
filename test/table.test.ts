/**
 * The table layer (src/table/): the API of issue 6, schema changes (SCH-*,
 * CAT-*), validation (VAL-*), the write path (ROW-*), index reads (IDX-*),
 * index builds (BLD-*), key types round-tripping through keys and indexes
 * (property tests), and table/index agreement after random transactions
 * (model-based). Property tests print their seed; replay with TXTDB_SEED=<n>.
 * TXTDB_SOAK=1 runs longer variants.
 *
 *   tsc -p . && node --test dist/test/table.test.js
 *   deno test -A --quiet test/table.test.ts      bun test test/table.test.ts
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import fc from "fast-check";
import {
  applyRowChange, ConflictError, memoryIO, open, TxtDbError, ValidationError, type Database, type Key, type StandardSchemaV1, type Transaction,
} from "../src/mod.ts";
import { compareKeys, encodeKey } from "../src/codec/key.ts";
import { keySuccessor } from "../src/table/index.ts";
import { runtime } from "./_helpers/runtime.ts";
import { codeOf, collect, errorOf, testSeed } from "./_helpers/expect.ts";
import { tableProblems } from "./_helpers/table_check.ts";

const seed = testSeed("table");
const soak = process.env["TXTDB_SOAK"] === "1";

type User = { id: number; email: string; name: string; age: number; tenant: string };

async function fresh(): Promise<Database> {
  return open("/db", { io: memoryIO(), random: () => 0 });
}

const userTable = { key: "id", indexes: { byEmail: { fields: "email", unique: true }, byTenantAge: { fields: ["tenant", "age"] } } } as const;

function user(id: number, over: Partial<User> = {}): User {
  return { id, email: `u${id}@example.com`, name: `user ${id}`, age: 20 + (id % 30), tenant: id % 2 === 0 ? "acme" : "beta", ...over };
}

/** Every key and value of the database, for "nothing changed" checks. */
async function dump(db: Database): Promise<string> {
  const tx = await db.begin({ readOnly: true });
  try {
    const out: unknown[] = [];
    for (const ns of await db.namespaces()) out.push(ns, (await collect(tx.scan(ns))).map(([k, v]) => [encodeKey(k), v]));
    return JSON.stringify(out, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
  } finally {
    await tx.rollback();
  }
}

async function consistent(db: Database, table: string): Promise<void> {
  assert.deepEqual(await tableProblems(db, table), [], `table '${table}' and its indexes disagree`);
}

// ---------------------------------------------------------------------------

describe("the table API (issue 6)", () => {
  test("insert, get, put, update, delete, count, scan in primary-key order", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", userTable);
    for (const id of [3, 1, 2]) assert.deepEqual(await users.insert(user(id)), user(id));
    assert.deepEqual(await users.get(1), user(1));
    assert.equal(await users.get("1" as unknown as number), undefined, "TBL-4: the string '1' is another key than the number 1");
    assert.deepEqual(await users.put(user(1, { name: "Ada" })), user(1, { name: "Ada" }));
    assert.equal((await users.get(1))!.name, "Ada");
    assert.deepEqual(await users.update(2, (r) => ({ ...r, age: r.age + 1 })), user(2, { age: user(2).age + 1 }));
    assert.equal(await users.count(), 3);
    assert.deepEqual((await collect(users.scan())).map((r) => r.id), [1, 2, 3]);
    assert.deepEqual((await collect(users.scan({ gt: 1, reverse: true }))).map((r) => r.id), [3, 2]);
    assert.deepEqual((await collect(users.scan({ limit: 2 }))).map((r) => r.id), [1, 2]);
    assert.equal(await users.delete(2), true);
    assert.equal(await users.delete(2), false);
    assert.equal(await users.count(), 2);
    await consistent(db, "users");
    await db.close();
  });

  test("insert of an existing primary key is TXTDB_DUPLICATE_KEY; update of an absent one TXTDB_NOT_FOUND; both write nothing", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", userTable);
    await users.insert(user(1));
    const before = await dump(db);
    assert.equal(await codeOf(() => users.insert(user(1, { email: "other@example.com" }))), "TXTDB_DUPLICATE_KEY");
    assert.equal(await codeOf(() => users.update(9, (r) => r)), "TXTDB_NOT_FOUND");
    assert.equal(await codeOf(() => users.update(1, (r) => ({ ...r, id: 2 }))), "TXTDB_INVALID_ARGUMENT", "update() cannot move a row");
    assert.equal(await dump(db), before);
    await db.close();
  });

  test("a unique index refuses a taken value with TXTDB_UNIQUE naming the index and the value; the row's own value is no conflict", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", userTable);
    await users.insert(user(1, { email: "ada@example.com" }));
    const before = await dump(db);
    const err = await errorOf(() => users.insert(user(2, { email: "ada@example.com" })));
    assert.equal(err.code, "TXTDB_UNIQUE");
    assert.match(err.message, /byEmail/);
    assert.match(err.message, /ada@example\.com/);
    assert.equal(await codeOf(() => users.put(user(2, { email: "ada@example.com" }))), "TXTDB_UNIQUE");
    assert.equal(await dump(db), before, "nothing written");
    await users.put(user(1, { email: "ada@example.com", name: "same email, same row" }));
    // A freed value can be taken.
    await users.update(1, (r) => ({ ...r, email: "ada2@example.com" }));
    await users.insert(user(2, { email: "ada@example.com" }));
    assert.equal((await users.index("byEmail").get("ada@example.com"))!.id, 2);
    assert.equal((await users.index("byEmail").get("ada2@example.com"))!.id, 1);
    await consistent(db, "users");
    await db.close();
  });

  test("index reads: unique get, composite prefix and bounds, reverse, limit, counts", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", userTable);
    await db.transaction(async (tx) => {
      const t = tx.table(users);
      for (let id = 1; id <= 40; id++) await t.insert(user(id));
    });
    assert.deepEqual(await users.index("byEmail").get("u7@example.com"), user(7));
    assert.equal(await users.index("byEmail").get("nobody@example.com"), undefined);
    const acme = await collect(users.index("byTenantAge").scan({ prefix: ["acme"], gte: ["acme", 25], lt: ["acme", 35] }));
    const expected = Array.from({ length: 40 }, (_, i) => user(i + 1)).filter((u) => u.tenant === "acme" && u.age >= 25 && u.age < 35)
      .sort((a, b) => a.age - b.age || a.id - b.id);
    assert.deepEqual(acme, expected);
    const rev = await collect(users.index("byTenantAge").scan({ prefix: ["acme"], gte: ["acme", 25], lt: ["acme", 35], reverse: true, limit: 3 }));
    assert.deepEqual(rev, [...expected].reverse().slice(0, 3));
    const afterAcme = await collect(users.index("byTenantAge").scan({ gt: ["acme"] }));
    assert.ok(afterAcme.length === 20 && afterAcme.every((u) => u.tenant === "beta"), "gt: ['acme'] starts after every acme row");
    const throughAcme = await collect(users.index("byTenantAge").scan({ lte: ["acme"] }));
    assert.ok(throughAcme.length === 20 && throughAcme.every((u) => u.tenant === "acme"), "lte: ['acme'] ends after every acme row");
    assert.equal(await users.index("byTenantAge").count({ prefix: ["beta", 21] }), Array.from({ length: 40 }, (_, i) => user(i + 1)).filter((u) => u.tenant === "beta" && u.age === 21).length);
    assert.equal(await codeOf(() => users.index("byTenantAge").get(["acme", 20])), "TXTDB_INVALID_ARGUMENT", "get() is for unique indexes");
    assert.equal(await codeOf(() => collect(users.index("byTenantAge").scan({ gte: "acme" }))), "TXTDB_INVALID_ARGUMENT", "a composite bound is an array");
    assert.equal(await codeOf(() => users.index("nope").get(1)), "TXTDB_NOT_FOUND");
    await db.close();
  });

  test("inside a transaction: reads see its own writes, nothing shows until commit, rollback leaves no row and no entry", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", userTable);
    const tx = await db.begin();
    const t = tx.table(users);
    await t.insert(user(1));
    assert.deepEqual(await t.get(1), user(1));
    assert.deepEqual(await t.index("byEmail").get("u1@example.com"), user(1));
    assert.equal(await users.get(1), undefined, "not visible outside before commit");
    await tx.rollback();
    assert.equal(await users.index("byEmail").get("u1@example.com"), undefined);
    assert.equal(await users.count(), 0);
    await db.transaction(async (tx2) => {
      await tx2.table(users).insert(user(1));
      await tx2.table(users).update(1, (r) => ({ ...r, email: "x@example.com" }));
      // update()'s function may itself use the transaction (it runs outside the queue of row changes)
      await tx2.table(users).update(1, async (r) => {
        await tx2.table(users).put(user(50));
        return { ...r, name: "nested" };
      });
      await tx2.table(users).update(1, (r) => ({ ...r, name: "user 1" }));
    });
    assert.deepEqual(await users.get(50), user(50));
    assert.deepEqual(await users.index("byEmail").get("x@example.com"), user(1, { email: "x@example.com" }));
    await consistent(db, "users");
    await db.close();
  });

  test("concurrent calls on one transaction are applied one at a time (ROW-4)", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", userTable);
    await db.transaction(async (tx) => {
      const t = tx.table(users);
      await Promise.all(Array.from({ length: 50 }, (_, i) => t.put(user(i % 10, { email: `e${i % 10}@x`, age: i }))));
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => t.insert(user(100 + i, { email: "same@x" }))));
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1, "exactly one row takes the unique value");
    });
    await consistent(db, "users");
    await db.close();
  });

  test("two transactions inserting the same unique value: the later committer gets ConflictError, its retry TXTDB_UNIQUE (contract 17)", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", userTable);
    const a = await db.begin();
    const b = await db.begin();
    await a.table(users).insert(user(1, { email: "same@x" }));
    await b.table(users).insert(user(2, { email: "same@x" }));
    await a.commit();
    await assert.rejects(b.commit(), (err: unknown) => err instanceof ConflictError);
    assert.equal(await codeOf(() => users.insert(user(2, { email: "same@x" }))), "TXTDB_UNIQUE");
    // Same through db.transaction: its retry ends in TXTDB_UNIQUE.
    let attempts = 0;
    const racing = db.begin();
    const other = await racing;
    await other.table(users).insert(user(3, { email: "race@x" }));
    const err = await errorOf(() => db.transaction(async (tx) => {
      attempts++;
      await tx.table(users).insert(user(4, { email: "race@x" }));
      if (attempts === 1) await other.commit();
    }));
    assert.equal(err.code, "TXTDB_UNIQUE");
    assert.equal(attempts, 2);
    await consistent(db, "users");
    await db.close();
  });

  test("composite primary keys and typed keys: [tenant, id] round-trips with its types", async () => {
    const db = await fresh();
    type Order = { tenant: string; id: bigint; at: Date; total: number };
    const orders = await db.table<Order>("orders", { key: ["tenant", "id"], indexes: { byAt: { fields: "at" } } });
    const o = { tenant: "acme", id: 17n, at: new Date(5000), total: 9.5 };
    await orders.insert(o);
    await orders.insert({ ...o, id: 18n, at: new Date(4000) });
    await orders.insert({ ...o, tenant: "beta", id: 1n });
    assert.deepEqual(await orders.get(["acme", 17n]), o);
    assert.equal(await orders.get(["acme", 17]), undefined, "17 is not 17n");
    assert.deepEqual((await collect(orders.scan({ prefix: ["acme"] }))).map((r) => r.id), [17n, 18n]);
    assert.deepEqual((await collect(orders.index("byAt").scan({ lt: new Date(5000) }))).map((r) => r.id), [18n]);
    await consistent(db, "orders");
    await db.close();
  });
});

// ---------------------------------------------------------------------------

describe("catalog and schema changes (CAT-*, SCH-*, BLD-*)", () => {
  test("db.table(name) without options: the stored definition; unknown → TXTDB_NOT_FOUND; tables() lists; dropTable removes everything", async () => {
    const io = memoryIO();
    const db = await open("/db", { io });
    assert.equal(await codeOf(() => db.table("users")), "TXTDB_NOT_FOUND");
    const users = await db.table<User>("users", userTable);
    await users.insert(user(1));
    await db.table("audit", { key: ["at", "seq"] });
    assert.deepEqual(await db.tables(), ["audit", "users"]);
    await db.close();
    const again = await open("/db", { io });
    const reopened = await again.table<User>("users");
    assert.deepEqual(reopened.definition(), users.definition());
    assert.equal(reopened.key, "id");
    assert.deepEqual(await reopened.index("byEmail").get("u1@example.com"), user(1));
    assert.equal(await again.dropTable("users"), true);
    assert.equal(await again.dropTable("users"), false);
    assert.deepEqual(await again.tables(), ["audit"]);
    assert.deepEqual((await again.namespaces()).filter((n) => n.startsWith("users")), [], "rows and index entries are gone");
    assert.equal(await codeOf(() => reopened.insert(user(2))), "TXTDB_NOT_FOUND", "TBL-5: a handle of a dropped table");
    await again.close();
  });

  test("names: table names without '.', not 'txtdb'; no index named __proto__; a table over a namespace written outside the table layer is TXTDB_EXISTS", async () => {
    const db = await fresh();
    assert.equal(await codeOf(() => db.table("a.b", { key: "id" })), "TXTDB_INVALID_NAME");
    assert.equal(await codeOf(() => db.table("txtdb", { key: "id" })), "TXTDB_INVALID_NAME");
    const protoIndex = JSON.parse('{"__proto__":{"fields":"email"}}') as Record<string, { fields: string }>; // an own key, as JSON gives it
    assert.equal(await codeOf(() => db.table("p", { key: "id", indexes: protoIndex })), "TXTDB_INVALID_NAME", "an index named __proto__ would vanish in the definition");
    assert.equal(await codeOf(() => db.table("", { key: "id" })), "TXTDB_INVALID_NAME");
    assert.equal(await codeOf(() => db.table("t", { key: "id", indexes: { "x.y": { fields: "a" } } })), "TXTDB_INVALID_NAME");
    assert.equal(await codeOf(() => db.table("t", { key: [] as string[] })), "TXTDB_INVALID_ARGUMENT");
    assert.equal(await codeOf(() => db.table("t", { key: ["a", "a"] })), "TXTDB_INVALID_ARGUMENT");
    assert.equal(await codeOf(() => db.table("t", { key: "id", indexes: { i: { fields: 3 as unknown as string } } })), "TXTDB_INVALID_ARGUMENT");
    await db.put("legacy", 1, { id: 1 });
    assert.equal(await codeOf(() => db.table("legacy", { key: "id" })), "TXTDB_EXISTS");
    assert.deepEqual(await db.tables(), []);
    await db.close();
  });

  test("changing the primary key is TXTDB_SCHEMA; so is redefining an index; an index left out of the options stays until dropIndex", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", userTable);
    await users.insert(user(1));
    assert.equal(await codeOf(() => db.table("users", { key: "email" })), "TXTDB_SCHEMA");
    assert.equal(await codeOf(() => db.table("users", { key: ["id"] })), "TXTDB_SCHEMA", 'SCH-2: "id" and ["id"] differ');
    assert.equal(await codeOf(() => db.table("users", { key: "id", indexes: { byEmail: { fields: "email" } } })), "TXTDB_SCHEMA");
    assert.equal(await codeOf(() => db.table("users", { key: "id", indexes: { byEmail: { fields: ["email"], unique: true } } })), "TXTDB_SCHEMA");
    const slim = await db.table<User>("users", { key: "id" });
    assert.deepEqual(Object.keys(slim.definition().indexes).sort(), ["byEmail", "byTenantAge"], "no silent data loss");
    await slim.insert(user(2));
    assert.deepEqual(await slim.index("byEmail").get("u2@example.com"), user(2), "still maintained and readable");
    assert.equal(await codeOf(() => slim.insert(user(3, { email: "u2@example.com" }))), "TXTDB_UNIQUE", "still enforced");
    assert.equal(await slim.dropIndex("byEmail"), true);
    assert.equal(await slim.dropIndex("byEmail"), false);
    assert.deepEqual(await collect((await db.begin()).scan("users.byEmail")), []);
    await slim.insert(user(3, { email: "u2@example.com" }));
    assert.equal(await codeOf(() => slim.index("byEmail").get("u2@example.com")), "TXTDB_NOT_FOUND");
    await consistent(db, "users");
    await db.close();
  });

  test("each write reads its table's catalog entry anew: a change made through another Table, or a hand-edited entry, takes effect at the next write (compileEntry)", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", { key: "id" });
    await users.insert(user(1));
    await users.insert(user(2)); // the entry read back equals the last one (compileEntry's cached path)
    await db.table<User>("users", { key: "id", indexes: { byEmail: { fields: "email", unique: true } } });
    await users.insert(user(3)); // through the Table opened before the index
    assert.deepEqual(await users.index("byEmail").get("u3@example.com"), user(3), "the new index is maintained");
    assert.equal(await codeOf(() => users.insert(user(4, { email: "u3@example.com" }))), "TXTDB_UNIQUE", "and enforced");
    const entry = (await db.get("txtdb.tables", "users")) as Record<string, unknown>;
    await db.put("txtdb.tables", "users", { ...entry, key: 7 });
    const before = await dump(db);
    assert.equal(await codeOf(() => users.insert(user(5))), "TXTDB_CORRUPT", "a bad entry is refused, not taken for the last good one");
    assert.equal(await dump(db), before);
    await db.put("txtdb.tables", "users", { ...entry, indexes: new Map() });
    const withMap = await dump(db);
    assert.equal(await codeOf(() => users.insert(user(5))), "TXTDB_CORRUPT", "indexes that are no plain object are reported, not read as none");
    assert.equal(await dump(db), withMap);
    await db.put("txtdb.tables", "users", entry);
    await users.insert(user(5));
    await consistent(db, "users");
    await db.close();
  });

  test("a new index is built over existing rows in chunks, with progress; a unique build over duplicates fails with TXTDB_UNIQUE and leaves no trace", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", { key: "id" });
    await db.transaction(async (tx) => {
      for (let id = 0; id < 2500; id++) await tx.table(users).insert(user(id, { name: `n${id % 7}` }));
    });
    const progress: unknown[] = [];
    const indexed = await db.table<User>("users", { key: "id", indexes: { byName: { fields: "name" }, byEmail: { fields: "email", unique: true } }, onProgress: (p) => progress.push(p) });
    assert.deepEqual(progress.filter((p) => (p as { index: string }).index === "byName"), [
      { table: "users", index: "byName", rowsIndexed: 1000, done: false },
      { table: "users", index: "byName", rowsIndexed: 2000, done: false },
      { table: "users", index: "byName", rowsIndexed: 2500, done: true },
    ]);
    assert.equal(await indexed.index("byName").count({ prefix: "n3" }), Array.from({ length: 2500 }, (_, i) => i).filter((i) => i % 7 === 3).length);
    assert.equal((await indexed.index("byEmail").get("u2499@example.com"))!.id, 2499);
    await consistent(db, "users");
    const namespaces = await db.namespaces();
    const err = await errorOf(() => db.table("users", { key: "id", indexes: { byNameU: { fields: "name", unique: true } } }));
    assert.equal(err.code, "TXTDB_UNIQUE");
    assert.match(err.message, /byNameU/);
    assert.deepEqual(await db.namespaces(), namespaces, "BLD-3: no entries left");
    assert.equal(Object.keys((await db.table("users")).definition().indexes).includes("byNameU"), false);
    await db.close();
  });

  test("an index build waits for transactions begun before it was declared (they do not maintain it), then includes their rows", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", { key: "id" });
    await users.insert(user(1));
    const old = await db.begin();
    let built = false;
    const building = db.table<User>("users", { key: "id", indexes: { byAge: { fields: "age" } } }).then((t) => {
      built = true;
      return t;
    });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(built, false, "waits while a transaction older than the declaration is open");
    // Such a transaction does not know the index: the build must see its row.
    await old.table(users).insert(user(2));
    await old.commit();
    const t = await building;
    assert.deepEqual((await collect(t.index("byAge").scan())).map((r) => r.id).sort(), [1, 2]);
    await consistent(db, "users");
    await db.close();
  });

  test("reads through an index being built are refused with TXTDB_SCHEMA; writers maintain it; a later db.table() finishes it (BLD-2)", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", { key: "id" });
    await users.insert(user(1));
    const blocker = await db.begin({ readOnly: true });
    const declaring = db.table<User>("users", { key: "id", indexes: { byAge: { fields: "age" } } });
    let declared = false;
    while (!declared) {
      await new Promise((r) => setTimeout(r, 5));
      const tx = await db.begin({ readOnly: true });
      declared = ((await tx.get("txtdb.tables", "users")) as { indexes: Record<string, unknown> }).indexes["byAge"] !== undefined;
      await tx.rollback();
    }
    assert.equal(await codeOf(() => users.index("byAge").count()), "TXTDB_SCHEMA");
    await users.insert(user(2));
    await blocker.rollback();
    const t = await declaring;
    assert.equal(await t.index("byAge").count(), 2);
    await consistent(db, "users");
    await db.close();
  });
});

// ---------------------------------------------------------------------------

describe("validation (VAL-*, SCH-4): bad rows are refused and the database is unchanged", () => {
  const schema: StandardSchemaV1<unknown, User> = {
    "~standard": {
      version: 1,
      vendor: "test",
      validate(value) {
        const v = value as User;
        if (typeof v.age !== "number" || v.age < 0) return { issues: [{ message: "age must be a number ≥ 0", path: ["age"] }] };
        return { value: { ...v, name: v.name.trim() } };
      },
    },
  };

  test("a Standard Schema validator: issues refuse the row (ValidationError carrying them), its output is stored", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", { ...userTable, validate: schema });
    await users.insert(user(1));
    const before = await dump(db);
    const err = await errorOf(() => users.insert(user(2, { age: -1 })));
    assert.ok(err instanceof ValidationError);
    assert.equal(err.code, "TXTDB_INVALID_VALUE");
    assert.deepEqual(err.issues, [{ message: "age must be a number ≥ 0", path: ["age"] }]);
    assert.equal(await dump(db), before);
    assert.equal((await users.put(user(3, { name: "  padded  " }))).name, "padded");
    assert.equal((await users.get(3))!.name, "padded");
    assert.equal(await codeOf(() => users.update(3, (r) => ({ ...r, age: -5 }))), "TXTDB_INVALID_VALUE");
    await db.close();
  });

  test("a function validator: what it throws refuses the row; what it returns is stored", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", {
      key: "id",
      validate: (row) => {
        if (!row.email.includes("@")) throw new Error("email needs an @");
        return { ...row, email: row.email.toLowerCase() };
      },
    });
    const err = await errorOf(() => users.insert(user(1, { email: "nope" })));
    assert.ok(err instanceof ValidationError);
    assert.deepEqual(err.issues, [{ message: "email needs an @" }]);
    assert.equal((await users.insert(user(1, { email: "A@X" }))).email, "a@x");
    await db.close();
  });

  test("rows without a primary-key field, with a key field of a non-key type, with a bad indexed value, or not objects at all", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", userTable);
    await users.insert(user(1));
    const before = await dump(db);
    const bad: unknown[] = [
      { email: "x@x", name: "no id", age: 1, tenant: "t" },
      { ...user(2), id: null },
      { ...user(2), id: { nested: 1 } },
      { ...user(2), id: NaN },
      { ...user(2), id: new Date(NaN) },
      { ...user(2), email: { not: "a key" } },
      { ...user(2), tenant: [] },
      { ...user(2), email: "x".repeat(5000) },
      { ...user(2), fn: () => 1 },
      null, [user(2)], "row", new Map(),
    ];
    for (const row of bad) {
      const err = await errorOf(() => users.insert(row as User));
      assert.equal(err.code, "TXTDB_INVALID_VALUE", `${String(row)}: ${err.message}`);
    }
    assert.equal(await dump(db), before);
    // Inside a transaction: refused, nothing of it written, the transaction still usable.
    await db.transaction(async (tx) => {
      const t = tx.table(users);
      assert.equal(await codeOf(() => t.insert({ ...user(2), email: { bad: 1 } } as unknown as User)), "TXTDB_INVALID_VALUE");
      assert.equal(await codeOf(() => t.insert({ ...user(2), fn: () => 1 } as unknown as User)), "TXTDB_INVALID_VALUE");
      assert.equal(await codeOf(() => t.insert(user(3, { email: "u1@example.com" }))), "TXTDB_UNIQUE");
      await t.insert(user(4));
    });
    assert.equal(await users.count(), 2);
    await consistent(db, "users");
    // Absent or null indexed fields: the row is simply not in that index (sparse).
    await users.insert({ id: 5, name: "no email", age: 3, tenant: "t" } as unknown as User);
    await users.insert({ id: 6, email: null, name: "null email", age: 3, tenant: "t" } as unknown as User);
    assert.equal(await users.index("byEmail").count(), 2);
    await consistent(db, "users");
    await db.close();
  });
});

// ---------------------------------------------------------------------------

describe("applyRowChange: a change of a page entry routed through the table layer", () => {
  test("table rows get index maintenance and validation; other namespaces are left to the caller; index and catalog entries are refused", async () => {
    const db = await fresh();
    const users = await db.table<User>("users", { ...userTable, validate: (r) => { if (r.age < 0) throw new Error("age < 0"); } });
    await users.insert(user(1));
    await db.transaction(async (tx: Transaction) => {
      assert.equal(await applyRowChange(tx, "users", 2, user(2), db), true);
      assert.equal(await applyRowChange(tx, "users", 1, undefined, db), true);
      assert.equal(await applyRowChange(tx, "notes", "n", { text: 1 }, db), false);
      assert.equal(await codeOf(() => applyRowChange(tx, "users", 3, user(3, { age: -1 }), db)), "TXTDB_INVALID_VALUE");
      assert.equal(await codeOf(() => applyRowChange(tx, "users", 9, user(3), db)), "TXTDB_INVALID_VALUE", "the key must be the row's own");
      assert.equal(await codeOf(() => applyRowChange(tx, "users", 4, user(4, { email: "u2@example.com" }), db)), "TXTDB_UNIQUE");
      assert.equal(await codeOf(() => applyRowChange(tx, "users.byEmail", "x", 1, db)), "TXTDB_SCHEMA");
      assert.equal(await codeOf(() => applyRowChange(tx, "txtdb.tables", "users", {}, db)), "TXTDB_SCHEMA");
    });
    assert.equal(await users.get(1), undefined);
    assert.deepEqual(await users.index("byEmail").get("u2@example.com"), user(2));
    await consistent(db, "users");
    await db.close();
  });
});

// ---------------------------------------------------------------------------
// Property tests

const keyPartArb: fc.Arbitrary<Key> = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.double({ noNaN: true }),
  fc.integer({ min: -5, max: 5 }),
  fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }),
  fc.boolean(),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array({ maxLength: 4 }),
);
const keyArb: fc.Arbitrary<Key> = fc.oneof({ weight: 3, arbitrary: keyPartArb }, { weight: 1, arbitrary: fc.array(keyPartArb, { minLength: 1, maxLength: 3 }) });

describe("key types round-trip through primary keys and indexes, in the documented order (property)", () => {
  test("every key type: get, unique index get, non-unique index scans and primary-key scans return the same types, in compareKeys order", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.tuple(keyArb, keyArb, keyArb), { minLength: 1, maxLength: 12, selector: ([k]) => encodeKey(k) }), async (rows) => {
        // unique values must be unique too
        const seen = new Set<string>();
        const data = rows.filter(([, u]) => !seen.has(encodeKey(u)) && seen.add(encodeKey(u)) !== undefined).map(([k, u, v]) => ({ k, u, v }));
        const db = await fresh();
        const t = await db.table<{ k: Key; u: Key; v: Key }>("t", { key: "k", indexes: { byU: { fields: "u", unique: true }, byV: { fields: "v" }, byVU: { fields: ["v", "u"], unique: true } } });
        await db.transaction(async (tx) => {
          for (const r of data) await tx.table(t).insert(r);
        });
        for (const r of data) {
          assert.deepEqual(await t.get(r.k), r);
          assert.deepEqual(await t.index("byU").get(r.u), r);
          assert.deepEqual(await t.index("byVU").get([r.v, r.u]), r);
          assert.deepEqual((await collect(t.index("byV").scan({ prefix: r.v }))).filter((x) => encodeKey(x.k) === encodeKey(r.k)), [r]);
        }
        const byKey = [...data].sort((a, b) => compareKeys(a.k, b.k));
        assert.deepEqual(await collect(t.scan()), byKey);
        assert.deepEqual(await collect(t.index("byU").scan()), [...data].sort((a, b) => compareKeys(a.u, b.u)));
        assert.deepEqual(await collect(t.index("byV").scan()), [...data].sort((a, b) => compareKeys([a.v, a.k], [b.v, b.k])));
        await consistent(db, "t");
        await db.close();
      }),
      { seed, numRuns: soak ? 300 : 40, endOnFailure: true },
    );
  });

  test("keySuccessor(k) is the smallest key above k (IDX-3)", () => {
    fc.assert(
      fc.property(keyArb, keyArb, (a, b) => {
        const s = keySuccessor(a);
        if (s === undefined) return assert.equal(a, Infinity);
        assert.ok(compareKeys(a, s) < 0);
        // nothing lies strictly between a and s
        assert.ok(!(compareKeys(a, b) < 0 && compareKeys(b, s) < 0), `${String(b)} lies between ${String(a)} and its successor`);
        return undefined;
      }),
      { seed, numRuns: 2000 },
    );
    for (const k of [0, -0, -Infinity, Number.MAX_VALUE, false, true, new Date(8.64e15), "", new Uint8Array(0), [1], 1n]) {
      const s = keySuccessor(k)!;
      assert.ok(compareKeys(k, s) < 0, String(k));
    }
  });

  test("index scans with random bounds return exactly the rows within them, forward and reverse, with limits", async () => {
    const smallPart = fc.oneof(fc.constantFrom(-Infinity, -1, 0, 1, 2.5, Infinity), fc.constantFrom("", "a", "ab", "b"), fc.constantFrom(false, true));
    const boundArb = fc.option(fc.array(smallPart, { minLength: 1, maxLength: 2 }), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(smallPart, smallPart), { minLength: 0, maxLength: 25 }),
        fc.record({ prefix: boundArb, gte: boundArb, gt: boundArb, lte: boundArb, lt: boundArb }),
        fc.boolean(), fc.option(fc.nat(6), { nil: undefined }), fc.boolean(),
        async (pairs, bounds, reverse, limit, unique) => {
          const db = await fresh();
          const t = await db.table<{ id: number; a: Key; b: Key }>("t", { key: "id", indexes: { ab: { fields: ["a", "b"], unique } } });
          const seen = new Set<string>();
          const rows = pairs.map(([a, b], id) => ({ id, a, b })).filter((r) => !unique || (!seen.has(encodeKey([r.a, r.b])) && seen.add(encodeKey([r.a, r.b])) !== undefined));
          await db.transaction(async (tx) => {
            for (const r of rows) await tx.table(t).insert(r);
          });
          const opts = Object.fromEntries(Object.entries(bounds).filter(([, v]) => v !== undefined)) as Record<string, Key[]>;
          const within = (r: { a: Key; b: Key }): boolean => {
            const tuple = [r.a, r.b];
            const cmp = (b: Key[]): number => compareKeys(tuple.slice(0, b.length), b);
            return (opts["prefix"] === undefined || cmp(opts["prefix"]) === 0) && (opts["gte"] === undefined || cmp(opts["gte"]) >= 0) &&
              (opts["gt"] === undefined || cmp(opts["gt"]) > 0) && (opts["lte"] === undefined || cmp(opts["lte"]) <= 0) && (opts["lt"] === undefined || cmp(opts["lt"]) < 0);
          };
          let expected = rows.filter(within).sort((x, y) => compareKeys([x.a, x.b, x.id], [y.a, y.b, y.id]));
          if (reverse) expected.reverse();
          if (limit !== undefined) expected = expected.slice(0, limit);
          const got = await collect(t.index("ab").scan({ ...opts, reverse, ...(limit === undefined ? {} : { limit }) }));
          assert.deepEqual(got.map((r) => r.id), expected.map((r) => r.id));
          await db.close();
        },
      ),
      { seed: seed + 1, numRuns: soak ? 1000 : 150, endOnFailure: true },
    );
  });
});

// ---------------------------------------------------------------------------

type ModelOp = { kind: "insert" | "put"; id: number; email: number; group: number } | { kind: "update"; id: number; email: number } | { kind: "delete"; id: number };
const modelOpArb: fc.Arbitrary<ModelOp> = fc.oneof(
  fc.record({ kind: fc.constantFrom("insert" as const, "put" as const), id: fc.nat(7), email: fc.nat(5), group: fc.nat(2) }),
  fc.record({ kind: fc.constant("update" as const), id: fc.nat(7), email: fc.nat(5) }),
  fc.record({ kind: fc.constant("delete" as const), id: fc.nat(7) }),
);
type Row = { id: number; email: string; group: number; v: number };

describe("index/table agreement after random transactions (model-based)", () => {
  test("sequential transactions match a model; concurrent ones (with conflicts) leave table and indexes in agreement", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(modelOpArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 }), fc.boolean(), async (txs, concurrent) => {
        const db = await fresh();
        const t = await db.table<Row>("t", { key: "id", indexes: { byEmail: { fields: "email", unique: true }, byGroup: { fields: "group" } } });
        const model = new Map<number, Row>();
        let v = 0;
        const runOne = async (ops: ModelOp[]): Promise<void> => {
          const local = new Map(model);
          const tx = await db.begin();
          const tt = tx.table(t);
          for (const op of ops) {
            const row = (id: number, email: number, group: number): Row => ({ id, email: `e${email}`, group, v: ++v });
            const code = await codeOf(async () => {
              if (op.kind === "delete") return tt.delete(op.id);
              if (op.kind === "update") return tt.update(op.id, (r) => ({ ...r, email: `e${op.email}`, v: ++v }));
              return tt[op.kind](row(op.id, op.email, op.group));
            });
            if (concurrent) continue;
            // the model's verdict
            const taken = (email: string, id: number): boolean => [...local.values()].some((r) => r.email === email && r.id !== id);
            if (op.kind === "delete") {
              assert.equal(code, "resolved");
              local.delete(op.id);
            } else if (op.kind === "update") {
              const old = local.get(op.id);
              const want = old === undefined ? "TXTDB_NOT_FOUND" : taken(`e${op.email}`, op.id) ? "TXTDB_UNIQUE" : "resolved";
              assert.equal(code, want, JSON.stringify(op));
              if (want === "resolved") local.set(op.id, (await tt.get(op.id))!);
            } else {
              const want = op.kind === "insert" && local.has(op.id) ? "TXTDB_DUPLICATE_KEY" : taken(`e${op.email}`, op.id) ? "TXTDB_UNIQUE" : "resolved";
              assert.equal(code, want, JSON.stringify(op));
              if (want === "resolved") local.set(op.id, (await tt.get(op.id))!);
            }
          }
          try {
            await tx.commit();
            if (!concurrent) for (const [k] of model) if (!local.has(k)) model.delete(k);
            if (!concurrent) for (const [k, r] of local) model.set(k, r);
          } catch (err) {
            if (!(err instanceof TxtDbError && err.code === "TXTDB_CONFLICT")) throw err;
          }
        };
        if (concurrent) await Promise.all(txs.map(runOne));
        else for (const ops of txs) await runOne(ops);
        await consistent(db, "t");
        if (!concurrent) assert.deepEqual(await collect(t.scan()), [...model.values()].sort((a, b) => a.id - b.id));
        await db.close();
      }),
      { seed: seed + 2, numRuns: soak ? 500 : 60, endOnFailure: true },
    );
  });
});

// ---------------------------------------------------------------------------

describe("a database whose default isolation is serializable", () => {
  test("tables work the same; a build's chunks are snapshot transactions, so a writer in their range does not starve them", async () => {
    const db = await open("/db", { io: memoryIO(), random: () => 0, isolation: "serializable" });
    const users = await db.table<User>("users", { key: "id" });
    await db.transaction(async (tx) => {
      for (let id = 0; id < 3000; id++) await tx.table(users).insert(user(id));
    });
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        await users.put(user(i % 3000, { age: i % 50 }));
        await new Promise((r) => setTimeout(r, 0));
      }
    })();
    const indexed = await db.table<User>("users", userTable);
    stop = true;
    await writer;
    assert.equal(await codeOf(() => indexed.insert(user(5000, { email: "u1@example.com" }))), "TXTDB_UNIQUE");
    await consistent(db, "users");
    await db.close();
  });
});

describe("an index build while another task writes", () => {
  // The issue's size in Node's run of npm test; 20,000 in the Deno and Bun runs (the same code, a third of the time).
  const rows = soak || process.env["TXTDB_TABLE_BIG"] === "1" || runtime === "node" ? 100_000 : 20_000;
  test(`building two indexes over ${rows.toLocaleString("en-US")} existing rows while a writer inserts, updates and deletes: table and indexes agree`, async () => {
    const db = await open("/db", { io: memoryIO(), random: () => 0 });
    const users = await db.table<User>("users", { key: "id" });
    const tLoad = performance.now();
    for (let from = 0; from < rows; from += 10_000) {
      await db.transaction(async (tx) => {
        const t = tx.table(users);
        for (let id = from; id < Math.min(rows, from + 10_000); id++) await t.insert(user(id));
      });
    }
    let stop = false;
    let writes = 0;
    let duringBuild = 0;
    let building = true;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const id = (i * 7919) % (rows + 500);
        await db.transaction(async (tx) => {
          const t = tx.table(users);
          if (i % 5 === 0) await t.delete(id);
          else await t.put(user(id, { email: `w${i}@example.com`, tenant: `t${i % 3}`, age: i % 90 }));
        });
        writes++;
        if (building) duringBuild++;
        await new Promise((r) => setTimeout(r, 0));
      }
    })();
    const progress: number[] = [];
    const t0 = performance.now();
    const indexed = await db.table<User>("users", { ...userTable, onProgress: (p) => void progress.push(p.rowsIndexed) });
    building = false;
    const buildMs = performance.now() - t0;
    stop = true;
    await writer;
    console.log(`index build over ${rows} rows: ${buildMs.toFixed(0)} ms, ${duringBuild} writes during it, ${progress.length} progress reports`);
    assert.ok(duringBuild > 0, "the writer wrote while the index was built");
    assert.ok(progress.length >= rows / 1000, "progress per chunk");
    const t1 = performance.now();
    await consistent(db, "users");
    const n = await indexed.count();
    assert.equal(await indexed.index("byEmail").count(), n);
    assert.equal(await indexed.index("byTenantAge").count(), n);
    const t2 = performance.now();
    await db.close();
    console.log(`checks ${(t2 - t1).toFixed(0)} ms, close ${(performance.now() - t2).toFixed(0)} ms, load+build ${(t1 - tLoad).toFixed(0)} ms`);
  });
});
