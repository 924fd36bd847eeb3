/**
 * Tests of src/engine/transaction.ts through the public API: begin / get /
 * put / delete / scan / commit / rollback (DESIGN.md contract 1, 2, 4, 5, 6,
 * 7, 9, 15; TX-1…TX-7). Property tests print their seed; replay one with
 * TXTDB_SEED=<n>.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { memoryIO, open, type Database, type Key, type MemoryIO, type ScanOptions, type Transaction } from "../src/mod.ts";
import { codeOf, collect, testSeed } from "./_helpers/expect.ts";

const seed = testSeed("transaction");

// ---------------------------------------------------------------------------
// Helpers

async function scanKeys(tx: Transaction, ns: string, options: ScanOptions = {}): Promise<Key[]> {
  return (await collect(tx.scan(ns, options))).map(([k]) => k);
}

async function fresh(): Promise<{ db: Database; io: MemoryIO }> {
  const io = memoryIO();
  return { db: await open("/db", { io }), io };
}

/** Every path under `dir` of a MemoryIO. */
async function tree(io: MemoryIO, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await io.readdir(dir)) {
    const p = dir === "/" ? `/${name}` : `${dir}/${name}`;
    out.push(p);
    if ((await io.stat(p))?.isDirectory === true) out.push(...(await tree(io, p)));
  }
  return out;
}

// ---------------------------------------------------------------------------

