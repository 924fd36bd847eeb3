/**
 * Tests of src/engine/group_commit.ts's shortcuts for a lone committer, and
 * of the two it relies on elsewhere, each checked by what it saves and by
 * what it must never cost: GC-7 (a lone commit's datasync on the JS thread),
 * GC-8 (callers woken together commit together), GC-9 (a spare snapshot
 * hold), PP-7, PP-8 and PP-9 (coordination.ts: no slot test while alone,
 * and only while every handle keeps the counts; no snapshot gate at begin()
 * while a snapshot of the handle's is published) and SEG-9 (log.ts: no log
 * read while nothing changed — and a read after a writer died half-way, or
 * while one was appending). On memoryIO,
 * through a wrapper that records what the engine asks of each file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate } from "node:timers/promises";
import { joinPath, memoryIO, open, type DatabaseOptions, type FileHandle, type FileIO, type MemoryIO } from "../src/mod.ts";
import { codeOf } from "./_helpers/expect.ts";
import {
  lockDurableOffset, lockFileName, lockSlotsOffset, lockSnapshotGateOffset, lockSnapshotsOffset, lockWriterOffset, manifestFileName, spareHoldLagMaxTsn,
} from "../src/engine/_defaults.ts";

interface Call {
  op: string;
  path: string;
  /** datasync: the blocking option; write: the log records in the bytes; locks: the range start. */
  blocking?: boolean;
  records?: number;
  start?: number;
}

interface Recorder {
  io: FileIO;
  calls: Call[];
  /** The clock to give open() (`now`): it moves only when a slow datasync moves it. */
  now: () => number;
  /** The next log datasync moves the clock this far (ms), then it is reset to 0. */
  slowNextMs: number;
}

const decoder = new TextDecoder();

/** Records every call on every handle of `mem`; log datasyncs can be made slow. */
/** Snapshot-lock calls (PP-2) recorded so far. */
function snapshotLockCalls(rec: Recorder): number {
  return rec.calls.filter((c) => (c.op === "tryLock" || c.op === "unlock") && c.start! >= lockSnapshotsOffset && c.start! < lockDurableOffset).length;
}

/** Snapshot-gate calls (PP-3) recorded so far. */
function gateCalls(rec: Recorder): number {
  return rec.calls.filter((c) => c.start === lockSnapshotGateOffset).length;
}

/** Recorded calls of `op` ("tryLock", "unlock") on the writer lock. */
function writerLockCalls(rec: Recorder, op: string): number {
  return rec.calls.filter((c) => c.op === op && c.start === lockWriterOffset).length;
}

