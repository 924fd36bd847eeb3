/**
 * The process protocol (src/engine/coordination.ts, PP-1…PP-5, and GC-5/GC-6
 * in group_commit.ts) with two handles on one memoryIO: locks belong to file
 * handles, so two handles in one process behave as two processes, and a
 * FileIO wrapper can hold or fail one handle's log datasync at an exact moment.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { memoryIO, open, type FileHandle, type FileIO, type MemoryIO } from "../src/mod.ts";
import { codeOf } from "./_helpers/expect.ts";

interface Gate {
  /** While true, log datasyncs wait. */
  hold: boolean;
  /** The next log datasync fails with EIO. */
  failNext: boolean;
  pending: number;
  release(): void;
}

/** A FileIO whose log datasyncs can be held, then let go or failed. */
function gated(io: MemoryIO): { io: FileIO; gate: Gate } {
  const waiting: Array<() => void> = [];
  const gate: Gate = {
    hold: false,
    failNext: false,
    pending: 0,
    release() {
      gate.hold = false;
      for (const wake of waiting.splice(0)) wake();
    },
  };
  const wrapHandle = (h: FileHandle): FileHandle => new Proxy(h, {
    get(target, prop) {
      if (prop === "datasync") {
        return async () => {
          if (gate.hold) {
            gate.pending++;
            await new Promise<void>((r) => waiting.push(r));
            gate.pending--;
          }
          if (gate.failNext) {
            gate.failNext = false;
            throw Object.assign(new Error("EIO injected"), { code: "EIO" });
          }
          return target.datasync();
        };
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const wrapped = new Proxy(io, {
    get(target, prop) {
      if (prop === "open") {
        return async (path: string, o?: object) => {
          const h = await target.open(path, o);
          return /\/log\//.test(path) ? wrapHandle(h) : h;
        };
      }
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as FileIO;
  return { io: wrapped, gate };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Every test runs twice: with the lock file mapped shared (the log and handle
 * generations of PP-6, PP-7) and without (MEM-7's mapShared: false), where
 * the engine tests locks and reads the log instead.
 */
function both(name: string, fn: (newIO: () => MemoryIO) => Promise<void>): void {
  for (const mapShared of [true, false]) test(`${name} [${mapShared ? "mapped" : "unmapped"}]`, () => fn(() => memoryIO({ mapShared })));
}

both("GC-6: another handle's checkpoint cannot fold a commit whose datasync is still pending", async (newIO) => {
  const mem = newIO();
  const a = await open("/db", { io: mem });
  const { io, gate } = gated(mem);
  const b = await open("/db", { io });
  await a.put("ns", "k", "v0"); // TSN 1
  await a.checkpoint();
  gate.hold = true;
  const pending = b.put("ns", "k", "v1"); // TSN 2, its datasync held
  while (gate.pending === 0) await turn();
  assert.deepEqual(await a.checkpoint(), { tsn: 1 }, "b's undurable TSN 2 bounds a's checkpoint");
  const tx = await b.begin();
  assert.equal(tx.snapshotTsn, 1);
  assert.equal(await tx.get("ns", "k"), "v0", "a snapshot below b's own undurable commit never sees it");
  gate.release();
  assert.deepEqual(await pending, { tsn: 2 });
  await tx.rollback();
  assert.equal(await b.get("ns", "k"), "v1");
  await a.close();
  await b.close();
});

both("GC-5: a failed datasync never cuts records another handle may have read; a later commit elsewhere survives a crash", async (newIO) => {
  const mem = newIO();
  const a = await open("/db", { io: mem });
  const { io, gate } = gated(mem);
  const b = await open("/db", { io });
  await a.put("ns", "k", "a1"); // TSN 1
  await b.put("ns", "k0", "b0"); // TSN 2, synced
  gate.hold = true;
  gate.failNext = true;
  const failing = b.put("ns", "x", "fromB"); // TSN 3: appended, then its datasync fails
  while (gate.pending === 0) await turn();
  assert.equal(await a.get("ns", "x"), "fromB", "a reads b's appended record (ST-1 across processes)");
  gate.release();
  assert.equal(await codeOf(() => failing), "TXTDB_IO");
  assert.deepEqual(await a.put("ns", "y", "acked-by-a"), { tsn: 4 });
  const image = mem.crash();
  const c = await open("/db", { io: image });
  assert.equal(await c.get("ns", "y"), "acked-by-a", "the acknowledged commit survives");
  assert.deepEqual(await c.check(), { ok: true, problems: [] });
  await c.close();
  await b.close();
  await a.close();
});

both("SEG-3: a segment goes only when its next marker proves a checkpoint covers it (an abandoned rotation proves nothing)", async (newIO) => {
  const mem = newIO();
  const a = await open("/db", { io: mem });
  const b = await open("/db", { io: mem });
  await a.put("ns", "k1", 1); // TSN 1
  await a.checkpoint(); // a rotates on its next append
  mem.injectFault({ op: "datasync", code: "EIO", path: /log\/0+1\.jsonl$/ });
  assert.equal(await codeOf(() => a.put("ns", "a", 1)), "TXTDB_IO", "the rotation's datasync fails: a fails stop");
  const t1 = await b.begin();
  for (let i = 2; i <= 4; i++) await b.put("ns", `k${i}`, i);
  const t2 = await b.begin();
  await b.checkpoint();
  await b.put("ns", "k5", 5);
  await t1.rollback();
  assert.equal(await codeOf(() => a.checkpoint()), "TXTDB_IO", "a handle that failed stop does not checkpoint");
  await b.checkpoint();
  const image = mem.crash();
  const c = await open("/db", { io: image });
  for (let i = 1; i <= 5; i++) assert.equal(await c.get("ns", `k${i}`), i, `k${i} survives`);
  assert.deepEqual(await c.check(), { ok: true, problems: [] });
  await c.close();
  await t2.rollback();
  await a.close();
  await b.close();
});

both("contract 6: begin() sees another handle's resolved commit that follows this handle's commit still in its datasync", async (newIO) => {
  // Found by test/verify_interleaving.test.ts: synced() did not wait for a
  // datasync already in flight, so begin() returned a snapshot below a
  // commit that had resolved elsewhere.
  const mem = newIO();
  const { io, gate } = gated(mem);
  const a = await open("/db", { io });
  const b = await open("/db", { io: mem });
  await a.put("ns", "k", "v0"); // TSN 1
  gate.hold = true;
  const pending = a.put("ns", "mine", 1); // TSN 2: appended, its datasync held
  while (gate.pending === 0) await turn();
  assert.deepEqual(await b.put("ns", "theirs", 2), { tsn: 3 }, "b's datasync covers TSN 2 and 3");
  const begun = a.begin();
  for (let i = 0; i < 5; i++) await turn();
  gate.release();
  const tx = await begun;
  assert.ok(tx.snapshotTsn >= 3, `snapshot ${tx.snapshotTsn} misses TSN 3, resolved before begin()`);
  assert.equal(await tx.get("ns", "theirs"), 2);
  await tx.rollback();
  assert.deepEqual(await pending, { tsn: 2 });
  await a.close();
  await b.close();
});

both("SEG-1, GC-5: a failed datasync of the old segment while following another handle's rotation stops this handle; nothing is appended past the marker", async (newIO) => {
  // Found by test/verify_durability.test.ts (two handles, scheduled I/O, a
  // fault at any datasync): the handle stayed past the `next` marker in the old
  // segment, and its next commit was appended there, where no reader looks.
  const mem = newIO();
  const a = await open("/db", { io: mem });
  const b = await open("/db", { io: mem });
  await a.put("ns", "k", 1); // TSN 1
  assert.equal(await b.get("ns", "k"), 1);
  await a.checkpoint(); // a's next append starts a new segment
  mem.injectFault({ op: "datasync", code: "EIO", path: /log\/0+1\.jsonl$/, skip: 1 }); // a's rotation syncs it; b's follow fails
  assert.deepEqual(await a.put("ns", "a", 2), { tsn: 2 });
  assert.equal(await codeOf(() => b.put("ns", "b", 3)), "TXTDB_IO");
  mem.clearFaults();
  assert.equal(await codeOf(() => b.put("ns", "b", 4)), "TXTDB_IO", "b stays stopped: its failed datasync is never retried");
  assert.deepEqual(await a.put("ns", "a", 5), { tsn: 3 });
  const c = await open("/db", { io: mem.crash() });
  assert.equal(await c.get("ns", "a"), 5);
  assert.equal(await c.get("ns", "b"), undefined);
  assert.deepEqual(await c.check(), { ok: true, problems: [] });
  await c.close();
  await b.close();
  await a.close();
});