describe("begin / get / put / delete / commit", () => {
  test("snapshotTsn is the last committed TSN; commits get consecutive TSNs from 1 (contract 4)", async () => {
    const { db } = await fresh();
    const t0 = await db.begin();
    assert.equal(t0.snapshotTsn, 0);
    await t0.rollback();
    assert.deepEqual(await db.put("a", "x", 1), { tsn: 1 });
    assert.deepEqual(await db.put("a", "y", 2), { tsn: 2 });
    const tx = await db.begin();
    assert.equal(tx.snapshotTsn, 2);
    await tx.put("a", "z", 3);
    await tx.delete("a", "x");
    assert.deepEqual(await tx.commit(), { tsn: 3 });
    assert.deepEqual(await db.delete("a", "y"), { tsn: 4 });
    await db.close();
  });

  test("get returns undefined for an absent key and the value of a committed one", async () => {
    const { db } = await fresh();
    await db.put("a", "x", { n: 1 });
    const tx = await db.begin();
    assert.equal(await tx.get("a", "nope"), undefined);
    assert.equal(await tx.get("other", "x"), undefined);
    assert.deepEqual(await tx.get("a", "x"), { n: 1 });
    await tx.rollback();
    await db.close();
  });

  test("read-your-own-writes in get: own put, own overwrite, own delete of a committed row (TX-1)", async () => {
    const { db } = await fresh();
    await db.put("a", "x", 1);
    await db.put("a", "y", 2);
    const tx = await db.begin();
    await tx.put("a", "new", "n");
    await tx.put("a", "x", 10);
    await tx.put("a", "x", 11);
    await tx.delete("a", "y");
    assert.equal(await tx.get("a", "new"), "n");
    assert.equal(await tx.get("a", "x"), 11);
    assert.equal(await tx.get("a", "y"), undefined);
    // delete then put again
    await tx.put("a", "y", 22);
    assert.equal(await tx.get("a", "y"), 22);
    // others do not see any of it before the commit
    assert.equal(await db.get("a", "new"), undefined);
    assert.equal(await db.get("a", "x"), 1);
    assert.equal(await db.get("a", "y"), 2);
    assert.deepEqual(await tx.commit(), { tsn: 3 });
    assert.equal(await db.get("a", "new"), "n");
    assert.equal(await db.get("a", "x"), 11);
    assert.equal(await db.get("a", "y"), 22);
    await db.close();
  });

  test("begin() sees every commit whose commit() resolved before it (contract 6)", async () => {
    const { db } = await fresh();
    for (let i = 0; i < 20; i++) {
      await db.put("a", "k", i);
      const tx = await db.begin();
      assert.equal(tx.snapshotTsn, i + 1);
      assert.equal(await tx.get("a", "k"), i);
      await tx.rollback();
    }
    await db.close();
  });

  test("a transaction keeps reading its snapshot while others commit", async () => {
    const { db } = await fresh();
    await db.put("a", "k", "old");
    const tx = await db.begin();
    await db.put("a", "k", "new");
    await db.put("a", "k2", "added");
    assert.equal(await tx.get("a", "k"), "old");
    assert.equal(await tx.get("a", "k2"), undefined);
    assert.deepEqual(await scanKeys(tx, "a"), ["k"]);
    await tx.rollback();
    await db.close();
  });

  test("a transaction without writes commits with { tsn: snapshotTsn } and takes no TSN (contract 2, 4)", async () => {
    const { db } = await fresh();
    await db.put("a", "x", 1);
    const ro = await db.begin();
    assert.equal(await ro.get("a", "x"), 1);
    assert.deepEqual(await ro.commit(), { tsn: 1 });
    const ro2 = await db.begin({ readOnly: true });
    await db.put("a", "x", 2);
    assert.deepEqual(await ro2.commit(), { tsn: 1 });
    assert.deepEqual(await db.put("a", "x", 3), { tsn: 3 });
    await db.close();
  });

  test("deleting an absent key is a write: it commits with a TSN (contract 5)", async () => {
    const { db } = await fresh();
    const tx = await db.begin();
    await tx.delete("a", "ghost");
    assert.deepEqual(await tx.commit(), { tsn: 1 });
    assert.deepEqual(await db.delete("a", "ghost2"), { tsn: 2 });
    assert.equal(db.stats().lastTsn, 2);
    assert.deepEqual(await db.namespaces(), []);
    await db.close();
  });

  test("rollback discards the writes; rollback is idempotent and harmless after commit (contract 1)", async () => {
    const { db } = await fresh();
    await db.put("a", "x", 1);
    const tx = await db.begin();
    await tx.put("a", "x", 2);
    await tx.put("a", "y", 3);
    await tx.delete("a", "x");
    await tx.rollback();
    await tx.rollback();
    await tx.rollback();
    assert.equal(await db.get("a", "x"), 1);
    assert.equal(await db.get("a", "y"), undefined);
    assert.equal(db.stats().lastTsn, 1);
    const tx2 = await db.begin();
    await tx2.put("a", "z", 1);
    await tx2.commit();
    await tx2.rollback(); // no-op, nothing undone
    assert.equal(await db.get("a", "z"), 1);
    await db.close();
  });

  test("after commit() every call but rollback() throws TXTDB_TX_CLOSED (contract 1, TX-4)", async () => {
    const { db } = await fresh();
    const tx = await db.begin();
    await tx.put("a", "x", 1);
    await tx.commit();
    assert.equal(await codeOf(() => tx.get("a", "x")), "TXTDB_TX_CLOSED");
    assert.equal(await codeOf(() => tx.put("a", "x", 2)), "TXTDB_TX_CLOSED");
    assert.equal(await codeOf(() => tx.delete("a", "x")), "TXTDB_TX_CLOSED");
    assert.equal(await codeOf(() => collect(tx.scan("a"))), "TXTDB_TX_CLOSED");
    assert.equal(await codeOf(() => tx.commit()), "TXTDB_TX_CLOSED");
    assert.equal(await codeOf(() => tx.rollback()), "resolved");
    assert.equal(await db.get("a", "x"), 1);
    await db.close();
  });

  test("after rollback() every call but rollback() throws TXTDB_TX_CLOSED", async () => {
    const { db } = await fresh();
    const tx = await db.begin();
    await tx.rollback();
    assert.equal(await codeOf(() => tx.get("a", "x")), "TXTDB_TX_CLOSED");
    assert.equal(await codeOf(() => tx.put("a", "x", 2)), "TXTDB_TX_CLOSED");
    assert.equal(await codeOf(() => tx.delete("a", "x")), "TXTDB_TX_CLOSED");
    assert.equal(await codeOf(() => collect(tx.scan("a"))), "TXTDB_TX_CLOSED");
    assert.equal(await codeOf(() => tx.commit()), "TXTDB_TX_CLOSED");
    await db.close();
  });

  test("a commit() that rejects (conflict) also ends the transaction (contract 1)", async () => {
    const { db } = await fresh();
    const tx = await db.begin();
    await tx.put("a", "x", "mine");
    await db.put("a", "x", "theirs");
    assert.equal(await codeOf(() => tx.commit()), "TXTDB_CONFLICT");
    assert.equal(await codeOf(() => tx.get("a", "x")), "TXTDB_TX_CLOSED");
    assert.equal(await codeOf(() => tx.put("a", "x", 1)), "TXTDB_TX_CLOSED");
    assert.equal(await codeOf(() => tx.commit()), "TXTDB_TX_CLOSED");
    assert.equal(await codeOf(() => tx.rollback()), "resolved");
    assert.equal(await db.get("a", "x"), "theirs");
    await db.close();
  });

  test("calls made while commit() is in flight throw TXTDB_TX_CLOSED; the commit is unaffected", async () => {
    const { db } = await fresh();
    const tx = await db.begin();
    await tx.put("a", "x", 1);
    const committing = tx.commit();
    assert.equal(await codeOf(() => tx.put("a", "y", 2)), "TXTDB_TX_CLOSED");
    assert.equal(await codeOf(() => tx.commit()), "TXTDB_TX_CLOSED");
    await tx.rollback();
    assert.deepEqual(await committing, { tsn: 1 });
    assert.equal(await db.get("a", "x"), 1);
    assert.equal(await db.get("a", "y"), undefined);
    await db.close();
  });

  test("a readOnly transaction throws TXTDB_READ_ONLY at the write, and can still read and commit (contract 9)", async () => {
    const { db } = await fresh();
    await db.put("a", "x", 1);
    const tx = await db.begin({ readOnly: true });
    assert.equal(tx.readOnly, true);
    assert.equal(await codeOf(() => tx.put("a", "x", 2)), "TXTDB_READ_ONLY");
    assert.equal(await codeOf(() => tx.delete("a", "x")), "TXTDB_READ_ONLY");
    assert.equal(await codeOf(() => tx.dropNamespace("a")), "TXTDB_READ_ONLY");
    assert.equal(await tx.get("a", "x"), 1);
    assert.deepEqual(await collect(tx.scan("a")), [["x", 1]]);
    assert.deepEqual(await tx.commit(), { tsn: 1 });
    assert.equal(await db.get("a", "x"), 1);
    assert.equal(db.stats().lastTsn, 1);
    await db.close();
  });

  test("db.transaction({ readOnly: true }) rejects a write with TXTDB_READ_ONLY", async () => {
    const { db } = await fresh();
    assert.equal(await codeOf(() => db.transaction(async (tx) => tx.put("a", "x", 1), { readOnly: true })), "TXTDB_READ_ONLY");
    assert.equal(db.stats().lastTsn, 0);
    await db.close();
  });

  test("keys of every type round-trip through put, get and scan with their type", async () => {
    const { db } = await fresh();
    const keys: Key[] = [new Uint8Array([1, 2]), "", "s", -0.5, 7, 7n, false, true, new Date(86_400_000), ["a", 1], ["a", [2n, new Date(5)]]];
    await db.transaction(async (tx) => {
      for (const [i, k] of keys.entries()) await tx.put("k", k, i);
    });
    const tx = await db.begin();
    for (const [i, k] of keys.entries()) assert.equal(await tx.get("k", k), i, `get ${String(k)}`);
    const got = await collect(tx.scan("k"));
    assert.deepEqual(got.map(([k]) => k), keys);
    assert.deepEqual(got.map(([, v]) => v), keys.map((_, i) => i));
    // "k" and ["k"], 1 and 1n and "1" are different keys (contract 13)
    await tx.rollback();
    await db.transaction(async (t) => {
      await t.put("d", "k", "string");
      await t.put("d", ["k"], "array");
      await t.put("d", 1, "number");
      await t.put("d", 1n, "bigint");
      await t.put("d", "1", "string1");
      await t.put("d", -0, "zero");
    });
    assert.equal(await db.get("d", "k"), "string");
    assert.equal(await db.get("d", ["k"]), "array");
    assert.equal(await db.get("d", 1), "number");
    assert.equal(await db.get("d", 1n), "bigint");
    assert.equal(await db.get("d", "1"), "string1");
    assert.equal(await db.get("d", 0), "zero");
    await db.close();
  });
});

