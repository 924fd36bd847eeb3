/**
 * Concurrency interleavings (test/verify_interleaving.test.ts): two handles
 * on one memoryIO (two handles behave as two processes: locks belong to file
 * handles) run concurrent transactions and checkpoints while a fast-check
 * scheduler decides when every append, datasync, lock wait, syncDir and
 * rename resolves, and when each transaction begins and commits.
 *
 * What must hold, under every order:
 * - I-1  The TSNs given out are 1…N, consecutive (contract 4).
 * - I-2  Applying the committed transactions' writes in TSN order explains
 *        every read: each transaction read the state at its snapshotTsn,
 *        which is at least every commit resolved before begin() was called
 *        (contract 6).
 * - I-3  First committer wins: no committed transaction wrote (or, when
 *        serializable, read) a key written by a commit between its snapshot
 *        and its TSN; every rejected one had such a key (GC-3).
 * - I-4  No commit resolved before a datasync that started after its record
 *        was appended had completed (GC-1).
 * - I-5  After it all, both the live database and a crash image hold
 *        exactly the state after TSN N.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { memoryIO, open, ConflictError, type Database } from "../../src/mod.ts";
import { collect } from "./expect.ts";
import { EventLog, scheduledIO } from "./sched_io.ts";

const keys = ["a", "b", "c", "d"] as const;
type K = (typeof keys)[number];

export interface ClientPlan {
  handle: 0 | 1;
  isolation: "snapshot" | "serializable";
  reads: K[];
  /** Also scan the whole namespace (serializable: the range then takes part in validation, contract 3). */
  scan: boolean;
  writes: Array<[K, number | null]>;
}

export interface InterleavingPlan {
  clients: ClientPlan[];
  /** Handles that run a checkpoint concurrently with the clients. */
  checkpoints: Array<0 | 1>;
}

const keyArb = fc.constantFrom(...keys);
export const planArb: fc.Arbitrary<InterleavingPlan> = fc.record({
  clients: fc.array(
    fc.record({
      handle: fc.constantFrom(0 as const, 1 as const),
      isolation: fc.constantFrom("snapshot" as const, "serializable" as const),
      reads: fc.uniqueArray(keyArb, { maxLength: 3 }),
      scan: fc.boolean(),
      writes: fc.uniqueArray(fc.tuple(keyArb, fc.option(fc.nat(999), { nil: null, freq: 4 })), { maxLength: 3, selector: ([k]) => k }),
    }),
    { minLength: 2, maxLength: 7 },
  ),
  checkpoints: fc.array(fc.constantFrom(0 as const, 1 as const), { maxLength: 2 }),
});

interface Outcome {
  plan: ClientPlan;
  name: string;
  /** The newest TSN acknowledged to anyone when begin() was called. */
  ackedAtBegin: number;
  snapshot: number;
  got: Array<number | undefined>;
  scanned: Array<[unknown, unknown]> | null;
  result: { tsn: number } | "conflict";
}

const ns = "t";

async function state(db: Database): Promise<Array<[unknown, unknown]>> {
  const tx = await db.begin({ readOnly: true });
  try {
    return await collect(tx.scan(ns));
  } finally {
    await tx.rollback();
  }
}

