/**
 * Isolation anomaly tests (Adya / Hermitage names), for snapshot isolation
 * with first-committer-wins and the opt-in serializable mode (DESIGN.md
 * "Transactions and MVCC", contract 2–5, 8; GC-3, TX-6). Ends with a
 * model-based property test of the commit/conflict rules. Property tests
 * print their seed; replay one with TXTDB_SEED=<n>.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ConflictError, memoryIO, open, TxtDbError, type Database, type Isolation, type MemoryIO, type Transaction } from "../src/mod.ts";
import { codeOf, collect, testSeed } from "./_helpers/expect.ts";

const seed = testSeed("isolation");

/** The TSN a commit resolved with, or the code it rejected with. */
async function outcome(p: Promise<{ tsn: number }>): Promise<number | string> {
  try {
    return (await p).tsn;
  } catch (err) {
    if (err instanceof TxtDbError) return err.code;
    throw err;
  }
}

async function fresh(isolation: Isolation = "snapshot"): Promise<{ db: Database; io: MemoryIO }> {
  const io = memoryIO();
  return { db: await open("/db", { io, isolation, random: () => 0 }), io };
}

const CONFLICT = "TXTDB_CONFLICT";

// ---------------------------------------------------------------------------

describe("snapshot isolation: anomalies that never happen", () => {
  test("dirty write (G0): the later of two writers of a key is rejected; nothing of it is written", async () => {
    const { db } = await fresh();
    await db.put("n", "x", 0);
    const t1 = await db.begin();
    const t2 = await db.begin();
    await t1.put("n", "x", 1);
    await t1.put("n", "y", 1);
    await t2.put("n", "x", 2);
    await t2.put("n", "z", 2);
    assert.equal(await outcome(t1.commit()), 2);
    assert.equal(await outcome(t2.commit()), CONFLICT);
    assert.equal(await db.get("n", "x"), 1);
    assert.equal(await db.get("n", "y"), 1);
    assert.equal(await db.get("n", "z"), undefined, "nothing of the rejected transaction is written");
    await db.close();
  });

  test("dirty write (G0) in one batch: of two concurrent commits the later in line is rejected", async () => {
    const { db } = await fresh();
    const t1 = await db.begin();
    const t2 = await db.begin();
    await t1.put("n", "x", 1);
    await t2.put("n", "x", 2);
    const [a, b] = await Promise.all([outcome(t1.commit()), outcome(t2.commit())]);
    assert.deepEqual([a, b], [1, CONFLICT]);
    assert.equal(await db.get("n", "x"), 1);
    await db.close();
  });

  test("ConflictError is a TxtDbError with code TXTDB_CONFLICT and an actionable message", async () => {
    const { db } = await fresh();
    const t1 = await db.begin();
    await t1.put("n", "x", 1);
    await db.put("n", "x", 2);
    const err = await t1.commit().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof ConflictError);
    assert.ok(err instanceof TxtDbError);
    assert.equal(err.code, CONFLICT);
    assert.match(err.message, /n/);
    await db.close();
  });

  test("dirty read / aborted read (G1a): a rolled-back write is never seen", async () => {
    const { db } = await fresh();
    await db.put("n", "x", 0);
    const t1 = await db.begin();
    await t1.put("n", "x", 99);
    const t2 = await db.begin();
    assert.equal(await t2.get("n", "x"), 0, "uncommitted write invisible");
    await t1.rollback();
    const t3 = await db.begin();
    assert.equal(await t2.get("n", "x"), 0);
    assert.equal(await t3.get("n", "x"), 0, "aborted write never visible");
    assert.deepEqual(await collect(t3.scan("n")), [["x", 0]]);
    await t2.rollback();
    await t3.rollback();
    await db.close();
  });

  test("dirty read of a rejected commit (G1a): a conflicting commit's writes are never seen", async () => {
    const { db } = await fresh();
    const t1 = await db.begin();
    await t1.put("n", "x", "loser");
    await t1.put("n", "w", "loser");
    await db.put("n", "x", "winner");
    assert.equal(await outcome(t1.commit()), CONFLICT);
    assert.equal(await db.get("n", "x"), "winner");
    assert.equal(await db.get("n", "w"), undefined);
    await db.close();
  });

  test("intermediate read (G1b): only a transaction's final write of a key is ever visible", async () => {
    const { db } = await fresh();
    await db.put("n", "x", 0);
    const t1 = await db.begin();
    await t1.put("n", "x", 1);
    const before = await db.begin();
    await t1.put("n", "x", 2);
    assert.equal(await before.get("n", "x"), 0);
    await t1.commit();
    assert.equal(await before.get("n", "x"), 0);
    const after = await db.begin();
    assert.equal(await after.get("n", "x"), 2);
    await before.rollback();
    await after.rollback();
    await db.close();
  });

  test("lost update (P4): of two read-modify-writes of a counter, the later committer is rejected", async () => {
    const { db } = await fresh();
    await db.put("n", "counter", 10);
    const t1 = await db.begin();
    const t2 = await db.begin();
    const a = (await t1.get("n", "counter")) as number;
    const b = (await t2.get("n", "counter")) as number;
    await t1.put("n", "counter", a + 1);
    await t2.put("n", "counter", b + 1);
    assert.equal(await outcome(t2.commit()), 2);
    assert.equal(await outcome(t1.commit()), CONFLICT);
    assert.equal(await db.get("n", "counter"), 11);
    await db.close();
  });

  test("lost update (P4) when both write the same value: still a conflict (per key, not per value)", async () => {
    const { db } = await fresh();
    await db.put("n", "x", "same");
    const t1 = await db.begin();
    const t2 = await db.begin();
    await t1.put("n", "x", "new");
    await t2.put("n", "x", "new");
    assert.equal(await outcome(t1.commit()), 2);
    assert.equal(await outcome(t2.commit()), CONFLICT);
    assert.equal(db.stats().lastTsn, 2);
    await db.close();
  });

  test("read skew (G-single): a transaction sees both of two related rows at its snapshot", async () => {
    const { db } = await fresh();
    await db.transaction(async (tx) => {
      await tx.put("acct", "a", 50);
      await tx.put("acct", "b", 50);
    });
    const reader = await db.begin();
    const a = (await reader.get("acct", "a")) as number;
    await db.transaction(async (tx) => {
      await tx.put("acct", "a", ((await tx.get("acct", "a")) as number) - 30);
      await tx.put("acct", "b", ((await tx.get("acct", "b")) as number) + 30);
    });
    const b = (await reader.get("acct", "b")) as number;
    assert.equal(a + b, 100);
    assert.deepEqual(await collect(reader.scan("acct")), [["a", 50], ["b", 50]]);
    await reader.rollback();
    await db.close();
  });

  test("phantom visibility: a scan never sees rows committed after begin(), nor misses deleted ones", async () => {
    const { db } = await fresh();
    await db.transaction(async (tx) => {
      for (const k of ["b", "d"]) await tx.put("n", k, k);
    });
    const tx = await db.begin();
    const first = await collect(tx.scan("n"));
    await db.put("n", "a", "a");
    await db.put("n", "c", "c");
    await db.delete("n", "d");
    await db.checkpoint(); // pages change under the open snapshot
    await db.put("n", "e", "e");
    assert.deepEqual(await collect(tx.scan("n")), first);
    assert.deepEqual(await collect(tx.scan("n", { reverse: true })), [...first].reverse());
    assert.equal(await tx.get("n", "c"), undefined);
    assert.equal(await tx.get("n", "d"), "d");
    await tx.rollback();
    await db.close();
  });

  test("insert–insert conflict: two transactions inserting the same absent key, the later is rejected", async () => {
    const { db } = await fresh();
    const t1 = await db.begin();
    const t2 = await db.begin();
    assert.equal(await t1.get("n", "new"), undefined);
    assert.equal(await t2.get("n", "new"), undefined);
    await t1.put("n", "new", 1);
    await t2.put("n", "new", 2);
    assert.equal(await outcome(t1.commit()), 1);
    assert.equal(await outcome(t2.commit()), CONFLICT);
    assert.equal(await db.get("n", "new"), 1);
    await db.close();
  });

  test("delete–put conflict, both orders", async () => {
    const { db } = await fresh();
    await db.put("n", "x", 0);
    let t1 = await db.begin();
    let t2 = await db.begin();
    await t1.delete("n", "x");
    await t2.put("n", "x", 2);
    assert.equal(await outcome(t1.commit()), 2);
    assert.equal(await outcome(t2.commit()), CONFLICT);
    assert.equal(await db.get("n", "x"), undefined);
    await db.put("n", "x", 3);
    t1 = await db.begin();
    t2 = await db.begin();
    await t1.put("n", "x", 4);
    await t2.delete("n", "x");
    assert.equal(await outcome(t1.commit()), 4);
    assert.equal(await outcome(t2.commit()), CONFLICT);
    assert.equal(await db.get("n", "x"), 4);
    await db.close();
  });

  test("deleting an absent key is a write that conflicts (contract 5)", async () => {
    const { db } = await fresh();
    let t1 = await db.begin();
    let t2 = await db.begin();
    await t1.delete("n", "ghost");
    await t2.put("n", "ghost", 1);
    assert.equal(await outcome(t1.commit()), 1);
    assert.equal(await outcome(t2.commit()), CONFLICT);
    t1 = await db.begin();
    t2 = await db.begin();
    await t1.delete("n", "ghost");
    await t2.delete("n", "ghost");
    assert.equal(await outcome(t1.commit()), 2);
    assert.equal(await outcome(t2.commit()), CONFLICT);
    t1 = await db.begin();
    await db.delete("n", "ghost"); // tsn 3: a committed delete of an absent key
    await t1.put("n", "ghost", 9);
    assert.equal(await outcome(t1.commit()), CONFLICT);
    assert.equal(await db.get("n", "ghost"), undefined);
    await db.close();
  });

  test("two transactions writing different keys of the same page both commit", async () => {
    const { db } = await fresh();
    await db.transaction(async (tx) => {
      for (let i = 0; i < 10; i++) await tx.put("n", i, i);
    });
    await db.checkpoint(); // one page holds every key
    const t1 = await db.begin();
    const t2 = await db.begin();
    await t1.put("n", 3, "t1");
    await t2.put("n", 4, "t2");
    await t2.put("n", 100, "t2 new");
    assert.deepEqual(await Promise.all([outcome(t1.commit()), outcome(t2.commit())]), [2, 3]);
    const t3 = await db.begin();
    const t4 = await db.begin();
    await t3.put("n", 5, "t3");
    await t4.delete("n", 6);
    assert.equal(await outcome(t4.commit()), 4);
    assert.equal(await outcome(t3.commit()), 5);
    assert.equal(await db.get("n", 3), "t1");
    assert.equal(await db.get("n", 4), "t2");
    assert.equal(await db.get("n", 5), "t3");
    assert.equal(await db.get("n", 6), undefined);
    await db.close();
  });

  test("write skew (G2-item) is allowed under snapshot isolation", async () => {
    const { db } = await fresh("snapshot");
    await db.transaction(async (tx) => {
      await tx.put("doctors", "alice", { onCall: true });
      await tx.put("doctors", "bob", { onCall: true });
    });
    const t1 = await db.begin();
    const t2 = await db.begin();
    for (const t of [t1, t2]) {
      assert.deepEqual(await t.get("doctors", "alice"), { onCall: true });
      assert.deepEqual(await t.get("doctors", "bob"), { onCall: true });
    }
    await t1.put("doctors", "alice", { onCall: false });
    await t2.put("doctors", "bob", { onCall: false });
    assert.equal(await outcome(t1.commit()), 2);
    assert.equal(await outcome(t2.commit()), 3);
    await db.close();
  });

  test("a rejected commit consumes no TSN: TSNs stay consecutive (contract 4)", async () => {
    const { db } = await fresh();
    const tsns: number[] = [];
    for (let round = 0; round < 10; round++) {
      const a = await db.begin();
      const b = await db.begin();
      const c = await db.begin();
      await a.put("n", "hot", round);
      await b.put("n", "hot", -round);
      await c.put("n", `cold${round}`, round);
      const results = await Promise.all([outcome(a.commit()), outcome(b.commit()), outcome(c.commit())]);
      assert.equal(results[1], CONFLICT);
      for (const r of results) if (typeof r === "number") tsns.push(r);
      tsns.push(...[await outcome(db.put("n", "after", round))].filter((r): r is number => typeof r === "number"));
    }
    assert.deepEqual(tsns, Array.from({ length: 30 }, (_, i) => i + 1));
    assert.equal(db.stats().lastTsn, 30);
    assert.equal(db.stats().conflicts, 10);
    await db.close();
  });

  test("lost update (P4) across a checkpoint that runs while the commit waits for the writer lock", async () => {
    const { db, io } = await fresh();
    await db.put("n", "k", 0);
    const t1 = await db.begin(); // snapshot 1
    await db.put("n", "k", 1); // TSN 2: t1 must lose
    await t1.put("n", "k", 5);
    // Another holder of the writer lock (another process, in real life) delays t1's validation.
    const holder = await io.open("/db/lock");
    await holder.lock(0, 1, "exclusive");
    const committing = outcome(t1.commit());
    await new Promise((r) => setTimeout(r, 5));
    // must not fold away what t1's validation needs (DB-3); it needs the
    // writer lock only at its end, to tell other processes
    const checkpointing = db.checkpoint();
    await new Promise((r) => setTimeout(r, 20));
    holder.unlock(0, 1);
    await holder.close();
    await checkpointing;
    assert.equal(await committing, CONFLICT);
    assert.equal(await db.get("n", "k"), 1);
    await db.close();
  });
});