// ---------------------------------------------------------------------------

describe("scan: read-your-own-writes, order, bounds (contract 7, TX-1)", () => {
  async function seeded(): Promise<{ db: Database; tx: Transaction }> {
    const { db } = await fresh();
    await db.transaction(async (tx) => {
      for (const k of ["b", "d", "f", "h"]) await tx.put("a", k, `c-${k}`);
    });
    const tx = await db.begin();
    await tx.put("a", "a", "o-a"); // before every committed key
    await tx.put("a", "e", "o-e"); // between
    await tx.put("a", "f", "o-f"); // overwrites a committed key
    await tx.delete("a", "d"); // hides a committed key
    await tx.delete("a", "z"); // deletes an absent key
    await tx.put("a", "i", "o-i"); // after every committed key
    return { db, tx };
  }

  test("own puts and committed rows are merged in key order; own deletes hide committed rows", async () => {
    const { db, tx } = await seeded();
    assert.deepEqual(await collect(tx.scan("a")), [
      ["a", "o-a"], ["b", "c-b"], ["e", "o-e"], ["f", "o-f"], ["h", "c-h"], ["i", "o-i"],
    ]);
    await tx.rollback();
    await db.close();
  });

  test("reverse gives the same rows in descending order", async () => {
    const { db, tx } = await seeded();
    assert.deepEqual(await scanKeys(tx, "a", { reverse: true }), ["i", "h", "f", "e", "b", "a"]);
    await tx.rollback();
    await db.close();
  });

  test("limit counts visible rows only (not deletes); limit 0 returns nothing", async () => {
    const { db, tx } = await seeded();
    assert.deepEqual(await scanKeys(tx, "a", { limit: 3 }), ["a", "b", "e"]);
    assert.deepEqual(await scanKeys(tx, "a", { limit: 3, reverse: true }), ["i", "h", "f"]);
    assert.deepEqual(await scanKeys(tx, "a", { limit: 1, gt: "b" }), ["e"]);
    assert.deepEqual(await scanKeys(tx, "a", { limit: 0 }), []);
    assert.deepEqual(await scanKeys(tx, "a", { limit: 0, reverse: true }), []);
    assert.deepEqual(await scanKeys(tx, "a", { limit: 100 }), ["a", "b", "e", "f", "h", "i"]);
    assert.equal(await codeOf(() => collect(tx.scan("a", { limit: -1 }))), "TXTDB_INVALID_ARGUMENT");
    assert.equal(await codeOf(() => collect(tx.scan("a", { limit: Number.NaN }))), "TXTDB_INVALID_ARGUMENT");
    await tx.rollback();
    await db.close();
  });

  test("gte / gt / lte / lt bound own writes and committed rows alike", async () => {
    const { db, tx } = await seeded();
    assert.deepEqual(await scanKeys(tx, "a", { gte: "e" }), ["e", "f", "h", "i"]);
    assert.deepEqual(await scanKeys(tx, "a", { gt: "e" }), ["f", "h", "i"]);
    assert.deepEqual(await scanKeys(tx, "a", { lte: "f" }), ["a", "b", "e", "f"]);
    assert.deepEqual(await scanKeys(tx, "a", { lt: "f" }), ["a", "b", "e"]);
    assert.deepEqual(await scanKeys(tx, "a", { gt: "a", lt: "i" }), ["b", "e", "f", "h"]);
    assert.deepEqual(await scanKeys(tx, "a", { gte: "c", lte: "g", reverse: true }), ["f", "e"]);
    assert.deepEqual(await scanKeys(tx, "a", { gt: "d", lt: "d" }), []);
    assert.deepEqual(await scanKeys(tx, "a", { gte: "h", lt: "c" }), []);
    await tx.rollback();
    await db.close();
  });

  test("a string prefix matches the string keys starting with it, and no other type", async () => {
    const { db } = await fresh();
    await db.transaction(async (tx) => {
      for (const k of ["user", "user:", "user:a", "user:b", "user:b:x", "usera", "v", "use"]) await tx.put("p", k, k);
      await tx.put("p", ["user:a"], "array");
      await tx.put("p", 5, "number");
      await tx.put("p", new TextEncoder().encode("user:a"), "bytes");
    });
    const tx = await db.begin();
    await tx.put("p", "user:c", "own");
    await tx.delete("p", "user:a");
    assert.deepEqual(await scanKeys(tx, "p", { prefix: "user:" }), ["user:", "user:b", "user:b:x", "user:c"]);
    assert.deepEqual(await scanKeys(tx, "p", { prefix: "user:", reverse: true }), ["user:c", "user:b:x", "user:b", "user:"]);
    assert.deepEqual(await scanKeys(tx, "p", { prefix: "user" }), ["user", "user:", "user:b", "user:b:x", "user:c", "usera"]);
    // bounds apply within the prefix
    assert.deepEqual(await scanKeys(tx, "p", { prefix: "user:", gte: "user:b" }), ["user:b", "user:b:x", "user:c"]);
    assert.deepEqual(await scanKeys(tx, "p", { prefix: "user:", gt: "user:b" }), ["user:b:x", "user:c"]);
    assert.deepEqual(await scanKeys(tx, "p", { prefix: "user:", lt: "user:c" }), ["user:", "user:b", "user:b:x"]);
    assert.deepEqual(await scanKeys(tx, "p", { prefix: "user:", lte: "user:b" }), ["user:", "user:b"]);
    // bounds outside the prefix do not widen it
    assert.deepEqual(await scanKeys(tx, "p", { prefix: "user:", gte: "a", lt: "zzz" }), ["user:", "user:b", "user:b:x", "user:c"]);
    assert.deepEqual(await scanKeys(tx, "p", { prefix: "user:", limit: 2, reverse: true }), ["user:c", "user:b:x"]);
    assert.deepEqual(await scanKeys(tx, "p", { prefix: "nope" }), []);
    // "" is the prefix of every string key, and only of string keys
    assert.deepEqual((await scanKeys(tx, "p", { prefix: "" })).length, 8);
    await tx.rollback();
    await db.close();
  });

  test("a composite prefix matches element-wise, never by string prefix of an element", async () => {
    const { db } = await fresh();
    await db.transaction(async (tx) => {
      await tx.put("c", ["acme", 1], "a1");
      await tx.put("c", ["acme", 2], "a2");
      await tx.put("c", ["acme", 10], "a10");
      await tx.put("c", ["acme"], "a");
      await tx.put("c", ["acme", 1, "x"], "a1x");
      await tx.put("c", ["acmeX", 1], "X1");
      await tx.put("c", ["acm", 1], "m1");
      await tx.put("c", "acme", "string");
    });
    const tx = await db.begin();
    await tx.put("c", ["acme", 5], "own5");
    await tx.delete("c", ["acme", 2]);
    assert.deepEqual(await scanKeys(tx, "c", { prefix: ["acme"] }), [["acme"], ["acme", 1], ["acme", 1, "x"], ["acme", 5], ["acme", 10]]);
    assert.deepEqual(await scanKeys(tx, "c", { prefix: ["acme", 1] }), [["acme", 1], ["acme", 1, "x"]]);
    assert.deepEqual(await scanKeys(tx, "c", { prefix: ["acme"], gt: ["acme", 1], lt: ["acme", 10] }), [["acme", 1, "x"], ["acme", 5]]);
    assert.deepEqual(await scanKeys(tx, "c", { prefix: ["acme"], gte: ["acme", 5], reverse: true }), [["acme", 10], ["acme", 5]]);
    assert.deepEqual(await scanKeys(tx, "c", { prefix: ["acme"], lte: ["acme", 1] }), [["acme"], ["acme", 1]]);
    assert.deepEqual(await scanKeys(tx, "c", { prefix: "acme" }), ["acme"]);
    await tx.rollback();
    await db.close();
  });

  test("scan of an empty or unknown namespace yields nothing; own writes alone are returned", async () => {
    const { db } = await fresh();
    const tx = await db.begin();
    assert.deepEqual(await collect(tx.scan("none")), []);
    await tx.put("new", 2, "two");
    await tx.put("new", 1, "one");
    assert.deepEqual(await collect(tx.scan("new")), [[1, "one"], [2, "two"]]);
    assert.deepEqual(await collect(tx.scan("new", { reverse: true })), [[2, "two"], [1, "one"]]);
    await tx.rollback();
    await db.close();
  });

  test("dropNamespace in a transaction hides every committed row; puts after it recreate the namespace", async () => {
    const { db } = await fresh();
    await db.transaction(async (tx) => {
      for (let i = 0; i < 5; i++) await tx.put("d", i, i);
    });
    const tx = await db.begin();
    await tx.dropNamespace("d");
    assert.equal(await tx.get("d", 1), undefined);
    assert.deepEqual(await collect(tx.scan("d")), []);
    await tx.put("d", 3, "again");
    assert.deepEqual(await collect(tx.scan("d")), [[3, "again"]]);
    assert.equal(await tx.get("d", 3), "again");
    assert.equal(await tx.get("d", 4), undefined);
    await tx.commit();
    const after = await db.begin();
    assert.deepEqual(await collect(after.scan("d")), [[3, "again"]]);
    await after.rollback();
    await db.close();
  });
});

