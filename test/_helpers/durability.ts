/**
 * Durability properties (test/verify_durability.test.ts): random workloads
 * on memoryIO(), on one or two handles, crashed at every sync point in every
 * crash mode, or failed by an injected I/O error at any call; then reopened
 * and checked.
 *
 * Every transaction writes a marker — namespace "m", key = its id — so a
 * recovered database tells exactly which transactions it holds, even those
 * whose commit() rejected with TXTDB_IO ("may or may not have been written").
 *
 * What a recovered database must satisfy (D-n, cited by the assertions):
 * - D-1  Every commit acknowledged before the crash (or failure) is there.
 * - D-2  Nothing else is, but commits that were in flight or rejected with
 *        TXTDB_IO; and none partially: the state is exactly the writes of
 *        the commits it holds, applied in TSN order.
 * - D-3  The commits it holds are a prefix in TSN order: TSNs 1…L.
 * - D-4  No deleted key comes back (part of D-2, said apart because it is
 *        the classic recovery bug).
 * - D-5  Recovery is idempotent: a crash image taken after recovery, or at
 *        any sync point during it, recovers to the same state.
 * - D-6  The next commit takes TSN L + 1; check() reports ok.
 * - D-7  Fail-stop (GC-5): after a commit rejects with TXTDB_IO no later
 *        commit of that handle is acknowledged; a failed log datasync is
 *        never acknowledged (D-1 on the crash image checks it: MEM-5 drops
 *        the bytes a failed datasync held).
 * - D-8  Without a power loss, a reopened database serves only what is
 *        durable: a crash image of it right after open holds the same state.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  memoryIO, open, ConflictError, TxtDbError, type CrashMode, type Database, type FaultRule, type FileIO, type MemoryIO, type MemoryOp,
} from "../../src/mod.ts";
import { HookIO } from "./crash.ts";
import { ErrSeq, EventLog, scheduledIO } from "./sched_io.ts";
import { collect } from "./expect.ts";

const dir = "/db";

export interface TxPlan {
  handle: number;
  isolation: "snapshot" | "serializable";
  /** Keys read before writing (read-modify-write: their value goes into the first write). */
  reads: number[];
  /** [key, value or null for a delete]. */
  writes: Array<[number, number | null]>;
  big: boolean;
}

export interface DurabilityPlan {
  handles: 1 | 2;
  /** Small: automatic checkpoints (and their sync points) happen during the run. */
  checkpointLogBytes: number;
  rounds: Array<{ txs: TxPlan[]; checkpoint: "none" | "await" | "concurrent" }>;
}

export const durabilityPlanArb: fc.Arbitrary<DurabilityPlan> = fc.record({
  handles: fc.constantFrom(1 as const, 2 as const),
  checkpointLogBytes: fc.constantFrom(1500, 1 << 20),
  rounds: fc.array(
    fc.record({
      txs: fc.array(
        fc.record({
          handle: fc.nat(1),
          isolation: fc.constantFrom("snapshot" as const, "serializable" as const),
          reads: fc.uniqueArray(fc.nat(7), { maxLength: 2 }),
          writes: fc.uniqueArray(fc.tuple(fc.nat(7), fc.option(fc.nat(999), { nil: null, freq: 3 })), { minLength: 1, maxLength: 4, selector: ([k]) => k }),
          big: fc.boolean(),
        }),
        { minLength: 1, maxLength: 5 },
      ),
      checkpoint: fc.constantFrom("none" as const, "none" as const, "await" as const, "concurrent" as const),
    }),
    { minLength: 1, maxLength: 6 },
  ),
});

type Value = { v: number; pad: string };
type Result = { tsn: number } | "conflict" | "io" | "pending";

export interface TxOutcome {
  id: number;
  handle: number;
  /** Order of submission (commit() called) and of settling, on one counter. */
  submitSeq: number;
  settleSeq: number;
  /** The writes as committed (after read-modify-write), value null for a delete. */
  writes: Array<[number, Value | null]>;
  result: Result;
}

export interface RunRecord {
  outcomes: TxOutcome[];
  /** Ids acknowledged so far: read by crash hooks to know what an image must hold. */
  acked: Set<number>;
}