// ---------------------------------------------------------------------------

describe("serializable: validates reads and scanned ranges (contract 2, 3; TX-6)", () => {
  for (const how of ["database default", "per transaction"] as const) {
    const begin = (db: Database): Promise<Transaction> => (how === "per transaction" ? db.begin({ isolation: "serializable" }) : db.begin());
    const make = (): Promise<{ db: Database }> => fresh(how === "per transaction" ? "snapshot" : "serializable");

    test(`write skew (G2-item) is rejected: the later committer gets TXTDB_CONFLICT (${how})`, async () => {
      const { db } = await make();
      await db.transaction(async (tx) => {
        await tx.put("doctors", "alice", { onCall: true });
        await tx.put("doctors", "bob", { onCall: true });
      });
      const t1 = await begin(db);
      const t2 = await begin(db);
      assert.equal(t1.isolation, "serializable");
      for (const t of [t1, t2]) {
        await t.get("doctors", "alice");
        await t.get("doctors", "bob");
      }
      await t1.put("doctors", "alice", { onCall: false });
      await t2.put("doctors", "bob", { onCall: false });
      assert.equal(await outcome(t2.commit()), 2);
      assert.equal(await outcome(t1.commit()), CONFLICT);
      assert.deepEqual(await db.get("doctors", "alice"), { onCall: true });
      assert.deepEqual(await db.get("doctors", "bob"), { onCall: false });
      await db.close();
    });

    test(`write skew (G2-item) is rejected within one batch (${how})`, async () => {
      const { db } = await make();
      const t1 = await begin(db);
      const t2 = await begin(db);
      assert.equal(await t1.get("n", "x"), undefined);
      assert.equal(await t2.get("n", "y"), undefined);
      await t1.put("n", "y", 1);
      await t2.put("n", "x", 1);
      assert.deepEqual(await Promise.all([outcome(t1.commit()), outcome(t2.commit())]), [1, CONFLICT]);
      await db.close();
    });

    test(`phantom write skew (G2) via scanned ranges is rejected (${how})`, async () => {
      const { db } = await make();
      await db.put("bookings", ["room1", 9], "alice");
      const t1 = await begin(db);
      const t2 = await begin(db);
      // both check that room 2 is free at 10 by scanning, then book it under different keys
      assert.deepEqual(await collect(t1.scan("bookings", { prefix: ["room2"] })), []);
      assert.deepEqual(await collect(t2.scan("bookings", { prefix: ["room2"] })), []);
      await t1.put("bookings", ["room2", 10, "t1"], "t1");
      await t2.put("bookings", ["room2", 10, "t2"], "t2");
      assert.equal(await outcome(t1.commit()), 2);
      assert.equal(await outcome(t2.commit()), CONFLICT);
      // and in one batch
      const t3 = await begin(db);
      const t4 = await begin(db);
      assert.equal((await collect(t3.scan("bookings", { prefix: ["room3"] }))).length, 0);
      assert.equal((await collect(t4.scan("bookings", { prefix: ["room3"] }))).length, 0);
      await t3.put("bookings", ["room3", 1], "t3");
      await t4.put("bookings", ["room3", 2], "t4");
      assert.deepEqual(await Promise.all([outcome(t3.commit()), outcome(t4.commit())]), [3, CONFLICT]);
      await db.close();
    });

    test(`a delete inside a scanned range is a phantom too (${how})`, async () => {
      const { db } = await make();
      await db.transaction(async (tx) => {
        for (const k of ["a", "b", "c"]) await tx.put("n", k, k);
      });
      const t1 = await begin(db);
      assert.equal((await collect(t1.scan("n", { gte: "a", lte: "c" }))).length, 3);
      await db.delete("n", "b");
      await t1.put("other", "count", 3);
      assert.equal(await outcome(t1.commit()), CONFLICT);
      await db.close();
    });

    test(`read-only transactions always commit even when what they read changed (${how})`, async () => {
      const { db } = await make();
      await db.put("n", "x", 0);
      const t1 = await begin(db);
      const t2 = await db.begin({ readOnly: true, isolation: "serializable" });
      await t1.get("n", "x");
      await collect(t1.scan("n"));
      await t2.get("n", "x");
      await db.put("n", "x", 1);
      await db.put("n", "y", 1);
      assert.deepEqual(await t1.commit(), { tsn: 1 });
      assert.deepEqual(await t2.commit(), { tsn: 1 });
      await db.close();
    });
  }

  test("a write outside the range a scan observed does not conflict (TX-6: range, not namespace)", async () => {
    const { db } = await fresh("serializable");
    await db.transaction(async (tx) => {
      for (const k of ["a", "b", "c", "d"]) await tx.put("n", k, k);
    });
    const t1 = await db.begin();
    assert.deepEqual((await collect(t1.scan("n", { limit: 2 }))).map(([k]) => k), ["a", "b"]);
    await db.put("n", "c", "changed"); // after the last key returned: not observed
    await db.put("n", "zz", "new");
    await t1.put("out", "x", 1);
    assert.equal(await outcome(t1.commit()), 4);
    const t2 = await db.begin();
    assert.deepEqual((await collect(t2.scan("n", { limit: 2, reverse: true }))).map(([k]) => k), ["zz", "d"]);
    await db.put("n", "a", "changed");
    await t2.put("out", "y", 1);
    assert.equal(await outcome(t2.commit()), 6);
    // but inside the observed range it does
    const t3 = await db.begin();
    await collect(t3.scan("n", { limit: 2 }));
    await db.put("n", "aa", "phantom");
    await t3.put("out", "z", 1);
    assert.equal(await outcome(t3.commit()), CONFLICT);
    await db.close();
  });

  test("a scan read with next() and never closed still counts as a read (contract 3)", async () => {
    const { db } = await fresh("serializable");
    await db.put("n", "m", 1);
    const t1 = await db.begin();
    const t2 = await db.begin();
    const it1 = t1.scan("n");
    const it2 = t2.scan("n");
    assert.deepEqual((await it1.next()).value, ["m", 1]); // observed: from the start up to "m"
    assert.deepEqual((await it2.next()).value, ["m", 1]);
    await t1.put("n", "a", "t1"); // inside what t2 observed
    await t2.put("n", "b", "t2"); // inside what t1 observed
    assert.equal(await outcome(t1.commit()), 2);
    assert.equal(await outcome(t2.commit()), CONFLICT);
    await db.close();
  });

  test("snapshot transactions in a serializable database can opt out per transaction", async () => {
    const { db } = await fresh("serializable");
    const t1 = await db.begin({ isolation: "snapshot" });
    const t2 = await db.begin({ isolation: "snapshot" });
    await t1.get("n", "x");
    await t2.get("n", "y");
    await t1.put("n", "y", 1);
    await t2.put("n", "x", 1);
    assert.equal(await outcome(t1.commit()), 1);
    assert.equal(await outcome(t2.commit()), 2);
    await db.close();
  });
});