// ---------------------------------------------------------------------------

describe("values never alias engine state (TX-7)", () => {
  test("mutating the object you put, before or after commit, changes nothing stored", async () => {
    const { db } = await fresh();
    const obj = { n: 1, list: [1, 2], when: new Date(1000), m: new Map([["a", 1]]) };
    const tx = await db.begin();
    await tx.put("a", "x", obj);
    obj.n = 99;
    obj.list.push(3);
    obj.when.setTime(5);
    obj.m.set("b", 2);
    assert.deepEqual(await tx.get("a", "x"), { n: 1, list: [1, 2], when: new Date(1000), m: new Map([["a", 1]]) });
    await tx.commit();
    obj.n = 100;
    assert.deepEqual(await db.get("a", "x"), { n: 1, list: [1, 2], when: new Date(1000), m: new Map([["a", 1]]) });
    await db.close();
  });

  test("mutating a value returned by get or scan changes nothing another read sees", async () => {
    const { db } = await fresh();
    await db.put("a", "x", { n: 1, list: [1] });
    const tx = await db.begin();
    const v1 = (await tx.get("a", "x")) as { n: number; list: number[] };
    v1.n = 2;
    v1.list.push(2);
    assert.deepEqual(await tx.get("a", "x"), { n: 1, list: [1] });
    const v2 = ((await collect(tx.scan("a"))) as Array<[Key, { n: number }]>)[0]![1];
    v2.n = 3;
    assert.deepEqual(await tx.get("a", "x"), { n: 1, list: [1] });
    assert.deepEqual(await db.get("a", "x"), { n: 1, list: [1] });
    // own writes too
    await tx.put("a", "y", { n: 1 });
    const own = (await tx.get("a", "y")) as { n: number };
    own.n = 5;
    const ownScanned = ((await collect(tx.scan("a"))) as Array<[Key, { n: number }]>)[1]![1];
    assert.deepEqual(ownScanned, { n: 1 });
    ownScanned.n = 6;
    await tx.commit();
    assert.deepEqual(await db.get("a", "y"), { n: 1 });
    await db.close();
  });

  test("values served from in-memory versions (VER-5) and page files (PG-4) are fresh copies too, plain or tagged, through every read path", async () => {
    const { db, io } = await fresh();
    const plain = () => JSON.parse('{"n":1,"deep":{"list":[1,{"x":[2]}]},"__proto__":{"p":1}}') as Record<string, unknown>;
    const tagged = () => ({ n: 1, when: new Date(1000), m: new Map([["a", [1]]]), $dollar: { y: 2 } });
    await db.put("a", "plain", plain());
    await db.put("a", "tagged", tagged());
    const mutate = (v: unknown): void => {
      const o = v as Record<string, any>;
      o.n = 99;
      if ("deep" in o) o.deep.list[1].x.push(3);
      if ("m" in o) o.m.get("a").push(2);
      if ("$dollar" in o) o.$dollar.y = 3;
    };
    const check = async (d: Database): Promise<void> => {
      for (let round = 0; round < 2; round++) {
        const tx = await d.begin({ readOnly: true });
        mutate(await tx.get("a", "plain"));
        mutate(await d.get("a", "tagged"));
        for (const [, v] of await collect(tx.scan("a"))) mutate(v);
        assert.deepEqual(await tx.get("a", "plain"), plain());
        assert.equal(Object.getPrototypeOf(await tx.get("a", "plain")), Object.prototype, "an own __proto__ key never sets the prototype (VAL-5)");
        assert.deepEqual(await d.get("a", "tagged"), tagged());
        assert.deepEqual(await collect(tx.scan("a")), [["plain", plain()], ["tagged", tagged()]]);
        await tx.rollback();
      }
    };
    await check(db); // from the versions, parsed at the first read and kept parsed (VER-5)
    await db.checkpoint(); // the pages a checkpoint admits hold text until their first point read
    await check(db);
    await db.close();
    const again = await open("/db", { io });
    await check(again); // pages read from their files hold JSON from the start
    await again.close();
  });

  test("VER-5: a snapshot older than a key's newest version reads its own version, fresh each time", async () => {
    const { db } = await fresh();
    await db.put("a", "x", { n: 1, list: [1] });
    const old = await db.begin({ readOnly: true });
    assert.deepEqual(await old.get("a", "x"), { n: 1, list: [1] }); // the newest version: parsed and kept
    await db.put("a", "x", { n: 2, list: [2] }); // supersedes it
    for (const tx of [old, old]) {
      const v = (await tx.get("a", "x")) as { n: number; list: number[] };
      assert.deepEqual(v, { n: 1, list: [1] });
      v.list.push(9);
    }
    for (let i = 0; i < 2; i++) {
      const w = (await db.get("a", "x")) as { n: number; list: number[] };
      assert.deepEqual(w, { n: 2, list: [2] });
      w.list.push(9);
    }
    await old.rollback();
    await db.close();
  });

  test("mutating a Uint8Array key after put changes nothing", async () => {
    const { db } = await fresh();
    const key = new Uint8Array([1, 2, 3]);
    await db.put("a", key, "v");
    key[0] = 9;
    assert.equal(await db.get("a", new Uint8Array([1, 2, 3])), "v");
    assert.equal(await db.get("a", key), undefined);
    await db.close();
  });
});