/** Runs the plan on `ios` (one FileIO per handle, all on one database); never throws for TXTDB_IO or conflicts. */
export async function runPlan(plan: DurabilityPlan, ios: FileIO[], record: RunRecord): Promise<{ dbs: Database[]; unexpected: unknown[] }> {
  const dbs: Database[] = [];
  for (let h = 0; h < plan.handles; h++) dbs.push(await open(dir, { io: ios[h % ios.length]!, checkpointLogBytes: plan.checkpointLogBytes, random: () => 0 }));
  const unexpected: unknown[] = [];
  let seq = 0;
  let nextId = 1;
  const io = (err: unknown): boolean => err instanceof TxtDbError && err.code === "TXTDB_IO";
  const runTx = async (p: TxPlan): Promise<void> => {
    const id = nextId++;
    const o: TxOutcome = { id, handle: p.handle % dbs.length, submitSeq: 0, settleSeq: 0, writes: [], result: "pending" };
    record.outcomes.push(o);
    try {
      const tx = await dbs[o.handle]!.begin({ isolation: p.isolation });
      let sum = 0;
      for (const k of p.reads) sum += ((await tx.get("d", k)) as Value | undefined)?.v ?? 0;
      for (const [i, [k, v]] of p.writes.entries()) {
        const value = v === null ? null : { v: v + (i === 0 ? sum : 0), pad: p.big ? "p".repeat(600) : "" };
        if (value === null) await tx.delete("d", k);
        else await tx.put("d", k, value);
        o.writes.push([k, value]);
      }
      await tx.put("m", id, id);
      o.submitSeq = ++seq;
      const { tsn } = await tx.commit();
      o.result = { tsn };
      record.acked.add(id);
    } catch (err) {
      if (err instanceof ConflictError) o.result = "conflict";
      else if (io(err)) o.result = "io";
      else unexpected.push(err);
    }
    o.settleSeq = ++seq;
  };
  const checkpoint = (db: Database): Promise<void> => db.checkpoint().then(() => {}, (err: unknown) => void (io(err) || unexpected.push(err)));
  for (const round of plan.rounds) {
    const running: Array<Promise<void>> = round.txs.map(runTx);
    if (round.checkpoint === "concurrent") running.push(...dbs.map(checkpoint));
    await Promise.all(running);
    if (round.checkpoint === "await") await checkpoint(dbs[0]!);
  }
  return { dbs, unexpected };
}

/** The data namespace and the markers of a database. */
async function readBack(db: Database): Promise<{ data: Array<[unknown, unknown]>; markers: number[] }> {
  const tx = await db.begin({ readOnly: true });
  try {
    return { data: await collect(tx.scan("d")), markers: (await collect(tx.scan("m"))).map(([k]) => k as number) };
  } finally {
    await tx.rollback();
  }
}

/**
 * D-1…D-3: the order the recovered commits must have, given which ids the
 * database holds: acknowledged ones at their TSNs, the others (in flight or
 * rejected with TXTDB_IO) in the free TSNs — per handle in submission order.
 * Returns the expected data, or throws naming the violated rule.
 */
function expectedData(outcomes: TxOutcome[], held: Set<number>, lastTsn: number, mustHold: ReadonlySet<number>, where: string): Array<[number, Value]> {
  for (const id of mustHold) assert.ok(held.has(id), `${where}: D-1 acknowledged commit of transaction ${id} lost`);
  const byId = new Map(outcomes.map((o) => [o.id, o]));
  for (const id of held) {
    const o = byId.get(id);
    assert.ok(o !== undefined && o.result !== "conflict", `${where}: D-2 transaction ${id} is there but ${o === undefined ? "was never run" : "was rejected as a conflict"}`);
  }
  assert.equal(held.size, lastTsn, `${where}: D-3 ${held.size} commits recovered but the last TSN is ${lastTsn}`);
  const slots: Array<TxOutcome | undefined> = new Array(lastTsn + 1);
  const unknown: TxOutcome[] = [];
  for (const id of held) {
    const o = byId.get(id)!;
    if (typeof o.result === "object") {
      assert.ok(o.result.tsn <= lastTsn, `${where}: D-3 transaction ${id} (TSN ${o.result.tsn}) is there but the last TSN is ${lastTsn}`);
      slots[o.result.tsn] = o;
    } else unknown.push(o);
  }
  // Each handle's unacknowledged commits keep their submission order; with two handles interleaved, any
  // assignment consistent with that must be tried — they are few, and each differs only in their keys' values.
  unknown.sort((a, b) => a.submitSeq - b.submitSeq);
  for (let tsn = 1, u = 0; tsn <= lastTsn; tsn++) if (slots[tsn] === undefined) slots[tsn] = unknown[u++];
  const state = new Map<number, Value>();
  for (let tsn = 1; tsn <= lastTsn; tsn++) {
    for (const [k, v] of slots[tsn]!.writes) {
      if (v === null) state.delete(k);
      else state.set(k, v);
    }
  }
  return [...state].sort(([a], [b]) => a - b);
}