// ---------------------------------------------------------------------------

describe("db.transaction(): retries on ConflictError only (contract 8)", () => {
  test("resolves with fn's result; a conflict is retried and the retry commits", async () => {
    const { db } = await fresh();
    await db.put("n", "x", 0);
    let attempts = 0;
    const result = await db.transaction(async (tx) => {
      attempts++;
      const x = (await tx.get("n", "x")) as number;
      if (attempts === 1) await db.put("n", "x", 100); // a concurrent writer wins the first attempt
      await tx.put("n", "x", x + 1);
      return `done after ${attempts}`;
    });
    assert.equal(result, "done after 2");
    assert.equal(attempts, 2);
    assert.equal(await db.get("n", "x"), 101);
    await db.close();
  });

  for (const retries of [0, 1, 3]) {
    test(`makes at most retries + 1 attempts (retries: ${retries}), then rejects with ConflictError`, async () => {
      const { db } = await fresh();
      let attempts = 0;
      const err = await db.transaction(async (tx) => {
        attempts++;
        await tx.get("n", "x");
        await db.put("n", "x", attempts); // always loses
        await tx.put("n", "x", -1);
      }, { retries }).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof ConflictError, String(err));
      assert.equal(attempts, retries + 1);
      assert.equal(await db.get("n", "x"), retries + 1);
      assert.equal(db.stats().openTransactions, 0, "every attempt's transaction ended");
      await db.close();
    });
  }

  test("the default allows 10 retries (11 attempts)", async () => {
    const { db } = await fresh();
    let attempts = 0;
    const code = await codeOf(() => db.transaction(async (tx) => {
      attempts++;
      await db.put("n", "x", attempts);
      await tx.put("n", "x", -1);
    }));
    assert.equal(code, CONFLICT);
    assert.equal(attempts, 11);
    await db.close();
  });

  test("does not retry other errors: a plain Error, a TxtDbError, a bad value", async () => {
    const { db } = await fresh();
    let attempts = 0;
    const boom = new Error("boom");
    await assert.rejects(db.transaction(async () => {
      attempts++;
      throw boom;
    }), (e) => e === boom);
    assert.equal(attempts, 1);
    attempts = 0;
    assert.equal(await codeOf(() => db.transaction(async (tx) => {
      attempts++;
      await tx.put("n", "x", () => 1);
    })), "TXTDB_INVALID_VALUE");
    assert.equal(attempts, 1);
    attempts = 0;
    assert.equal(await codeOf(() => db.transaction(async () => {
      attempts++;
      throw new TxtDbError("TXTDB_IO", "disk on fire");
    })), "TXTDB_IO");
    assert.equal(attempts, 1);
    assert.equal(db.stats().lastTsn, 0);
    assert.equal(db.stats().openTransactions, 0);
    await db.close();
  });

  test("an aborted signal stops the retries with TXTDB_ABORTED", async () => {
    const { db } = await fresh();
    const ac = new AbortController();
    let attempts = 0;
    const code = await codeOf(() => db.transaction(async (tx) => {
      attempts++;
      await db.put("n", "x", attempts);
      await tx.put("n", "x", -1);
      if (attempts === 2) ac.abort(new Error("stop"));
    }, { signal: ac.signal, retries: 10 }));
    assert.equal(code, "TXTDB_ABORTED");
    assert.equal(attempts, 2);
    await db.close();
  });

  test("an invalid retries option is TXTDB_INVALID_ARGUMENT", async () => {
    const { db } = await fresh();
    assert.equal(await codeOf(() => db.transaction(async () => 1, { retries: -1 })), "TXTDB_INVALID_ARGUMENT");
    assert.equal(await codeOf(() => db.transaction(async () => 1, { retries: 1.5 })), "TXTDB_INVALID_ARGUMENT");
    await db.close();
  });

  test("50 concurrent counter increments through db.transaction end at exactly 50", async () => {
    const io = memoryIO();
    const db = await open("/db", { io }); // real jitter (Math.random)
    await db.put("n", "counter", 0);
    const tasks = Array.from({ length: 50 }, () => db.transaction(async (tx) => {
      const c = (await tx.get("n", "counter")) as number;
      await tx.put("n", "counter", c + 1);
      return c + 1;
    }));
    const results = await Promise.all(tasks);
    assert.equal(await db.get("n", "counter"), 50);
    assert.deepEqual([...results].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
    assert.equal(db.stats().lastTsn, 51);
    await db.close();
  });
});