// ---------------------------------------------------------------------------

describe("invalid keys, values and names", () => {
  const badKeys: Array<[string, unknown]> = [
    ["NaN", Number.NaN],
    ["null", null],
    ["undefined", undefined],
    ["an object", { a: 1 }],
    ["an empty composite", []],
    ["an invalid Date", new Date(Number.NaN)],
    ["a function", () => 1],
    ["a symbol", Symbol("s")],
    ["a composite holding NaN", ["a", Number.NaN]],
    ["a lone surrogate", "\uD800"],
    ["a key past keyBytesMax", "x".repeat(5000)],
  ];

  test("a bad key throws TXTDB_INVALID_KEY at put/delete/get, and the database stays unchanged", async () => {
    const { db } = await fresh();
    await db.put("a", "keep", 1);
    for (const [what, key] of badKeys) {
      const tx = await db.begin();
      assert.equal(await codeOf(() => tx.put("a", key as Key, 1)), "TXTDB_INVALID_KEY", `put with ${what}`);
      assert.equal(await codeOf(() => tx.delete("a", key as Key)), "TXTDB_INVALID_KEY", `delete with ${what}`);
      assert.equal(await codeOf(() => tx.get("a", key as Key)), "TXTDB_INVALID_KEY", `get with ${what}`);
      assert.deepEqual(await tx.commit(), { tsn: 1 }, `nothing buffered after ${what}`);
      assert.equal(await codeOf(() => db.put("a", key as Key, 1)), "TXTDB_INVALID_KEY", `db.put with ${what}`);
    }
    assert.equal(db.stats().lastTsn, 1);
    assert.deepEqual(await collect((await db.begin()).scan("a")), [["keep", 1]]);
    await db.close();
  });

  test("a bad scan bound or prefix throws TXTDB_INVALID_KEY", async () => {
    const { db } = await fresh();
    const tx = await db.begin();
    assert.equal(await codeOf(() => collect(tx.scan("a", { gte: Number.NaN }))), "TXTDB_INVALID_KEY");
    assert.equal(await codeOf(() => collect(tx.scan("a", { prefix: null as unknown as Key }))), "TXTDB_INVALID_KEY");
    await tx.rollback();
    await db.close();
  });

  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic["self"] = cyclic;
  const badValues: Array<[string, unknown]> = [
    ["a function", () => 1],
    ["a symbol", Symbol("s")],
    ["a cycle", cyclic],
    ["an object holding a function", { f: () => 1 }],
    ["an array holding a symbol", [1, Symbol("x")]],
    ["a class instance with a function property", { nested: { deep: [{ fn: Math.max }] } }],
  ];

  test("a bad value throws TXTDB_INVALID_VALUE at put(); nothing of it is buffered or written", async () => {
    const { db } = await fresh();
    await db.put("a", "k", "original");
    for (const [what, value] of badValues) {
      const tx = await db.begin();
      await tx.put("a", "good", what);
      assert.equal(await codeOf(() => tx.put("a", "k", value)), "TXTDB_INVALID_VALUE", `put of ${what}`);
      assert.equal(await tx.get("a", "k"), "original", `the bad put of ${what} is not buffered`);
      await tx.rollback();
      assert.equal(await codeOf(() => db.put("a", "k", value)), "TXTDB_INVALID_VALUE", `db.put of ${what}`);
    }
    assert.equal(db.stats().lastTsn, 1);
    assert.equal(await db.get("a", "k"), "original");
    assert.equal(await db.get("a", "good"), undefined);
    await db.close();
  });

  const badNames: Array<[string, unknown]> = [
    ["empty", ""],
    [".", "."],
    ["..", ".."],
    ["../x", "../x"],
    ["a/b", "a/b"],
    ["/abs", "/abs"],
    ["a\\b", "a\\b"],
    ["..\\x", "..\\x"],
    ["NUL", "a\0b"],
    ["256 bytes", "n".repeat(256)],
    ["256 UTF-8 bytes in 128 chars", "é".repeat(128)],
    ["a number", 5],
    ["null", null],
    ["a lone surrogate", "x\uDC00"],
  ];

  test("bad namespace names throw TXTDB_INVALID_NAME everywhere (contract 15)", async () => {
    const { db, io } = await fresh();
    for (const [what, name] of badNames) {
      const ns = name as string;
      const tx = await db.begin();
      assert.equal(await codeOf(() => tx.put(ns, "k", 1)), "TXTDB_INVALID_NAME", `tx.put ${what}`);
      assert.equal(await codeOf(() => tx.get(ns, "k")), "TXTDB_INVALID_NAME", `tx.get ${what}`);
      assert.equal(await codeOf(() => tx.delete(ns, "k")), "TXTDB_INVALID_NAME", `tx.delete ${what}`);
      assert.equal(await codeOf(() => collect(tx.scan(ns))), "TXTDB_INVALID_NAME", `tx.scan ${what}`);
      await tx.rollback();
      assert.equal(await codeOf(() => db.put(ns, "k", 1)), "TXTDB_INVALID_NAME", `db.put ${what}`);
      assert.equal(await codeOf(() => db.get(ns, "k")), "TXTDB_INVALID_NAME", `db.get ${what}`);
      assert.equal(await codeOf(() => db.delete(ns, "k")), "TXTDB_INVALID_NAME", `db.delete ${what}`);
      assert.equal(await codeOf(() => db.dropNamespace(ns)), "TXTDB_INVALID_NAME", `dropNamespace ${what}`);
      assert.equal(await codeOf(() => db.renameNamespace(ns, "ok")), "TXTDB_INVALID_NAME", `renameNamespace from ${what}`);
      assert.equal(await codeOf(() => db.renameNamespace("ok", ns)), "TXTDB_INVALID_NAME", `renameNamespace to ${what}`);
    }
    assert.equal(db.stats().lastTsn, 0);
    await db.close();
    assert.deepEqual((await tree(io, "/")).filter((p) => !p.startsWith("/db")), []);
  });

  test("valid unusual names work and never reach outside the database directory", async () => {
    const { db, io } = await fresh();
    const names = ["n".repeat(255), "é".repeat(127), "...", ".hidden", "a.b", "con", "CON", "Con.txt", "名前", "x y", "%2F", "a%2Fb", "🙂"];
    for (const [i, ns] of names.entries()) await db.put(ns, "k", i);
    await db.checkpoint();
    for (const [i, ns] of names.entries()) assert.equal(await db.get(ns, "k"), i, ns);
    assert.deepEqual(await db.namespaces(), [...names].sort());
    await db.close();
    const paths = await tree(io, "/");
    assert.deepEqual(paths.filter((p) => !p.startsWith("/db/") && p !== "/db"), []);
    const db2 = await open("/db", { io });
    for (const [i, ns] of names.entries()) assert.equal(await db2.get(ns, "k"), i, `after reopen: ${ns}`);
    await db2.close();
  });
});