/** Opens `io` and checks D-1…D-3 and D-6; returns the state for D-5, and the handle (open). */
async function openAndCheck(io: FileIO, outcomes: TxOutcome[], mustHold: ReadonlySet<number>, where: string): Promise<{ db: Database; state: unknown }> {
  let db: Database;
  try {
    db = await open(dir, { io });
  } catch (err) {
    assert.fail(`${where}: open rejected: ${String(err)}`);
  }
  const lastTsn = db.stats().lastTsn;
  const { data, markers } = await readBack(db);
  const expected = expectedData(outcomes, new Set(markers), lastTsn, mustHold, where);
  assert.deepEqual(data, expected, `${where}: D-2/D-4 the data is not the writes of the recovered commits in TSN order`);
  return { db, state: { lastTsn, data, markers } };
}

/**
 * Checks one crash image (D-1…D-6): recovered, crashed right after recovery,
 * crashed at every sync point during recovery — all the same state; then a
 * new commit takes L + 1.
 */
export async function verifyImage(image: MemoryIO, outcomes: TxOutcome[], mustHold: ReadonlySet<number>, where: string, deep: boolean): Promise<void> {
  const during: MemoryIO[] = [];
  const { db, state } = await openAndCheck(deep ? new HookIO(image, () => void during.push(image.crash())) : image, outcomes, mustHold, where);
  const c = await db.check();
  assert.deepEqual(c, { ok: true, problems: [] }, `${where}: D-6 check() ${JSON.stringify(c.problems)}`);
  const lastTsn = db.stats().lastTsn;
  if (deep) {
    for (const [i, img] of [image.crash(), ...during].entries()) {
      const w = `${where}: D-5 ${i === 0 ? "crash after recovery" : `crash at sync point ${i} of recovery`}`;
      const again = await openAndCheck(img, outcomes, mustHold, w);
      assert.deepEqual(again.state, state, `${w}: another state`);
      await again.db.close();
    }
  }
  assert.deepEqual(await db.put("d", "next", 1), { tsn: lastTsn + 1 }, `${where}: D-6 the next commit takes TSN ${lastTsn + 1}`);
  await db.close();
}

// ---------------------------------------------------------------------------
// Crash at every sync point

export type CrashPhase = "before" | "after";

/** Runs the plan, taking a crash image (in `mode`) before and after every datasync and syncDir of every handle; verifies each. */
export async function crashEverywhere(plan: DurabilityPlan, mode: CrashMode, crashSeed: number): Promise<number> {
  const mem = memoryIO();
  const record: RunRecord = { outcomes: [], acked: new Set() };
  const images: Array<{ io: MemoryIO; acked: Set<number>; label: string }> = [];
  const io = new HookIO(mem, (p) => {
    images.push({ io: mem.crash({ mode, seed: crashSeed + images.length }), acked: new Set(record.acked), label: `${mode} crash ${p.phase} ${p.op} ${p.path} (#${images.length})` });
  });
  const { dbs, unexpected } = await runPlan(plan, [io], record);
  assert.deepEqual(unexpected, [], "no error but conflicts without faults");
  for (const db of dbs) await db.close();
  images.push({ io: mem.crash({ mode, seed: crashSeed }), acked: new Set(record.acked), label: `${mode} crash after close` });
  for (const o of record.outcomes) assert.ok(o.result !== "io" && o.result !== "pending", `transaction ${o.id}: ${String(o.result)} without a fault`);
  for (const [i, image] of images.entries()) await verifyImage(image.io, record.outcomes, image.acked, image.label, i % 3 === 0 || i === images.length - 1);
  return images.length;
}

// ---------------------------------------------------------------------------
// Fault injection

export interface Fault {
  op: MemoryOp;
  code: "EIO" | "ENOSPC";
  /** The fault hits the (skip + 1)-th call of `op`. */
  skip: number;
  /** write/append: bytes written before failing. */
  partialBytes: number;
}