// ---------------------------------------------------------------------------
// Model: random interleavings of transactions (gets, puts, deletes, full
// scans, commits fired with or without awaiting, checkpoints) against the
// rules: reads see the snapshot plus own writes; commits are validated in
// the order commit() was called, first-committer-wins on written keys (and,
// serializable, on keys read and scanned ranges); accepted commits take
// consecutive TSNs; read-only ones resolve with their snapshot.

const keys = ["x", "y", "z"] as const;
type Action =
  | { kind: "get"; t: number; k: number }
  | { kind: "put"; t: number; k: number; v: number }
  | { kind: "del"; t: number; k: number }
  | { kind: "scan"; t: number }
  | { kind: "commit"; t: number; wait: boolean }
  | { kind: "rollback"; t: number }
  | { kind: "checkpoint"; wait: boolean }
  | { kind: "settle" };

interface TxRecord {
  tx: Transaction;
  snapshot: number;
  resolvedBefore: number;
  own: Map<string, number | undefined>;
  reads: Set<string>;
  scanned: boolean;
  checks: Array<{ what: string; own: Map<string, number | undefined>; got: unknown; key: string | null }>;
  commitOrder: number;
  result: Promise<number | string> | null;
}

const txCount = 4;
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("get" as const), t: fc.nat(txCount - 1), k: fc.nat(keys.length - 1) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("put" as const), t: fc.nat(txCount - 1), k: fc.nat(keys.length - 1), v: fc.nat(99) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("del" as const), t: fc.nat(txCount - 1), k: fc.nat(keys.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("scan" as const), t: fc.nat(txCount - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("commit" as const), t: fc.nat(txCount - 1), wait: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("rollback" as const), t: fc.nat(txCount - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("checkpoint" as const), wait: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: "settle" as const }) },
);