// ---------------------------------------------------------------------------
// Model-based: get and scan inside a transaction against a reference model,
// over committed rows in page files (several pages), in-memory versions
// above the checkpoint, and the transaction's own writes.

type MKey = string | number | readonly MKey[];
const domain: MKey[] = ["", "a", "aa", "ab", "b", "ba", "c", -1, 0, 1, 2.5, 10, ["a"], ["a", 1], ["a", 2], ["a", 1, "x"], ["ab", 1], ["b", 0]];
const prefixes: MKey[] = ["", "a", "ab", "b", "z", ["a"], ["a", 1], ["ab"], 1];

function rank(k: MKey): number {
  return typeof k === "string" ? 1 : typeof k === "number" ? 2 : 6;
}

/** Contract 13 on this domain (ASCII strings, numbers, arrays of them). */
function refCompare(a: MKey, b: MKey): number {
  const r = rank(a) - rank(b);
  if (r !== 0) return r;
  if (typeof a === "string" || typeof a === "number") return a < (b as typeof a) ? -1 : a > (b as typeof a) ? 1 : 0;
  const x = a as readonly MKey[];
  const y = b as readonly MKey[];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = refCompare(x[i]!, y[i]!);
    if (c !== 0) return c;
  }
  return x.length - y.length;
}