/** Counts calls of each op through a memoryIO (to enumerate every fault point). */
export function countingIO(mem: MemoryIO, counts: Map<string, number>): FileIO {
  const bump = (op: string): void => void counts.set(op, (counts.get(op) ?? 0) + 1);
  const handleOps = new Set(["write", "append", "truncate", "datasync"]);
  return new Proxy(mem, {
    get(target, prop) {
      if (prop === "open") {
        return async (path: string, o?: Parameters<FileIO["open"]>[1]) => {
          const h = await target.open(path, o);
          return new Proxy(h, {
            get(t, p) {
              const v = Reflect.get(t, p) as unknown;
              if (typeof v !== "function") return v;
              return (...args: unknown[]) => {
                if (typeof p === "string" && handleOps.has(p)) bump(p);
                return (v as (...a: unknown[]) => unknown).apply(t, args);
              };
            },
          });
        };
      }
      const v = Reflect.get(target, prop) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        if (prop === "syncDir" || prop === "rename" || prop === "unlink") bump(prop);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as FileIO;
}

/**
 * Runs the plan with one injected fault and checks D-1…D-8. Returns whether
 * the fault fired (its call was reached).
 */
export async function faultRun(twoHandlePlan: DurabilityPlan, fault: Fault): Promise<boolean> {
  // One handle: its unacknowledged commits then take TSNs in submission order (two handles: faultScheduledProperty).
  const plan: DurabilityPlan = { ...twoHandlePlan, handles: 1 };
  const mem = memoryIO();
  const counts = new Map<string, number>();
  const rule = ruleOf(fault);
  const db0 = await open(dir, { io: mem }); // created before the fault is armed: open's own failure is not the subject here
  await db0.close();
  mem.injectFault(rule);
  await faultChecks(mem, plan, [countingIO(mem, counts)], describeFault(fault), (p) => p);
  return (counts.get(fault.op) ?? 0) > fault.skip;
}

function ruleOf(fault: Fault): FaultRule {
  return { op: fault.op, code: fault.code, skip: fault.skip, ...(fault.op === "write" || fault.op === "append" ? { partialBytes: fault.partialBytes } : {}) };
}

function describeFault(fault: Fault): string {
  const partial = fault.op === "write" || fault.op === "append" ? ` after ${fault.partialBytes} bytes` : "";
  return `fault ${fault.code} at ${fault.op} #${fault.skip + 1}${partial}`;
}

/** Runs the plan on `ios` with the fault armed on `mem`, then checks D-1…D-8. `drive` settles a promise (a scheduler's waitFor, or nothing). */
async function faultChecks(mem: MemoryIO, plan: DurabilityPlan, ios: FileIO[], where: string, drive: <T>(p: Promise<T>) => Promise<T>): Promise<void> {
  const record: RunRecord = { outcomes: [], acked: new Set() };
  const { dbs, unexpected } = await drive(runPlan(plan, ios, record)).catch((err: unknown) => {
    if (err instanceof TxtDbError && err.code === "TXTDB_IO") return { dbs: [] as Database[], unexpected: [] as unknown[] }; // an open failed
    throw err;
  });
  assert.deepEqual(unexpected.map(String), [], `${where}: only conflicts and TXTDB_IO may reject`);
  // D-7: per handle, nothing acknowledged after its first TXTDB_IO rejection settled.
  for (let h = 0; h < plan.handles; h++) {
    const mine = record.outcomes.filter((o) => o.handle === h);
    const firstIo = Math.min(...mine.filter((o) => o.result === "io").map((o) => o.settleSeq));
    const late = mine.filter((o) => typeof o.result === "object" && o.submitSeq > firstIo);
    assert.deepEqual(late.map((o) => o.id), [], `${where}: D-7 handle ${h} acknowledged commits submitted after a TXTDB_IO rejection`);
    if (firstIo !== Infinity && dbs[h] !== undefined) {
      const code = await drive(dbs[h]!.put("d", "after-failure", 1)).then(() => "resolved", (err: unknown) => (err instanceof TxtDbError ? err.code : String(err)));
      assert.equal(code, "TXTDB_IO", `${where}: D-7 handle ${h} accepts commits after a TXTDB_IO rejection; outcomes ${JSON.stringify(record.outcomes.map((o) => [o.id, o.handle, o.result]))}`);
    }
  }
  mem.clearFaults();
  const power = mem.crash(); // power lost right after the run
  for (const db of dbs) await drive(db.close()).catch((err: unknown) => assert.ok(err instanceof TxtDbError && err.code === "TXTDB_IO", `${where}: close rejected with ${String(err)}`));
  const acked = new Set(record.acked);
  await verifyImage(power, record.outcomes, acked, `${where}, power lost`, true);
  // D-8: the same machine, no power loss.
  const { db, state } = await openAndCheck(mem, record.outcomes, acked, `${where}, reopened`);
  const durable = await openAndCheck(mem.crash(), record.outcomes, acked, `${where}, power lost right after the reopen`);
  assert.deepEqual(durable.state, state, `${where}: D-8 the reopened database served a state that a power loss does not keep`);
  await durable.db.close();
  await db.close();
}

/**
 * Two handles, a fault at a datasync or log write of either, and a
 * scheduler ordering their I/O (sched_io.ts), with Linux's errseq between
 * the handles (ErrSeq: both had the log open before the failure): D-1…D-8
 * hold. The failed handle's unacknowledged commits are the only ones whose
 * fate is open, and they keep its submission order. D-8 here needs SEG-10
 * and SEG-1 (src/engine/log.ts): the reopen — and a handle following a
 * `next` marker — is not told of the other handle's failed write-back
 * (errseq), and re-writes the unattested tail so that its own datasync
 * carries what it serves.
 */
export function faultScheduledProperty(): fc.IAsyncPropertyWithHooks<[fc.Scheduler, DurabilityPlan, Fault]> {
  const faultArb: fc.Arbitrary<Fault> = fc.record({
    op: fc.constantFrom("datasync" as const, "datasync" as const, "write" as const),
    code: fc.constantFrom("EIO" as const, "ENOSPC" as const),
    skip: fc.nat(30),
    partialBytes: fc.nat(200),
  });
  return fc.asyncProperty(fc.scheduler(), durabilityPlanArb.map((p) => ({ ...p, handles: 2 as const })), faultArb, async (s, plan, fault) => {
    const mem = memoryIO();
    const db0 = await open(dir, { io: mem });
    await db0.close();
    mem.injectFault(ruleOf(fault));
    const log = new EventLog();
    const errseq = new ErrSeq();
    await faultChecks(mem, plan, [scheduledIO(mem, s, log, "A", errseq), scheduledIO(mem, s, log, "B", errseq)], describeFault(fault), (p) => s.waitFor(p));
  });
}

// ---------------------------------------------------------------------------
// A damaged record that a later line attests

/** Lines of a log segment: where each starts, and the `durable` offset it carries. */
function logLines(bytes: Uint8Array): Array<{ start: number; durable: number }> {
  const text = new TextDecoder().decode(bytes);
  const out: Array<{ start: number; durable: number }> = [];
  let start = 0;
  for (const line of text.split("\n").slice(0, -1)) {
    out.push({ start, durable: (JSON.parse(line) as { durable: number }).durable });
    start += new TextEncoder().encode(line).length + 1;
  }
  return out;
}

/**
 * SEG-2, recovery policy: a damaged line that a later valid line proves was
 * durable is corruption — open rejects with TXTDB_CORRUPT naming the file and
 * the line's offset — never skipped. (A damaged line nothing attests is a torn
 * tail: not the subject here.)
 */
export function corruptRecordProperty(): fc.IAsyncPropertyWithHooks<[DurabilityPlan, number, number, number]> {
  const noCheckpoints = durabilityPlanArb.map((p) => ({ ...p, handles: 1 as const, checkpointLogBytes: 1 << 30, rounds: p.rounds.map((r) => ({ ...r, checkpoint: "none" as const })) }));
  return fc.asyncProperty(noCheckpoints, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), async (plan, pickLine, pickByte, mask) => {
    const mem = memoryIO();
    const record: RunRecord = { outcomes: [], acked: new Set() };
    const { dbs, unexpected } = await runPlan(plan, [mem], record);
    assert.deepEqual(unexpected, []);
    const image = mem.crash();
    for (const db of dbs) await db.close();
    const logDir = `${dir}/log`;
    const segments = (await image.readdir(logDir)).map((name) => `${logDir}/${name}`);
    const attested: Array<{ file: string; start: number; end: number }> = [];
    for (const [s, file] of segments.entries()) {
      const lines = logLines(await image.readFile(file));
      const size = (await image.stat(file))!.size;
      for (const [i, line] of lines.entries()) {
        const end = lines[i + 1]?.start ?? size;
        if (s < segments.length - 1 || lines.slice(i + 1).some((l) => l.durable > line.start)) attested.push({ file, start: line.start, end });
      }
    }
    fc.pre(attested.length > 0);
    const target = attested[pickLine % attested.length]!;
    const at = target.start + (pickByte % (target.end - target.start));
    const f = await image.open(target.file);
    const [byte] = await f.read(at, 1);
    await f.write(at, new Uint8Array([byte! ^ mask]));
    await f.close();
    const got = await open(dir, { io: image }).then(
      async (db) => {
        const s = `opened (last TSN ${db.stats().lastTsn})`;
        await db.close();
        return s;
      },
      (err: unknown) => (err instanceof TxtDbError ? `${err.code} ${String(err.file)} @${String(err.offset)}` : String(err)),
    );
    assert.equal(got, `TXTDB_CORRUPT ${target.file} @${target.start}`, `byte ${at - target.start} of the line at ${target.start} of ${target.file} XOR ${mask}`);
  });
}