async function runSchedule(isolation: Isolation, actions: Action[]): Promise<void> {
  const io = memoryIO();
  const db = await open("/db", { io, isolation });
  const pending: Array<Promise<unknown>> = [];
  let maxResolved = 0;
  let commitCalls = 0;
  // each transaction slot may be used by several transactions in turn
  const all: TxRecord[] = [];
  const slots: Array<TxRecord | null> = Array.from({ length: txCount }, () => null);
  const settle = async (): Promise<void> => {
    await Promise.all(pending.splice(0));
  };
  const active = async (t: number): Promise<TxRecord> => {
    let r = slots[t];
    if (r === null || r === undefined) {
      const resolvedBefore = maxResolved;
      const tx = await db.begin();
      r = { tx, snapshot: tx.snapshotTsn, resolvedBefore, own: new Map(), reads: new Set(), scanned: false, checks: [], commitOrder: -1, result: null };
      slots[t] = r;
      all.push(r);
    }
    return r;
  };
  const commit = (r: TxRecord): Promise<number | string> => {
    r.commitOrder = commitCalls++;
    r.result = outcome(r.tx.commit()).then((o) => {
      if (typeof o === "number") maxResolved = Math.max(maxResolved, o);
      return o;
    });
    return r.result;
  };
  for (const a of actions) {
    if (a.kind === "settle") {
      await settle();
      continue;
    }
    if (a.kind === "checkpoint") {
      const p = db.checkpoint();
      if (a.wait) await p;
      else pending.push(p);
      continue;
    }
    const r = await active(a.t);
    const k = a.kind === "scan" || a.kind === "commit" || a.kind === "rollback" ? null : keys[a.k]!;
    switch (a.kind) {
      case "get":
        if (!r.own.has(k!)) r.reads.add(k!);
        r.checks.push({ what: "get", own: new Map(r.own), got: await r.tx.get("n", k!), key: k });
        break;
      case "put":
        await r.tx.put("n", k!, a.v);
        r.own.set(k!, a.v);
        break;
      case "del":
        await r.tx.delete("n", k!);
        r.own.set(k!, undefined);
        break;
      case "scan":
        r.scanned = true;
        r.checks.push({ what: "scan", own: new Map(r.own), got: await collect(r.tx.scan("n")), key: null });
        break;
      case "commit": {
        const p = commit(r);
        slots[a.t] = null;
        if (a.wait) await p;
        else pending.push(p);
        break;
      }
      case "rollback":
        await r.tx.rollback();
        slots[a.t] = null;
        break;
    }
  }
  for (const r of slots) if (r !== null && r !== undefined) pending.push(commit(r));
  await settle();

  // The model, in commit() call order.
  const lastWriter = new Map<string, number>();
  const writesByTsn = new Map<number, Map<string, number | undefined>>();
  let next = 1;
  const committed = all.filter((r) => r.result !== null).sort((a, b) => a.commitOrder - b.commitOrder);
  for (const r of committed) {
    const got = await r.result!;
    const where = `commit #${r.commitOrder} (snapshot ${r.snapshot}, writes ${JSON.stringify([...r.own])})`;
    if (r.own.size === 0) {
      assert.equal(got, r.snapshot, `${where}: a read-only commit resolves with its snapshot`);
      continue;
    }
    const watched = new Set(r.own.keys());
    if (isolation === "serializable") {
      for (const k of r.reads) watched.add(k);
      if (r.scanned) for (const k of keys) watched.add(k);
    }
    const conflict = [...watched].some((k) => (lastWriter.get(k) ?? 0) > r.snapshot);
    if (conflict) {
      assert.equal(got, CONFLICT, `${where}: expected a conflict`);
      continue;
    }
    assert.equal(got, next, `${where}: expected TSN ${next}`);
    for (const k of r.own.keys()) lastWriter.set(k, next);
    writesByTsn.set(next, r.own);
    next++;
  }
  // Reads: snapshot state plus own writes; begin() saw every resolved commit (contract 6).
  const stateAt = (s: number): Map<string, number> => {
    const state = new Map<string, number>();
    for (let tsn = 1; tsn <= s; tsn++) {
      for (const [k, v] of writesByTsn.get(tsn) ?? []) {
        if (v === undefined) state.delete(k);
        else state.set(k, v);
      }
    }
    return state;
  };
  for (const r of all) {
    assert.ok(r.snapshot >= r.resolvedBefore, `snapshot ${r.snapshot} misses commit ${r.resolvedBefore} that resolved before begin()`);
    assert.ok(r.snapshot < next, `snapshot ${r.snapshot} beyond the last commit ${next - 1}`);
    for (const c of r.checks) {
      const view = stateAt(r.snapshot);
      for (const [k, v] of c.own) {
        if (v === undefined) view.delete(k);
        else view.set(k, v);
      }
      if (c.what === "get") assert.equal(c.got, view.get(c.key!), `get ${c.key} at snapshot ${r.snapshot}`);
      else assert.deepEqual(c.got, [...view].sort(([a], [b]) => (a < b ? -1 : 1)), `scan at snapshot ${r.snapshot}`);
    }
  }
  assert.equal(db.stats().lastTsn, next - 1);
  const final = stateAt(next - 1);
  for (const k of keys) assert.equal(await db.get("n", k), final.get(k), `final ${k}`);
  await db.close();
}

describe("model: commit and conflict rules under random interleavings", () => {
  for (const isolation of ["snapshot", "serializable"] as const) {
    test(`${isolation}: every interleaving obeys the rules (seeded)`, async () => {
      await fc.assert(fc.asyncProperty(fc.array(actionArb, { minLength: 1, maxLength: 40 }), (actions) => runSchedule(isolation, actions)), {
        seed,
        numRuns: 250,
        timeout: 1000, // a schedule whose commits never settle fails instead of hanging
        endOnFailure: true,
      });
    });
  }
});