function refPrefix(p: MKey, k: MKey): boolean {
  if (typeof p === "string") return typeof k === "string" && k.startsWith(p);
  if (typeof p === "number") return k === p;
  if (!Array.isArray(k)) return false;
  const q = p as readonly MKey[];
  return k.length >= q.length && q.every((e, i) => refCompare(e, k[i]!) === 0);
}

const keyId = (k: MKey): string => JSON.stringify(k);

interface ModelScan {
  prefix?: number | undefined;
  gte?: number | undefined;
  gt?: number | undefined;
  lte?: number | undefined;
  lt?: number | undefined;
  limit?: number | undefined;
  reverse: boolean;
}

function refScan(state: Map<string, [MKey, unknown]>, s: ModelScan): MKey[] {
  let rows = [...state.values()].map(([k]) => k).sort(refCompare);
  if (s.prefix !== undefined) rows = rows.filter((k) => refPrefix(prefixes[s.prefix!]!, k));
  if (s.gte !== undefined) rows = rows.filter((k) => refCompare(k, domain[s.gte!]!) >= 0);
  if (s.gt !== undefined) rows = rows.filter((k) => refCompare(k, domain[s.gt!]!) > 0);
  if (s.lte !== undefined) rows = rows.filter((k) => refCompare(k, domain[s.lte!]!) <= 0);
  if (s.lt !== undefined) rows = rows.filter((k) => refCompare(k, domain[s.lt!]!) < 0);
  if (s.reverse) rows.reverse();
  if (s.limit !== undefined) rows = rows.slice(0, s.limit);
  return rows;
}