function recorded(mem: MemoryIO): Recorder {
  let clock = 0;
  const rec: Recorder = { io: mem, calls: [], now: () => clock, slowNextMs: 0 };
  const wrapHandle = (h: FileHandle, path: string): FileHandle => new Proxy(h, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (typeof v !== "function") return v;
      const fn = (v as (...a: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => {
        const call: Call = { op: String(prop), path };
        if (prop === "datasync") call.blocking = (args[0] as { blocking?: boolean } | undefined)?.blocking === true;
        if (prop === "write") call.records = decoder.decode(args[1] as Uint8Array).split('{"tsn":').length - 1;
        if (prop === "tryLock" || prop === "unlock" || prop === "testLock") call.start = args[0] as number;
        rec.calls.push(call);
        if (prop === "datasync" && rec.slowNextMs > 0 && /\/log\//.test(path)) {
          clock += rec.slowNextMs;
          rec.slowNextMs = 0;
        }
        return fn(...args);
      };
    },
  });
  rec.io = new Proxy(mem, {
    get(target, prop) {
      if (prop === "open") return async (path: string, o?: object) => wrapHandle(await target.open(path, o), path);
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as FileIO;
  return rec;
}

const isLog = (c: Call): boolean => /\/log\/\d+\.jsonl$/.test(c.path);
const logSyncs = (calls: Call[]): boolean[] => calls.filter((c) => c.op === "datasync" && isLog(c)).map((c) => c.blocking!);

/** A database on a recorded memoryIO; its clock is the recorder's unless `realClock`. */
async function opened(options: Omit<DatabaseOptions, "io"> = {}, realClock = false): Promise<{ rec: Recorder; mem: MemoryIO; db: Awaited<ReturnType<typeof open>> }> {
  const mem = memoryIO();
  const rec = recorded(mem);
  return { rec, mem, db: await open("/db", { ...(realClock ? {} : { now: rec.now }), ...options, io: rec.io }) };
}

test("GC-7: a lone commit's datasync blocks once the last one was fast; a slow one sends the next off the thread; blockingSync: false never blocks", async () => {
  const { rec, db } = await opened();
  for (let i = 0; i < 3; i++) await db.put("ns", i, i);
  assert.deepEqual(logSyncs(rec.calls), [false, true, true], "the first has no measure yet; the next two follow a fast one");
  rec.calls.length = 0;
  rec.slowNextMs = 5;
  for (let i = 0; i < 3; i++) await db.put("ns", i, i);
  assert.deepEqual(logSyncs(rec.calls), [true, false, true], "after the 5 ms one, one off the thread; fast again, blocking again");
  await db.close();

  const off = await opened({ blockingSync: false });
  for (let i = 0; i < 3; i++) await off.db.put("ns", i, i);
  assert.deepEqual(logSyncs(off.rec.calls), [false, false, false]);
  await off.db.close();
});

test("GC-7: only a datasync that covers one commit, with none queued, blocks", async () => {
  const { rec, db } = await opened();
  await db.put("ns", "warm", 0);
  await db.put("ns", "warm", 1);
  rec.calls.length = 0;
  await Promise.all(Array.from({ length: 16 }, async (_, i) => {
    for (let k = 0; k < 5; k++) await db.put("ns", `c${i}`, k);
  }));
  let records = 0;
  let checked = 0;
  for (const c of rec.calls.filter(isLog)) {
    if (c.op === "write") records += c.records!;
    if (c.op !== "datasync") continue;
    if (c.blocking) assert.equal(records, 1, "a blocking datasync covers one commit");
    checked++;
    records = 0;
  }
  assert.ok(checked > 0);
  assert.ok(logSyncs(rec.calls).includes(false), "16 callers share datasyncs off the thread");
  await db.close();
});

test("GC-7: lone commits awaited in a loop still let the event loop turn every few milliseconds", async () => {
  const { db } = await opened({}, true);
  await db.put("ns", 0, 0);
  await db.put("ns", 0, 1);
  let turns = 0;
  let running = true;
  const tick = async (): Promise<void> => {
    while (running) {
      await setImmediate();
      turns++;
    }
  };
  const ticking = tick();
  turns = 0;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 60) await db.put("ns", n++, n);
  const elapsed = performance.now() - t0;
  running = false;
  await ticking;
  // blockingSyncTurnMs is 2: allow for a slow machine, but a loop that never yields gets 0 or 1.
  assert.ok(turns >= Math.floor(elapsed / 10), `${turns} turns in ${elapsed.toFixed(0)} ms of ${n} commits`);
  await db.close();
});

test("GC-8: callers woken by one batch, submitting in the same turn, commit as one batch", async () => {
  const { db } = await opened();
  const callers = 32;
  const round = (r: number): Promise<unknown> => Promise.all(Array.from({ length: callers }, (_, i) => db.put("ns", `c${i}`, r)));
  await round(0); // a batch of several before: the next append loop waits its turn
  for (let r = 1; r <= 5; r++) {
    const before = db.stats().batches;
    await round(r);
    // Without GC-8 the first caller's submit took a batch of its own at once: 2 per round.
    assert.equal(db.stats().batches - before, 1, `round ${r}: ${callers} commits submitted in one turn`);
  }
  await db.close();
});

test("PP-9: begin() takes the snapshot gate only while no snapshot of its handle is published; a snapshot taken without it stays whole through another handle's checkpoint", async () => {
  const { mem, rec, db: a } = await opened({ durability: "relaxed" }, true);
  const b = await open("/db", { io: mem });
  await b.put("ns", "k", "old");
  assert.equal(await a.get("ns", "k"), "old"); // a has caught up: begin() has its snapshot at hand
  rec.calls.length = 0;
  const first = await a.begin();
  assert.ok(gateCalls(rec) >= 2, `nothing published: begin() takes and leaves the gate (${gateCalls(rec)} calls)`);
  rec.calls.length = 0;
  for (let i = 0; i < 20; i++) {
    await a.transaction(async (tx) => {
      assert.equal(await tx.get("ns", i - 1), i === 0 ? undefined : i - 1, "each transaction sees the one before");
      await tx.put("ns", i, i);
    });
  }
  assert.equal(gateCalls(rec), 0, "with `first` published, 20 transactions took no gate");
  const second = await a.begin();
  assert.equal(gateCalls(rec), 0);
  await first.rollback();
  a.stats(); // withdraws a's spares (GC-9's of its commits, DB-8's of `first`): `second`'s snapshot alone is published
  await b.put("ns", "k", "new");
  const folded = await b.checkpoint();
  assert.equal(folded.tsn, second.snapshotTsn, `b's checkpoint stopped at second's snapshot, below its own last commit (${b.stats().lastTsn})`);
  assert.equal(await a.get("ns", "zz"), undefined); // a catches up: it adopts b's checkpoint and keeps only the versions above it
  assert.equal(await second.get("ns", "k"), "old", "second reads its snapshot's value after the checkpoint");
  assert.equal(await second.get("ns", 19), 19);
  await second.rollback();
  await a.close();
  await b.close();
});

for (const durability of ["sync", "relaxed"] as const) {
  test(`PP-9 with GC-9: a loop of write transactions under durability ${durability} takes the snapshot gate once, then runs on the spare hold`, async () => {
    const { mem, rec, db: a } = await opened({ durability }, true);
    const b = await open("/db", { io: mem });
    await a.put("ns", 0, 0); // a publishes its spare hold from here on
    rec.calls.length = 0;
    for (let i = 1; i <= 50; i++) {
      await a.transaction(async (tx) => {
        assert.equal(await tx.get("ns", i - 1), i - 1);
        await tx.put("ns", i, i);
      });
    }
    assert.ok(gateCalls(rec) <= 2, `${gateCalls(rec)} gate calls for 50 transactions`);
    assert.ok(snapshotLockCalls(rec) <= 2 * Math.ceil(50 / spareHoldLagMaxTsn) + 2, `${snapshotLockCalls(rec)} snapshot lock calls for 50 transactions`);
    assert.equal(await b.get("ns", 50), 50);
    await a.close();
    await b.close();
  });
}

for (const durability of ["sync", "relaxed"] as const) test(`GC-9 (${durability}): a lone committer publishes no snapshot at each commit; the spare lags at most spareHoldLagMaxTsn and goes after a turn`, async () => {
  const { mem, rec, db: a } = await opened({ durability }, true);
  const b = await open("/db", { io: mem });
  await a.put("ns", 0, 0);
  rec.calls.length = 0;
  const n = 200;
  for (let i = 1; i <= n; i++) await a.put("ns", i, i);
  const snapshotLocks = snapshotLockCalls(rec);
  assert.ok(snapshotLocks <= 2 * Math.ceil(n / spareHoldLagMaxTsn) + 2, `${snapshotLocks} snapshot lock calls for ${n} commits`);
  // No turn has passed: a's spare still bounds b's checkpoint, at most spareHoldLagMaxTsn behind.
  const held = (await b.checkpoint()).tsn;
  assert.ok(held >= n + 1 - spareHoldLagMaxTsn - 1 && held < n + 1, `b's checkpoint stopped at ${held} (lastTsn ${n + 1}): a's spare bounds it`);
  await setImmediate();
  assert.equal((await b.checkpoint()).tsn, n + 1, "after a turn with no commit the spare is gone");
  await a.close();
  await b.close();
});

test("DB-8: a loop of read-only transactions publishes one snapshot and takes the gate once; the snapshot spare bounds checkpoints until a turn passes with no begin()", async () => {
  const { mem, rec, db: a } = await opened({}, true);
  const b = await open("/db", { io: mem, durability: "relaxed" });
  await b.put("ns", "k", 0); // TSN 1
  assert.equal(await a.get("ns", "k"), 0); // a has caught up; a single read publishes nothing
  rec.calls.length = 0;
  for (let i = 0; i < 50; i++) {
    const tx = await a.begin({ readOnly: true });
    assert.equal(await tx.get("ns", "k"), 0);
    await tx.rollback();
  }
  assert.ok(gateCalls(rec) <= 2, `${gateCalls(rec)} gate calls for 50 transactions`);
  assert.equal(snapshotLockCalls(rec), 1, "the first snapshot was published and stayed, as the spare");
  for (let turn = 0; turn < 10; turn++) {
    for (let i = 0; i < 2; i++) await (await a.begin({ readOnly: true })).rollback(); // a begin() before each turn's check keeps the spare
    await setImmediate();
  }
  assert.equal(snapshotLockCalls(rec), 1, "ten turns, each with a begin(), kept the spare");
  await b.put("ns", "k", 1); // TSN 2
  assert.equal((await b.checkpoint()).tsn, 1, "a's snapshot spare bounds b's checkpoint");
  for (let turn = 0; turn < 5 && snapshotLockCalls(rec) < 2; turn++) await setImmediate();
  assert.equal(snapshotLockCalls(rec), 2, "a turn with no begin() later, the spare is withdrawn");
  assert.equal((await b.checkpoint()).tsn, 2);
  await a.close();
  await b.close();
});

test("DB-8: a newer snapshot takes the spare's place: the spare is never older than the last transaction's snapshot", async () => {
  const { mem, rec, db: a } = await opened({}, true);
  const b = await open("/db", { io: mem, durability: "relaxed" });
  await b.put("ns", 0, 0);
  rec.calls.length = 0;
  const n = 200;
  for (let i = 1; i <= n; i++) {
    await b.put("ns", i, i);
    const tx = await a.begin({ readOnly: true });
    assert.equal(await tx.get("ns", i), i, "each transaction sees b's commit before it");
    await tx.rollback();
  }
  const snapshotLocks = snapshotLockCalls(rec);
  assert.ok(snapshotLocks <= 2 * n - 1, `${snapshotLocks} snapshot lock calls for ${n} transactions, each after a commit: no more than without the spare`);
  // The spare moves up: the newer snapshot is published before the older one goes, so a publishes something throughout.
  const held = new Set<number>();
  for (const c of rec.calls.filter((c) => (c.op === "tryLock" || c.op === "unlock") && c.start! >= lockSnapshotsOffset && c.start! < lockDurableOffset)) {
    if (c.op === "tryLock") held.add(c.start!);
    else {
      held.delete(c.start!);
      assert.ok(held.size > 0, `a published nothing after withdrawing snapshot byte ${c.start! - lockSnapshotsOffset}`);
    }
  }
  await b.put("ns", "last", 0); // TSN n + 2, after a's last snapshot
  assert.equal((await b.checkpoint()).tsn, n + 1, "a's spare is its last transaction's snapshot");
  await a.close();
  await b.close();
});

test("DB-8: a handle's own checkpoint withdraws its snapshot spare first; a transaction that ends older than the newest leaves none", async () => {
  const { mem, db: a } = await opened({}, true);
  const b = await open("/db", { io: mem, durability: "relaxed" });
  await b.put("ns", "k", 0); // TSN 1
  const tx = await a.begin({ readOnly: true }); // snapshot 1
  await b.put("ns", "k", 1); // TSN 2
  await tx.rollback(); // snapshot 1 stays as a's spare
  b.stats(); // withdraws b's GC-9 spare
  assert.equal((await a.checkpoint()).tsn, 2, "a's checkpoint is not bounded by a's own spare");
  const old = await a.begin({ readOnly: true }); // snapshot 2
  await b.put("ns", "k", 2); // TSN 3
  const newer = await a.begin({ readOnly: true }); // snapshot 3
  await old.rollback(); // older than `newer`: withdrawn, not kept
  await newer.rollback(); // the newest: kept as the spare
  await b.put("ns", "k", 3); // TSN 4
  assert.equal((await b.checkpoint()).tsn, 3, "b's checkpoint stops at a's spare, the newest snapshot a took, not at the one that ended first");
  await a.close();
  await b.close();
});

test("DB-8: a reader beginning at every turn holds up no index build: its spare moves up to the declaring commit", async () => {
  const mem = memoryIO();
  const a = await open("/db", { io: mem });
  const b = await open("/db", { io: mem });
  await b.table("users", { key: "id" });
  await b.transaction(async (tx) => { for (let i = 0; i < 20; i++) await tx.put("users", i, { id: i, email: `u${i}@example.com` }); });
  let reading = true;
  const reader = (async () => {
    while (reading) {
      for (let i = 0; i < 2; i++) { // the second begin() of each turn keeps the first one's spare for the next turn
        const tx = await a.begin({ readOnly: true });
        await tx.get("users", 1);
        await tx.rollback();
      }
      await setImmediate();
    }
  })();
  const t0 = performance.now();
  const users = await b.table("users", { key: "id", indexes: { byEmail: { fields: "email", unique: true } } });
  assert.ok(performance.now() - t0 < 5_000, `the index build waited ${Math.round(performance.now() - t0)} ms for a's snapshot spare`);
  assert.deepEqual(await users.index("byEmail").get("u7@example.com"), { id: 7, email: "u7@example.com" });
  reading = false;
  await reader;
  await a.close();
  await b.close();
});

for (const durability of ["sync", "relaxed"] as const) test(`GC-9 (${durability}): a commit waiting turns for the writer lock keeps the spare; a batch whose every commit is refused lets it go after a turn`, async () => {
  const { mem, rec, db: a } = await opened({ durability }, true);
  const b = await open("/db", { io: mem });
  const snapshotLocks = (): number => snapshotLockCalls(rec);
  const other = await mem.open(joinPath("/db", lockFileName));
  const waitingForWriterLock = async <T>(commit: () => Promise<T>): Promise<T> => {
    assert.ok(other.tryLock(lockWriterOffset, 1, "exclusive"));
    const done = commit();
    for (let i = 0; i < 5; i++) await setImmediate(); // a retries the writer lock a turn at a time
    other.unlock(lockWriterOffset, 1);
    return done;
  };
  await a.put("ns", "k", 0); // TSN 1; its hold stays as a's spare
  rec.calls.length = 0;
  await waitingForWriterLock(() => a.put("ns", "k", 1)); // TSN 2
  assert.equal(snapshotLocks(), 0, "the commit that waited took the spare: no snapshot published or withdrawn");
  // A transaction that a's own blind write beats: its batch, after waiting turns, is refused whole.
  const tx = await a.begin();
  await tx.get("ns", "k");
  await a.put("ns", "k", 2); // TSN 3
  await tx.put("ns", "k", 4);
  assert.equal(await codeOf(() => waitingForWriterLock(() => tx.commit())), "TXTDB_CONFLICT");
  await setImmediate();
  await setImmediate();
  assert.equal((await b.checkpoint()).tsn, 3, "a turn after the refused batch, a's spare no longer bounds a checkpoint");
  await other.close();
  await a.close();
  await b.close();
});

test("GC-10: alone, a committer keeps the writer lock from one commit to the next and gives it up after a turn with none", async () => {
  const { mem, rec, db: a } = await opened({}, true);
  const other = await mem.open(joinPath("/db", lockFileName)); // a lock file handle, not a database handle: a stays alone
  await a.put("ns", 0, 0);
  await setImmediate();
  await setImmediate();
  assert.equal(other.testLock(lockWriterOffset, 1, "exclusive"), null, "an idle handle holds no writer lock");
  rec.calls.length = 0;
  const n = 100;
  for (let i = 1; i <= n; i++) await a.put("ns", i, i);
  const taken = writerLockCalls(rec, "tryLock");
  const released = writerLockCalls(rec, "unlock");
  assert.ok(taken <= n / 10 && released <= n / 10, `the writer lock taken ${taken} times and released ${released} times for ${n} commits`);
  assert.notEqual(other.testLock(lockWriterOffset, 1, "exclusive"), null, "kept: no turn of the event loop has passed since the last commit");
  await setImmediate();
  await setImmediate();
  assert.equal(other.testLock(lockWriterOffset, 1, "exclusive"), null, "given up after a turn with no commit");
  assert.deepEqual(await a.get("ns", n), n);
  await other.close();
  await a.close();
});

test("GC-10: a handle that opens while a lone committer keeps the writer lock gets it at the committer's next turn; neither keeps it then", async () => {
  const { mem, rec, db: a } = await opened({}, true);
  let stop = false;
  let commits = 0;
  const loop = (async () => {
    while (!stop) await a.put("ns", commits++, 0); // GC-7 gives the event loop a turn every blockingSyncTurnMs
  })();
  let opening: Promise<Awaited<ReturnType<typeof open>>> | null = null;
  let second: Awaited<ReturnType<typeof open>> | null = null;
  try {
    while (commits < 50) await setImmediate();
    opening = open("/db", { io: mem });
    second = await Promise.race([opening, new Promise<null>((r) => setTimeout(() => r(null), 3000))]);
    assert.ok(second !== null, "the second handle opened while the first kept committing");
    const b = second;
    const before = commits;
    while (commits < before + 20) await setImmediate();
    rec.calls.length = 0;
    const after = commits;
    while (commits < after + 20) await setImmediate();
    const taken = writerLockCalls(rec, "tryLock");
    assert.ok(taken >= 20, `not alone, the committer takes the writer lock at each commit (${taken} for 20 commits)`);
    await b.put("ns", "b", 1);
    stop = true;
    await loop;
    assert.deepEqual(await b.get("ns", commits - 1), 0);
  } finally {
    stop = true;
    await loop;
    await a.close();
    await (second ?? (await opening))?.close();
  }
});

test("PP-7: a handle alone tests the reader slots once, not at every commit; a handle opened later is seen at its next commit", async () => {
  const { mem, rec, db: a } = await opened({}, true);
  const slotTests = (): number => rec.calls.filter((c) => c.op === "testLock" && c.start === lockSlotsOffset).length;
  await a.put("ns", 0, 0);
  const first = slotTests();
  for (let i = 1; i <= 50; i++) await a.put("ns", i, i);
  assert.equal(slotTests(), first, "alone, no commit tests the slots again");
  const b = await open("/db", { io: mem });
  await a.put("ns", "after", 1);
  assert.ok(slotTests() > first, "b's open changed the handle generation: a tests again");
  assert.equal(await b.get("ns", "after"), 1);
  await b.close();
  await a.close();
});

test("SEG-9: unchanged, a commit reads nothing of the log", async () => {
  const { rec, db } = await opened();
  await db.put("ns", 1, "one");
  await db.put("ns", 2, "two");
  rec.calls.length = 0;
  await db.put("ns", 3, "three");
  assert.equal(await db.get("ns", 1), "one");
  assert.deepEqual(rec.calls.filter((c) => c.op === "read" && isLog(c)), [], "nothing changed since the last commit: no read");
  await db.close();
});

test("SEG-9: a handle that has just opened is caught up: its first reads and begin() read nothing of the log", async () => {
  const mem = memoryIO();
  const first = await open("/db", { io: mem });
  await first.put("ns", 1, "one");
  await first.close();
  for (const others of [0, 1]) {
    const other = others === 1 ? await open("/db", { io: mem }) : null; // with another handle open, the log stays as it is
    const rec = recorded(mem);
    const db = await open("/db", { io: rec.io });
    rec.calls.length = 0;
    assert.equal(await db.get("ns", 1), "one");
    await (await db.begin({ readOnly: true })).rollback();
    assert.deepEqual(rec.calls.filter((c) => c.op === "read" && isLog(c)), [], `${others} other handle(s) open: open read every line already`);
    await other?.put("ns", 2, "two");
    assert.equal(await db.get("ns", 2), others === 1 ? "two" : undefined, "a commit after open is still seen");
    await db.close();
    await other?.close();
  }
});

test("open reads each log segment once: replay's scan of the last one positions the handle for appending", async () => {
  const mem = memoryIO();
  const other = await open("/db", { io: mem }); // open throughout: the log stays
  for (let i = 0; i < 20; i++) await other.put("ns", i, i);
  const rec = recorded(mem);
  const db = await open("/db", { io: rec.io });
  assert.deepEqual(rec.calls.filter((c) => c.op === "readAll" && isLog(c)), [], "replay read the segment already");
  assert.equal(await db.get("ns", 19), 19);
  assert.deepEqual(await db.put("ns", 20, 20), { tsn: 21 });
  assert.equal(await other.get("ns", 20), 20);
  await db.close();
  await other.close();
});

test("SEG-9: a handle killed half-way through an append leaves the generation odd: the next writer reads the whole lines it left and cuts the rest", async () => {
  const mem = memoryIO();
  const raw: FileHandle[] = [];
  let dying = false;
  // The handle that dies: its log write puts all but the last 5 bytes of its batch in the file, then never returns.
  const io = interceptLogWrites(mem, (h, position, data) => !dying ? null : (async () => {
    await h.write(position, data.subarray(0, data.length - 5));
    return new Promise<void>(() => {});
  })(), (h) => raw.push(h));
  const x = await open("/db", { io });
  const h = await open("/db", { io: mem });
  await Promise.all([x.put("ns", "p", 1), x.put("ns", "q", 2), x.put("ns", "r", 3)]); // x's next batch waits a turn (GC-8)
  assert.equal(await h.get("ns", "r"), 3);
  dying = true;
  void Promise.all(["a", "b", "c"].map((k) => x.put("ns", k, k.repeat(200)))); // one batch of three lines; the third is cut short
  for (let i = 0; i < 20 && raw.length > 0; i++) await setImmediate();
  for (const handle of raw) await handle.close(); // killed: its locks go with it

  assert.equal(await h.get("ns", "b"), "b".repeat(200), "the whole lines the dead writer left are committed records");
  assert.equal(await h.get("ns", "c"), undefined);
  assert.deepEqual(await h.put("ns", "z", 1), { tsn: 6 }, "after TSN 5, the dead writer's second whole line");
  assert.deepEqual(await h.check(), { ok: true, problems: [] });
  const reopened = await open("/db", { io: mem.crash() });
  for (const [k, v] of [["a", "a".repeat(200)], ["b", "b".repeat(200)], ["c", undefined], ["z", 1]] as const) assert.equal(await reopened.get("ns", k), v);
  assert.deepEqual(await reopened.check(), { ok: true, problems: [] });
  await reopened.close();
  await h.close();
});

test("SEG-9: a catch-up that finds the generation odd does not count as caught up: the next begin() reads the line the writer finished meanwhile", async () => {
  const mem = memoryIO();
  let armed = false;
  const signal = (): { promise: Promise<void>; resolve: () => void } => {
    let resolve!: () => void;
    return { promise: new Promise<void>((r) => (resolve = r)), resolve };
  };
  const gate = { reached: signal(), write: signal(), written: signal(), settle: signal() };
  // w's armed log write waits with the generation odd and nothing written, writes, then waits again before it settles.
  const io = interceptLogWrites(mem, (h, position, data) => !armed ? null : (async () => {
    armed = false;
    gate.reached.resolve();
    await gate.write.promise;
    await h.write(position, data);
    gate.written.resolve();
    await gate.settle.promise;
  })());
  const w = await open("/db", { io, durability: "relaxed" }); // relaxed: no GC-6 hold bounds x's checkpoint while w appends
  const x = await open("/db", { io: mem });
  const y = await open("/db", { io: mem });
  await w.put("ns", "k", "v0");
  assert.equal(await y.get("ns", "k"), "v0");
  w.stats(); // withdraws w's GC-9 spare: no snapshot of w's bounds x's checkpoint during the append below
  armed = true;
  const put = w.put("ns", "k", "v1");
  await gate.reached.promise;
  assert.equal(await y.get("ns", "other"), undefined, "y catches up while the generation is odd: nothing there yet");
  gate.write.resolve();
  await gate.written.promise; // the line is whole in the file; w has not made the generation even yet
  const checkpointed = x.checkpoint(); // installs its manifest, then waits for the writer lock to append its marker
  let folded = 0;
  for (let i = 0; i < 200 && folded < 2; i++) {
    await setImmediate();
    folded = (JSON.parse(decoder.decode(await mem.readFile(joinPath("/db", manifestFileName)))) as { checkpointTsn: number }).checkpointTsn;
  }
  assert.equal(folded, 2, "x's checkpoint folds the whole line");
  const tx = await y.begin({ readOnly: true });
  assert.ok(tx.snapshotTsn >= folded, `y's snapshot ${tx.snapshotTsn} is below the checkpoint x installed (${folded})`);
  assert.equal(await tx.get("ns", "k"), "v1");
  await tx.rollback();
  gate.settle.resolve();
  await put;
  await checkpointed;
  for (const db of [w, x, y]) await db.close();
});

/** A property of a wrapped object as the wrapper hands it out: methods bound to the object. */
function forward(target: object, prop: string | symbol): unknown {
  const v = Reflect.get(target, prop) as unknown;
  return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
}

/**
 * `mem`, where `write` may take over a log file's write: it returns the
 * write's promise, or null to let the write through. `opened` sees every
 * handle as opened, unwrapped.
 */
function interceptLogWrites(
  mem: MemoryIO,
  write: (h: FileHandle, position: number, data: Uint8Array) => Promise<void> | null,
  opened: (h: FileHandle) => void = () => {},
): FileIO {
  return new Proxy(mem, {
    get(target, prop) {
      if (prop !== "open") return forward(target, prop);
      return async (path: string, o?: object) => {
        const h = await target.open(path, o);
        opened(h);
        if (!/\/log\//.test(path)) return h;
        return new Proxy(h, {
          get: (t, p) => p !== "write" ? forward(t, p) : (position: number, data: Uint8Array) => write(t, position, data) ?? t.write(position, data),
        });
      };
    },
  }) as FileIO;
}

/** `mem`, through handles that cannot map a file (mapShared returns null). */
function withoutMapping(mem: MemoryIO): FileIO {
  return new Proxy(mem, {
    get(target, prop) {
      if (prop !== "open") return forward(target, prop);
      return async (path: string, o?: object) => new Proxy(await target.open(path, o), {
        get: (h, p) => (p === "mapShared" ? () => null : forward(h, p)),
      });
    },
  }) as FileIO;
}

test("PP-8: handles that map the lock file and handles that cannot never share a database; a refused open leaves nothing behind", async () => {
  const mem = memoryIO();
  const unmapped = withoutMapping(mem);
  const a = await open("/db", { io: mem });
  assert.equal(await codeOf(() => open("/db", { io: unmapped })), "TXTDB_LOCKED");
  const a2 = await open("/db", { io: mem }); // the refused open took no lock of its kind with it
  await a.put("ns", 1, "a");
  assert.equal(await a2.get("ns", 1), "a");
  await a2.close();
  await a.close();
  const b = await open("/db", { io: unmapped });
  assert.equal(await codeOf(() => open("/db", { io: mem })), "TXTDB_LOCKED");
  await b.put("ns", 2, "b");
  await b.close();
  const c = await open("/db", { io: mem });
  assert.deepEqual([await c.get("ns", 1), await c.get("ns", 2)], ["a", "b"]);
  await c.close();
});

test("GC-5 under \"relaxed\": a commit whose catch-up fails with TXTDB_IO cuts nothing from the log — every line in it was acknowledged", async () => {
  const mem = memoryIO({ mapShared: false }); // no log generation: a commit's catch-up reads the log
  const db = await open("/db", { io: mem, durability: "relaxed" });
  await db.put("ns", "a", 1);
  await db.put("ns", "b", 2); // acknowledged: under "relaxed", written is acknowledged
  // The next put's probe of the log (begin) reads; its catch-up under the writer lock fails.
  mem.injectFault({ op: "read", code: "EIO", path: /\/log\/\d+\.jsonl$/, skip: 1 });
  assert.equal(await codeOf(() => db.put("ns", "c", 3)), "TXTDB_IO");
  mem.clearFaults();
  assert.equal(await codeOf(() => db.put("ns", "d", 4)), "TXTDB_IO", "fail-stop (GC-5)");
  await db.close().catch(() => {});
  const reopened = await open("/db", { io: mem });
  assert.equal(await reopened.get("ns", "a"), 1);
  assert.equal(await reopened.get("ns", "b"), 2, "the last acknowledged commit is still in the log");
  assert.equal(await reopened.get("ns", "c"), undefined);
  await reopened.close();
});