export function interleavingProperty(): fc.IAsyncPropertyWithHooks<[fc.Scheduler, InterleavingPlan]> {
  return fc.asyncProperty(fc.scheduler(), planArb, async (s, plan) => {
    const mem = memoryIO();
    const log = new EventLog();
    let acked = 0;
    const a = await s.waitFor(open("/db", { io: scheduledIO(mem, s, log, "A"), random: () => 0 }));
    const b = await s.waitFor(open("/db", { io: scheduledIO(mem, s, log, "B"), random: () => 0 }));
    const dbs = [a, b] as const;
    // TSN 1: every key has a value.
    const seed = s.waitFor(a.transaction(async (tx) => {
      for (const [i, k] of keys.entries()) await tx.put(ns, k, i);
    }));
    assert.deepEqual(await seed, undefined);
    acked = 1;
    log.add({ kind: "ack", tsn: 1, who: "seed" });
    const writesAt = new Map<number, Array<[K, number | null]>>([[1, keys.map((k, i): [K, number] => [k, i])]]);

    const run = async (c: ClientPlan, i: number): Promise<Outcome> => {
      const name = `client ${i} (${"AB"[c.handle]}, ${c.isolation})`;
      await s.schedule(Promise.resolve(), `${name} begins`);
      const ackedAtBegin = acked;
      const tx = await dbs[c.handle].begin({ isolation: c.isolation });
      const got: Array<number | undefined> = [];
      for (const k of c.reads) got.push((await tx.get(ns, k)) as number | undefined);
      const scanned = c.scan ? await collect(tx.scan(ns)) : null;
      for (const [k, v] of c.writes) await (v === null ? tx.delete(ns, k) : tx.put(ns, k, v));
      await s.schedule(Promise.resolve(), `${name} commits`);
      const result = await tx.commit().then(
        (r) => {
          if (c.writes.length > 0) {
            log.add({ kind: "ack", tsn: r.tsn, who: name });
            acked = Math.max(acked, r.tsn);
            writesAt.set(r.tsn, c.writes);
          }
          return r;
        },
        (err: unknown) => {
          if (err instanceof ConflictError) return "conflict" as const;
          throw err;
        },
      );
      return { plan: c, name, ackedAtBegin, snapshot: tx.snapshotTsn, got, scanned, result };
    };
    const checkpoints = plan.checkpoints.map(async (h) => {
      await s.schedule(Promise.resolve(), `checkpoint ${"AB"[h]}`);
      await dbs[h].checkpoint();
    });
    const [outcomes] = await s.waitFor(Promise.all([Promise.all(plan.clients.map(run)), Promise.all(checkpoints)]));

    // I-1
    const n = writesAt.size;
    assert.deepEqual([...writesAt.keys()].sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i + 1), "TSNs 1…N (contract 4)");
    // The model: the value of each key after each TSN, and the TSN of each key's writes.
    const valueAt = (k: K, tsn: number): number | undefined => {
      let v: number | null | undefined;
      for (let t = 1; t <= tsn; t++) for (const [wk, wv] of writesAt.get(t) ?? []) if (wk === k) v = wv;
      return v ?? undefined;
    };
    const writtenBetween = (k: K, after: number, before: number): number | null => {
      for (let t = after + 1; t < before; t++) if ((writesAt.get(t) ?? []).some(([wk]) => wk === k)) return t;
      return null;
    };
    for (const o of outcomes) {
      const where = `${o.name}, snapshot ${o.snapshot}, result ${JSON.stringify(o.result)}`;
      // I-2
      assert.ok(o.snapshot >= o.ackedAtBegin && o.snapshot <= n, `${where}: snapshot outside [${o.ackedAtBegin}, ${n}] (contract 6)`);
      assert.deepEqual(o.got, o.plan.reads.map((k) => valueAt(k, o.snapshot)), `${where}: reads ${JSON.stringify(o.plan.reads)} are not the state at the snapshot`);
      if (o.scanned !== null) {
        const atSnapshot = keys.flatMap((k): Array<[K, number]> => {
          const v = valueAt(k, o.snapshot);
          return v === undefined ? [] : [[k, v]];
        });
        assert.deepEqual(o.scanned, atSnapshot, `${where}: the scan is not the state at the snapshot`);
      }
      // I-3 (a whole-namespace scan validates every key, written before or not)
      const read = o.plan.scan ? keys : o.plan.reads;
      const validated = [...o.plan.writes.map(([k]) => k), ...(o.plan.isolation === "serializable" ? read : [])];
      if (o.plan.writes.length === 0) {
        assert.deepEqual(o.result, { tsn: o.snapshot }, `${where}: a transaction without writes commits at its snapshot (contract 2)`);
      } else if (o.result === "conflict") {
        const why = validated.find((k) => writtenBetween(k, o.snapshot, n + 1) !== null);
        assert.ok(why !== undefined, `${where}: rejected without a conflicting commit after its snapshot`);
      } else {
        const t = o.result.tsn;
        for (const k of validated) {
          const c = writtenBetween(k, o.snapshot, t);
          assert.equal(c, null, `${where}: committed although commit ${String(c)} wrote key ${k} after its snapshot (first committer wins)`);
        }
      }
    }
    // I-4
    assert.deepEqual(log.unsyncedAcks(), [], "a commit resolved before the datasync covering it (GC-1)");
    // I-5
    const expected = keys.flatMap((k): Array<[K, number]> => {
      const v = valueAt(k, n);
      return v === undefined ? [] : [[k, v]];
    });
    for (const db of dbs) assert.deepEqual(await s.waitFor(state(db)), expected, "live state after TSN N");
    const image = mem.crash();
    const reopened = await open("/db", { io: image });
    assert.equal(reopened.stats().lastTsn, n, "a crash image holds every acknowledged commit");
    assert.deepEqual(await state(reopened), expected, "crash image: the state after TSN N");
    await reopened.close();
    await s.waitFor(Promise.all(dbs.map((db) => db.close())));
  });
}