function toOptions(s: ModelScan): ScanOptions {
  const o: ScanOptions = { reverse: s.reverse };
  if (s.prefix !== undefined) o.prefix = prefixes[s.prefix]! as Key;
  if (s.gte !== undefined) o.gte = domain[s.gte]! as Key;
  if (s.gt !== undefined) o.gt = domain[s.gt]! as Key;
  if (s.lte !== undefined) o.lte = domain[s.lte]! as Key;
  if (s.lt !== undefined) o.lt = domain[s.lt]! as Key;
  if (s.limit !== undefined) o.limit = s.limit;
  return o;
}

describe("model: get and scan over pages, versions and own writes", () => {
  const write = fc.record({ key: fc.nat(domain.length - 1), del: fc.boolean(), v: fc.nat(1000) });
  const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
  const scanArb: fc.Arbitrary<ModelScan> = fc.record({
    prefix: opt(fc.nat(prefixes.length - 1)),
    gte: opt(fc.nat(domain.length - 1)),
    gt: opt(fc.nat(domain.length - 1)),
    lte: opt(fc.nat(domain.length - 1)),
    lt: opt(fc.nat(domain.length - 1)),
    limit: opt(fc.nat(6)),
    reverse: fc.boolean(),
  }, { requiredKeys: ["reverse"] });

  test("transaction reads match the model (seeded)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(write, { maxLength: 18 }), // base rows, checkpointed into pages
        fc.array(write, { maxLength: 8 }), // commits after the checkpoint (in-memory versions)
        fc.array(write, { maxLength: 8 }), // own writes
        fc.array(write, { maxLength: 6 }), // commits after begin (invisible)
        fc.array(scanArb, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (base, later, own, invisible, scans, bigValues) => {
          const pad = bigValues ? "x".repeat(9000) : ""; // 18 rows × 9 KB: several 64 KiB pages
          const { db } = await fresh();
          const committed = new Map<string, [MKey, unknown]>();
          const apply = (state: Map<string, [MKey, unknown]>, w: { key: number; del: boolean; v: number }): void => {
            const k = domain[w.key]!;
            if (w.del) state.delete(keyId(k));
            else state.set(keyId(k), [k, { v: w.v, pad }]);
          };
          const commitAll = async (ws: Array<{ key: number; del: boolean; v: number }>): Promise<void> => {
            if (ws.length === 0) return;
            await db.transaction(async (tx) => {
              for (const w of ws) {
                if (w.del) await tx.delete("m", domain[w.key]! as Key);
                else await tx.put("m", domain[w.key]! as Key, { v: w.v, pad });
              }
            });
          };
          await commitAll(base);
          for (const w of base) apply(committed, w);
          await db.checkpoint();
          for (const w of later) {
            await commitAll([w]);
            apply(committed, w);
          }
          const tx = await db.begin();
          await commitAll(invisible);
          const view = new Map(committed);
          for (const w of own) {
            if (w.del) await tx.delete("m", domain[w.key]! as Key);
            else await tx.put("m", domain[w.key]! as Key, { v: w.v, pad });
            apply(view, w);
          }
          for (const k of domain) {
            const expected = view.get(keyId(k));
            assert.deepEqual(await tx.get("m", k as Key), expected?.[1], `get ${keyId(k)}`);
          }
          for (const s of scans) {
            const rows = await collect(tx.scan("m", toOptions(s)));
            const expected = refScan(view, s);
            assert.deepEqual(rows.map(([k]) => k), expected, `scan ${JSON.stringify(s)}`);
            assert.deepEqual(rows.map(([, v]) => v), expected.map((k) => view.get(keyId(k))![1]));
          }
          await tx.rollback();
          await db.close();
        },
      ),
      { seed, numRuns: 150 },
    );
  });
});
