/**
 * Several OS processes on one database directory (DESIGN.md "Several
 * processes on one directory", coordination.ts PP-1…PP-4, group_commit.ts
 * GC-2, contract 6), with real child processes: test/_helpers/mp_worker.ts
 * (an open database driven command by command over stdin/stdout),
 * test/_helpers/mp_chain.ts (a commit chain SIGKILLed at random moments) and
 * test/_helpers/mp_crashpoint.ts (SIGKILLed at an exact point: in a log
 * rotation, in a checkpoint, halfway through an append).
 *
 * Children run in the runtime of the suite; the mixed-runtime test (Node +
 * Deno + Bun) runs in the Node suite only. TXTDB_SOAK=1 runs longer variants.
 *
 *   tsc -p . && node --test dist/test/multiprocess.test.js
 *   bun test test/multiprocess.test.ts
 *   deno test -A --quiet test/multiprocess.test.ts
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { nativeIO, open, type Database, type DatabaseOptions, type Key } from "../src/mod.ts";
import { runtime, startHelper, type Child, type Runtime } from "./_helpers/runtime.ts";

const soak = process.env.TXTDB_SOAK === "1";
const testTimeoutMs = soak ? 1_800_000 : 120_000;

// ---------------------------------------------------------------------------
// Helpers

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-mp-"));
  tempDirs.push(dir);
  return dir;
}

const children: Child[] = [];
const openDbs: Database[] = [];
after(async () => {
  for (const c of children) c.kill("SIGKILL");
  await Promise.all(children.map((c) => c.exited));
  for (const db of openDbs) await db.close().catch(() => {});
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function openDb(dir: string, options: DatabaseOptions = {}): Promise<Database> {
  const db = await open(dir, options);
  openDbs.push(db);
  return db;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: { code: string; message: string };
}

/** A mp_worker child: an open database in another process, driven command by command. */
class Worker {
  readonly child: Child;
  readonly rt: Runtime;
  #next = 1;
  readonly #pending = new Map<number, (r: Reply) => void>();

  private constructor(child: Child, rt: Runtime) {
    this.child = child;
    this.rt = rt;
    child.onLine((line) => {
      if (!line.startsWith('{"id":')) return;
      const reply = JSON.parse(line) as Reply;
      const settle = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      settle?.(reply);
    });
    void child.exited.then((code) => {
      for (const [id, settle] of this.#pending) {
        settle({ id, ok: false, error: { code: "CHILD_EXITED", message: `${rt} worker exited (${code ?? child.process.signalCode}); stderr: ${child.stderr()}` } });
      }
      this.#pending.clear();
    });
  }

  static async start(dir: string, options: DatabaseOptions = {}, rt: Runtime = runtime): Promise<Worker> {
    const child = startHelper(rt, "mp_worker", [dir, JSON.stringify(options)], { stdin: true });
    children.push(child);
    const w = new Worker(child, rt);
    await child.line(/^\{"ready":true/, 30_000);
    return w;
  }

  get pid(): number {
    return this.child.process.pid!;
  }

  /** Sends a command; resolves with the whole reply (ok or not). */
  send(op: string, args: Record<string, unknown> = {}): Promise<Reply> {
    const id = this.#next++;
    const reply = new Promise<Reply>((resolve) => this.#pending.set(id, resolve));
    this.child.write(JSON.stringify({ id, op, ...args }));
    return reply;
  }

  /** Sends a command; resolves with its result, rejects if it failed. */
  async call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const reply = await this.send(op, args);
    if (!reply.ok) throw new Error(`${this.rt} worker ${this.pid}: ${op} failed: ${reply.error!.code}: ${reply.error!.message}`);
    return reply.result as T;
  }

  /** Sends a command that must fail with `code`. */
  async fails(op: string, args: Record<string, unknown>, code: string): Promise<void> {
    const reply = await this.send(op, args);
    assert.equal(reply.ok, false, `${op} ${JSON.stringify(args)} should have failed with ${code}, got ${JSON.stringify(reply.result)}`);
    assert.equal(reply.error!.code, code, reply.error!.message);
  }

  async stop(): Promise<void> {
    await this.call("close");
    this.child.write(JSON.stringify({ id: 0, op: "exit" }));
    await this.child.exited;
  }
}

async function checkOk(db: Database): Promise<void> {
  const result = await db.check();
  assert.deepEqual(result, { ok: true, problems: [] });
}

async function scanAll(db: Database, ns: string): Promise<Array<[Key, unknown]>> {
  const tx = await db.begin({ readOnly: true });
  try {
    const rows: Array<[Key, unknown]> = [];
    for await (const row of tx.scan(ns)) rows.push(row);
    return rows;
  } finally {
    await tx.rollback();
  }
}

/** The chain of the SIGKILL test, read in one snapshot. */
async function readChain(db: Database): Promise<{ last: number; keys: Key[] }> {
  const tx = await db.begin({ readOnly: true });
  try {
    const last = ((await tx.get("meta", "last")) as number | undefined) ?? 0;
    const keys: Key[] = [];
    for await (const [k, v] of tx.scan("chain")) {
      assert.equal((v as { i: number }).i, k);
      keys.push(k);
    }
    return { last, keys };
  } finally {
    await tx.rollback();
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** n processes of the given runtimes increment one counter `each` times; every value is committed exactly once. */
async function counterTest(runtimes: Runtime[], each: number, options: DatabaseOptions = {}): Promise<void> {
  const dir = path.join(tempDir(), "db");
  const setup = await openDb(dir, options.format === undefined ? {} : { format: options.format });
  await setup.put("c", "n", 0);
  await setup.close();
  const workers = await Promise.all(runtimes.map((rt) => Worker.start(dir, options, rt)));
  const results = await Promise.all(workers.map((w) => w.call<{ seen: number[]; attempts: number }>("counter", { ns: "c", key: "n", n: each, retries: 10_000 })));
  const total = runtimes.length * each;
  for (const [i, r] of results.entries()) {
    assert.equal(r.seen.length, each, `${runtimes[i]} committed ${each} increments`);
    for (let j = 1; j < r.seen.length; j++) assert.ok(r.seen[j]! > r.seen[j - 1]!, `${runtimes[i]} saw its own increments grow`);
  }
  const all = results.flatMap((r) => r.seen).sort((a, b) => a - b);
  assert.deepEqual(all, range(1, total), "every committed value is distinct and none is missing");
  for (const w of workers) assert.equal(await w.call("get", { ns: "c", key: "n" }), total);
  const checks = await Promise.all(workers.map((w) => w.call("check")));
  for (const c of checks) assert.deepEqual(c, { ok: true, problems: [] });
  await Promise.all(workers.map((w) => w.stop()));
  const db = await openDb(dir);
  assert.equal(await db.get("c", "n"), total);
  await checkOk(db);
  await db.close();
}

// ---------------------------------------------------------------------------

describe("several processes on one directory", { timeout: testTimeoutMs }, () => {
  const each = soak ? 1000 : 250;
  test(`1. four processes × ${each} increments of one counter: ${4 * each}, every committed value distinct`, { timeout: testTimeoutMs }, async () => {
    await counterTest([runtime, runtime, runtime, runtime], each);
  });

  test(`1b. the same with frequent automatic checkpoints (checkpointLogBytes 2 KiB) in every process`, { timeout: testTimeoutMs }, async () => {
    await counterTest([runtime, runtime, runtime, runtime], each, { checkpointLogBytes: 2048 });
  });

  test(`1c. the counter with frequent checkpoints in YAML and XML page files (issue 7)`, { timeout: testTimeoutMs }, async () => {
    for (const format of ["yaml", "xml"] as const) await counterTest([runtime, runtime], each / 5, { checkpointLogBytes: 2048, format });
  });

  test(`6. the counter with processes of mixed runtimes: Node + Deno + Bun + Node, ${each} increments each`, { timeout: testTimeoutMs, skip: runtime !== "node" && "mixed runtimes run in the Node suite" }, async () => {
    await counterTest(["node", "deno", "bun", "node"], each);
  });

  test("2. bank: 3 processes transfer among 10 accounts (checkpointing as they go); readers in every process always see the same total", { timeout: testTimeoutMs }, async () => {
    const dir = path.join(tempDir(), "db");
    const accounts = 10;
    const total = accounts * 1000;
    const setup = await openDb(dir);
    await setup.transaction(async (tx) => {
      for (let a = 0; a < accounts; a++) await tx.put("acct", a, 1000);
    });
    await setup.close();
    const workers = await Promise.all([0, 1, 2].map(() => Worker.start(dir, { checkpointLogBytes: 4096 })));
    const transfers = soak ? 2000 : 200;
    const results = await Promise.all(workers.map((w) => w.call<{ transfers: number; reads: number; violations: string[] }>("bank", { ns: "acct", accounts, transfers, total, readers: 2 })));
    for (const r of results) {
      assert.deepEqual(r.violations, [], "no snapshot saw another total");
      assert.equal(r.transfers, transfers);
      assert.ok(r.reads > 0, "the readers ran");
    }
    for (const w of workers) assert.deepEqual(await w.call("check"), { ok: true, problems: [] });
    const stats = await Promise.all(workers.map((w) => w.call<{ lastTsn: number }>("stats")));
    await Promise.all(workers.map((w) => w.stop()));
    const db = await openDb(dir);
    const rows = await scanAll(db, "acct");
    assert.deepEqual(rows.map(([k]) => k), range(0, accounts - 1));
    assert.equal(rows.reduce((s, [, v]) => s + (v as number), 0), total);
    assert.equal(db.stats().lastTsn, 1 + 3 * transfers, "one TSN per transfer");
    assert.ok(stats.every((s) => s.lastTsn <= 1 + 3 * transfers));
    await checkOk(db);
    await db.close();
  });

  test(`3. SIGKILL at random moments, ${soak ? 200 : 40} rounds: acked commits survive, nothing partial, a prefix, check() ok`, { timeout: testTimeoutMs }, async () => {
    const base = tempDir();
    const dir = path.join(base, "db");
    const journal = path.join(base, "journal");
    const rounds = soak ? 200 : 40;
    // A handle that stays open in this process across all rounds: it sees the
    // chain through catch-up (not recovery), across the child's checkpoints.
    const observer = await openDb(dir);
    let n = 0;
    let committedInTotal = 0;
    for (let round = 0; round < rounds; round++) {
      fs.writeFileSync(journal, "");
      const child = startHelper(runtime, "mp_chain", [dir, journal, "6000"]);
      children.push(child);
      if (round % 2 === 0) await sleep(Math.random() * 400);
      else {
        await child.line(/"ready":true/, 30_000).catch(() => {});
        await sleep(Math.random() * 300);
      }
      child.kill("SIGKILL");
      await child.exited;
      const notes = fs.readFileSync(journal, "utf8").split("\n").filter((l) => l !== "");
      const acked = notes.filter((l) => l.startsWith("A ")).map((l) => Number(l.slice(2)));
      const intents = notes.filter((l) => l.startsWith("I ")).map((l) => Number(l.slice(2)));
      const start = notes.find((l) => l.startsWith("S "));
      if (start !== undefined) assert.equal(Number(start.slice(2)), n, `round ${round}: the child started from the recovered chain`);
      const maxAck = Math.max(n, ...acked);
      const maxIntent = Math.max(n, ...intents);

      // Before any open recovers: the long-lived handle sees every acked commit, and a whole chain (contract 6).
      const seen = await readChain(observer);
      assert.ok(seen.last >= maxAck && seen.last <= maxIntent, `round ${round}: the open handle sees last ${seen.last}; acked ≤ ${maxAck}, intents ≤ ${maxIntent}`);
      assert.deepEqual(seen.keys, range(1, seen.last), `round ${round}: the open handle sees the chain 1..${seen.last}`);

      const db = await openDb(dir);
      const last = ((await db.get("meta", "last")) as number | undefined) ?? 0;
      const chain = await scanAll(db, "chain");
      const where = `round ${round} (acked ≤ ${maxAck}, intents ≤ ${maxIntent}, last ${last}, ${chain.length} chain keys)`;
      assert.ok(last >= maxAck, `${where}: every acked commit is present`);
      assert.ok(last <= maxIntent, `${where}: no commit beyond the last intent`);
      assert.deepEqual(chain.map(([k]) => k), range(1, last), `${where}: the chain is 1..last, no gap, no partial commit`);
      for (const [k, v] of chain) assert.equal((v as { i: number }).i, k);
      await checkOk(db);
      // The long-lived handle sees the same state.
      assert.equal((await readChain(observer)).last, last, `${where}: the long-lived handle sees the recovered chain`);
      committedInTotal += last - n;
      n = last;
      await db.close();
    }
    assert.ok(committedInTotal > 0, "the children committed something");
    await checkOk(observer);
    await observer.close();
    const db = await openDb(dir);
    assert.equal(await db.get("meta", "last"), n);
    assert.equal((await scanAll(db, "chain")).length, n);
    await checkOk(db);
    await db.close();
  });

  test("4a. a process killed while holding the writer lock: another process's commit goes through within 1 s", { timeout: testTimeoutMs }, async () => {
    const dir = path.join(tempDir(), "db");
    const db = await openDb(dir);
    await db.put("t", "k", 0);
    const holder = await Worker.start(dir);
    const other = await Worker.start(dir);
    assert.equal(await holder.call("holdWriterLock"), "holding");
    let mineAt = 0;
    let theirsAt = 0;
    const mine = db.put("t", "k", 1).then((r) => ((mineAt = performance.now()), r));
    const theirs = other.call<{ tsn: number }>("put", { ns: "t", key: "j", value: 2 }).then((r) => ((theirsAt = performance.now()), r));
    await sleep(300);
    assert.equal(mineAt, 0, "this process's commit waits for the writer lock");
    assert.equal(theirsAt, 0, "the other process's commit waits for the writer lock");
    const killedAt = performance.now();
    holder.child.kill("SIGKILL");
    const [a, b] = await Promise.all([mine, theirs]);
    assert.ok(mineAt - killedAt < 1000, `committed ${(mineAt - killedAt).toFixed(0)} ms after the kill`);
    assert.ok(theirsAt - killedAt < 1000, `the other process committed ${(theirsAt - killedAt).toFixed(0)} ms after the kill`);
    assert.deepEqual([a.tsn, b.tsn].sort(), [2, 3]);
    assert.equal(await other.call("get", { ns: "t", key: "k" }), 1);
    assert.equal(await db.get("t", "j"), 2);
    await checkOk(db);
    await other.stop();
    await db.close();
  });

  test("4b. a process killed while committing in a loop: another process commits within 1 s of the kill", { timeout: testTimeoutMs }, async () => {
    const dir = path.join(tempDir(), "db");
    const db = await openDb(dir);
    for (let round = 0; round < (soak ? 30 : 5); round++) {
      const w = await Worker.start(dir);
      let loops = 0;
      w.child.onLine((l) => {
        const m = /^\{"loop":(\d+)\}$/.exec(l);
        if (m !== null) loops = Number(m[1]);
      });
      await w.call("commitLoop", { ns: "loop", key: round });
      await w.child.line(/^\{"loop":5\}$/);
      await sleep(Math.random() * 50);
      w.child.kill();
      const killedAt = performance.now();
      const seen = loops;
      await db.put("after", round, true);
      const ms = performance.now() - killedAt;
      assert.ok(ms < 1000, `round ${round}: committed ${ms.toFixed(0)} ms after the kill`);
      await w.child.exited;
      const v = (await db.get("loop", round)) as number;
      assert.ok(v >= seen, `round ${round}: acknowledged loop commit ${seen} is there (found ${v})`);
      await checkOk(db);
    }
    await db.close();
    const again = await openDb(dir);
    await checkOk(again);
    await again.close();
  });

  describe("4c. a process SIGKILLed at an exact crash point: the handles open across the kill go on, and lose nothing", () => {
    const cases = [
      { point: "rotate", a: 1, what: "in a log rotation, after the new segment exists and before the old one points to it" },
      { point: "checkpoint-rename", a: 2, what: "in a checkpoint, after renaming a page and before installing the manifest" },
      { point: "torn-append", a: 1, what: "halfway through appending a commit, holding the writer lock" },
    ] as const;
    for (const { point, a, what } of cases) {
      test(`${point}: ${what}`, { timeout: testTimeoutMs }, async () => {
        const dir = path.join(tempDir(), "db");
        const observer = await openDb(dir); // open across the kill: it goes on through catch-up, never recovery
        await observer.put("t", "o", 0);
        const child = startHelper(runtime, "mp_crashpoint", [dir, point]);
        children.push(child);
        await child.line(new RegExp(`^\\{"at":"${point}"\\}$`), 30_000);
        child.kill("SIGKILL");
        await child.exited;
        const killedAt = performance.now();
        await observer.put("t", "o", 1);
        const ms = performance.now() - killedAt;
        assert.ok(ms < 1000, `the open handle committed ${ms.toFixed(0)} ms after the kill`);
        const expected = { a, o: 1 };
        assert.deepEqual(Object.fromEntries(await scanAll(observer, "t")), expected, "the open handle: the dead process's commits, its own, no partial one");

        // Another handle opens (recovery), and both go on committing: each sees the other's commits.
        const fresh = await openDb(dir);
        assert.deepEqual(Object.fromEntries(await scanAll(fresh, "t")), expected, "a new handle sees the same, including the open handle's commit after the kill");
        await fresh.put("t", "f", 1);
        assert.equal(await observer.get("t", "f"), 1, "the open handle sees the new handle's commit (contract 6)");
        await observer.put("t", "o", 2);
        assert.equal(await fresh.get("t", "o"), 2, "the new handle sees the open handle's commit (contract 6)");
        await checkOk(observer);
        await checkOk(fresh);
        const last = observer.stats().lastTsn;
        assert.equal(fresh.stats().lastTsn, last, "both handles at the same TSN");
        await observer.close();
        await fresh.close();
        const db = await openDb(dir);
        assert.deepEqual(Object.fromEntries(await scanAll(db, "t")), { a, o: 2, f: 1 }, "after reopening: every acknowledged commit");
        await checkOk(db);
        await db.close();
      });
    }
  });

  test("4d. a log segment another process removes (SEG-3) between catch-up's stat() and open() of it: the lagging handle resyncs and loses nothing", { timeout: testTimeoutMs }, async () => {
    const dir = path.join(tempDir(), "db");
    // This handle's FileIO answers stat() of one segment as it would have a moment before the other process removed it.
    const real = nativeIO();
    let staleStat: string | null = null;
    const io = new Proxy(real, {
      get(target, key) {
        if (key === "stat") return async (p: string) => (p === staleStat ? { size: 0, isDirectory: false, isFile: true } : target.stat(p));
        const v = Reflect.get(target, key) as unknown;
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    const lagging = await openDb(dir, { io });
    const other = await Worker.start(dir);
    for (const [key, value] of [["a", 1], ["b", 2], ["c", 3]] as const) {
      await other.call("put", { ns: "t", key, value });
      await other.call("checkpoint"); // the next append starts a new segment; segments wholly checkpointed go
    }
    assert.deepEqual(fs.readdirSync(path.join(dir, "log")), ["0000000000000003.jsonl"], "segments 1 and 2 are gone");
    staleStat = path.join(dir, "log", "0000000000000002.jsonl");
    assert.equal(await lagging.get("t", "c"), 3, "the lagging handle catches up past the removed segments");
    staleStat = null;
    await other.call("put", { ns: "t", key: "d", value: 4 });
    assert.equal(await lagging.get("t", "d"), 4, "and keeps seeing the other process's commits");
    assert.deepEqual(await lagging.put("t", "e", 5), { tsn: 5 });
    assert.equal(await other.call("get", { ns: "t", key: "e" }), 5, "the other process sees its commit");
    await checkOk(lagging);
    await other.stop();
    await lagging.close();
    const db = await openDb(dir);
    assert.deepEqual(Object.fromEntries(await scanAll(db, "t")), { a: 1, b: 2, c: 3, d: 4, e: 5 });
    await checkOk(db);
    await db.close();
  });

  test("5. a long snapshot in one process reads the same while another commits 1,000 changes and checkpoints twice", { timeout: testTimeoutMs }, async () => {
    const dir = path.join(tempDir(), "db");
    const model = new Map<string, unknown>();
    const setup = await openDb(dir);
    await setup.transaction(async (tx) => {
      for (let i = 0; i < 300; i++) {
        const k = `k${String(i).padStart(3, "0")}`;
        await tx.put("data", k, { i, gen: 0 });
        model.set(k, { i, gen: 0 });
      }
    });
    await setup.close(); // checkpoints at TSN 1
    const sorted = (m: Map<string, unknown>): Array<[string, unknown]> => [...m].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));

    const a = await Worker.start(dir, { cacheBytes: 0 }); // every read goes to the page files
    const b = await Worker.start(dir);
    const gen1: Array<[string, string, unknown]> = [];
    for (let i = 0; i < 300; i += 7) gen1.push(["put", `k${String(i).padStart(3, "0")}`, { i, gen: 1 }]);
    for (const op of gen1) {
      await b.call("apply", { ns: "data", ops: [op] });
      model.set(op[1], op[2]);
    }
    const before = sorted(model);
    const { snapshotTsn } = await a.call<{ snapshotTsn: number }>("begin", { tx: "long" });
    assert.equal(snapshotTsn, 1 + gen1.length);
    assert.deepEqual(await a.call("scan", { tx: "long", ns: "data" }), before);

    // 1,000 changes: updates, inserts and deletes, 4 per commit.
    const ops: Array<[string, string, unknown?]> = [];
    for (let j = 0; j < 1000; j++) {
      const k = j % 3 === 2 ? `n${String(j).padStart(4, "0")}` : `k${String((j * 37) % 300).padStart(3, "0")}`;
      if (j % 5 === 4) {
        ops.push(["del", k]);
        model.delete(k);
      } else {
        ops.push(["put", k, { j, gen: 2 }]);
        model.set(k, { j, gen: 2 });
      }
    }
    const perCommit = soak ? 1 : 4;
    for (let j = 0; j < ops.length; j += perCommit * 50) {
      const chunk = ops.slice(j, j + perCommit * 50);
      await Promise.all(range(0, 49).map((c) => {
        const part = chunk.slice(c * perCommit, (c + 1) * perCommit);
        return part.length === 0 ? null : b.call("apply", { ns: "data", ops: part });
      }));
    }
    const bStats = await b.call<{ lastTsn: number }>("stats");
    assert.equal(bStats.lastTsn, snapshotTsn + 1000 / perCommit, "one TSN per commit");
    const cp1 = await b.call<{ tsn: number }>("checkpoint");
    const cp2 = await b.call<{ tsn: number }>("checkpoint");
    assert.equal(cp1.tsn, snapshotTsn, "the checkpoint stops at the other process's live snapshot (PP-2)");
    assert.equal(cp2.tsn, snapshotTsn);
    assert.deepEqual(await a.call("scan", { tx: "long", ns: "data" }), before, "the long snapshot reads the same after the checkpoints");
    for (const key of ["k000", "k037", "k111", "k299"]) {
      assert.deepEqual(await a.call("get", { tx: "long", ns: "data", key }), before.find(([k]) => k === key)![1], `${key} as of the snapshot`);
    }
    assert.deepEqual(await a.call("get", { tx: "long", ns: "data", key: "n0002" }), null, "an insert after the snapshot is invisible"); // undefined → null in JSON
    await a.call("rollback", { tx: "long" });
    // The ended snapshot stays a's spare (DB-8) until a's event loop turns: each round trip to a lets it turn.
    let cp3 = await b.call<{ tsn: number }>("checkpoint");
    for (let i = 0; i < 20 && cp3.tsn < bStats.lastTsn; i++) {
      await a.call("get", { ns: "data", key: "k000" });
      cp3 = await b.call<{ tsn: number }>("checkpoint");
    }
    assert.equal(cp3.tsn, bStats.lastTsn, "released: the checkpoint folds everything");
    await a.call("begin", { tx: "new" });
    assert.deepEqual(await a.call("scan", { tx: "new", ns: "data" }), sorted(model), "a new transaction sees every change");
    await a.call("rollback", { tx: "new" });
    assert.deepEqual(await a.call("check"), { ok: true, problems: [] });
    assert.deepEqual(await b.call("check"), { ok: true, problems: [] });
    await a.stop();
    await b.stop();
    const db = await openDb(dir);
    assert.deepEqual(await scanAll(db, "data"), sorted(model));
    await checkOk(db);
    await db.close();
  });

  describe("7. isolation across processes, step by step", () => {
    async function pair(setup: (db: Database) => Promise<void>): Promise<{ dir: string; a: Worker; b: Worker }> {
      const dir = path.join(tempDir(), "db");
      const db = await openDb(dir);
      await setup(db);
      await db.close();
      const [a, b] = await Promise.all([Worker.start(dir), Worker.start(dir)]);
      return { dir, a, b };
    }

    test("lost update: of two read-modify-writes of one key, the later committer gets TXTDB_CONFLICT", { timeout: testTimeoutMs }, async () => {
      const { a, b } = await pair((db) => db.put("t", "x", 10).then(() => {}));
      await a.call("begin", { tx: "t" });
      await b.call("begin", { tx: "t" });
      assert.equal(await a.call("get", { tx: "t", ns: "t", key: "x" }), 10);
      assert.equal(await b.call("get", { tx: "t", ns: "t", key: "x" }), 10);
      await a.call("put", { tx: "t", ns: "t", key: "x", value: 11 });
      await b.call("put", { tx: "t", ns: "t", key: "x", value: 11 });
      assert.deepEqual(await a.call("commit", { tx: "t" }), { tsn: 2 });
      await b.fails("commit", { tx: "t" }, "TXTDB_CONFLICT");
      await b.fails("get", { tx: "t", ns: "t", key: "x" }, "TXTDB_TX_CLOSED");
      assert.equal(await b.call("get", { ns: "t", key: "x" }), 11);
      // The loser's retry sees the winner's write.
      await b.call("begin", { tx: "r" });
      assert.equal(await b.call("get", { tx: "r", ns: "t", key: "x" }), 11);
      await b.call("put", { tx: "r", ns: "t", key: "x", value: 12 });
      assert.deepEqual(await b.call("commit", { tx: "r" }), { tsn: 3 });
      assert.equal(await a.call("get", { ns: "t", key: "x" }), 12);
      await a.stop();
      await b.stop();
    });

    test("read skew: a snapshot keeps seeing x and y from before another process changed both", { timeout: testTimeoutMs }, async () => {
      const { a, b } = await pair(async (db) => {
        await db.transaction(async (tx) => {
          await tx.put("t", "x", 50);
          await tx.put("t", "y", 50);
        });
      });
      await a.call("begin", { tx: "r" });
      assert.equal(await a.call("get", { tx: "r", ns: "t", key: "x" }), 50);
      await b.call("begin", { tx: "w" });
      await b.call("put", { tx: "w", ns: "t", key: "x", value: 0 });
      await b.call("put", { tx: "w", ns: "t", key: "y", value: 100 });
      assert.deepEqual(await b.call("commit", { tx: "w" }), { tsn: 2 });
      assert.equal(await a.call("get", { tx: "r", ns: "t", key: "y" }), 50, "y as of the snapshot");
      assert.equal(await a.call("get", { tx: "r", ns: "t", key: "x" }), 50);
      assert.deepEqual(await a.call("scan", { tx: "r", ns: "t" }), [["x", 50], ["y", 50]]);
      assert.deepEqual(await a.call("commit", { tx: "r" }), { tsn: 1 }, "a read-only transaction commits with its snapshot TSN");
      await a.call("begin", { tx: "r2" });
      assert.deepEqual(await a.call("scan", { tx: "r2", ns: "t" }), [["x", 0], ["y", 100]]);
      await a.call("rollback", { tx: "r2" });
      await a.stop();
      await b.stop();
    });

    for (const how of ["get", "scan"] as const) {
      test(`write skew (reads by ${how}) under "serializable": the later committer gets TXTDB_CONFLICT`, { timeout: testTimeoutMs }, async () => {
        const { dir, a, b } = await pair(async (db) => {
          await db.transaction(async (tx) => {
            await tx.put("oncall", "alice", true);
            await tx.put("oncall", "bob", true);
          });
        });
        const onCall = async (w: Worker): Promise<number> => {
          if (how === "scan") return (await w.call<Array<[string, boolean]>>("scan", { tx: "t", ns: "oncall" })).filter(([, v]) => v).length;
          const alice = await w.call<boolean>("get", { tx: "t", ns: "oncall", key: "alice" });
          const bob = await w.call<boolean>("get", { tx: "t", ns: "oncall", key: "bob" });
          return Number(alice) + Number(bob);
        };
        await a.call("begin", { tx: "t", isolation: "serializable" });
        await b.call("begin", { tx: "t", isolation: "serializable" });
        assert.equal(await onCall(a), 2);
        assert.equal(await onCall(b), 2);
        await a.call("put", { tx: "t", ns: "oncall", key: "alice", value: false });
        await b.call("put", { tx: "t", ns: "oncall", key: "bob", value: false });
        assert.deepEqual(await a.call("commit", { tx: "t" }), { tsn: 2 });
        await b.fails("commit", { tx: "t" }, "TXTDB_CONFLICT");
        await a.stop();
        await b.stop();
        const db = await openDb(dir);
        assert.deepEqual(await scanAll(db, "oncall"), [["alice", false], ["bob", true]], "one doctor stays on call");
        await db.close();
      });
    }

    test(`phantom under "serializable": two processes count the rows by scan and each inserts one; the later committer gets TXTDB_CONFLICT`, { timeout: testTimeoutMs }, async () => {
      const { dir, a, b } = await pair(async (db) => {
        await db.transaction(async (tx) => {
          await tx.put("oncall", "alice", true);
          await tx.put("oncall", "bob", true);
        });
      });
      for (const w of [a, b]) {
        await w.call("begin", { tx: "t", isolation: "serializable" });
        assert.equal((await w.call<unknown[]>("scan", { tx: "t", ns: "oncall" })).length, 2);
      }
      await a.call("put", { tx: "t", ns: "oncall", key: "carol", value: true });
      await b.call("put", { tx: "t", ns: "oncall", key: "dave", value: true });
      assert.deepEqual(await a.call("commit", { tx: "t" }), { tsn: 2 });
      await b.fails("commit", { tx: "t" }, "TXTDB_CONFLICT");
      await a.stop();
      await b.stop();
      const db = await openDb(dir);
      assert.deepEqual((await scanAll(db, "oncall")).map(([k]) => k), ["alice", "bob", "carol"]);
      await db.close();
    });

    test(`the same write skew under "snapshot" is allowed: both commit`, { timeout: testTimeoutMs }, async () => {
      const { dir, a, b } = await pair(async (db) => {
        await db.transaction(async (tx) => {
          await tx.put("oncall", "alice", true);
          await tx.put("oncall", "bob", true);
        });
      });
      for (const w of [a, b]) {
        await w.call("begin", { tx: "t", isolation: "snapshot" });
        assert.equal(await w.call("get", { tx: "t", ns: "oncall", key: "alice" }), true);
        assert.equal(await w.call("get", { tx: "t", ns: "oncall", key: "bob" }), true);
      }
      await a.call("put", { tx: "t", ns: "oncall", key: "alice", value: false });
      await b.call("put", { tx: "t", ns: "oncall", key: "bob", value: false });
      assert.deepEqual(await a.call("commit", { tx: "t" }), { tsn: 2 });
      assert.deepEqual(await b.call("commit", { tx: "t" }), { tsn: 3 });
      await a.stop();
      await b.stop();
      const db = await openDb(dir);
      assert.deepEqual(await scanAll(db, "oncall"), [["alice", false], ["bob", false]]);
      await db.close();
    });
  });

  test("8. visibility (contract 6): a commit resolved in process B is seen by a transaction begun afterwards in idle process A", { timeout: testTimeoutMs }, async () => {
    const dir = path.join(tempDir(), "db");
    const here = await openDb(dir);
    const a = await Worker.start(dir);
    const b = await Worker.start(dir);
    const rounds = soak ? 300 : 40;
    for (let i = 1; i <= rounds; i++) {
      const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a];
      if (i % 10 === 0) await sleep(200); // the reader idles with the database open
      const { tsn } = await writer.call<{ tsn: number }>("put", { ns: "v", key: "x", value: i });
      assert.equal(tsn, i);
      assert.equal(await reader.call("get", { ns: "v", key: "x" }), i, `round ${i}: ${reader === a ? "A" : "B"} sees the commit`);
      await reader.call("begin", { tx: `t${i}` });
      assert.equal(await reader.call("get", { tx: `t${i}`, ns: "v", key: "x" }), i);
      await reader.call("rollback", { tx: `t${i}` });
      assert.equal(await here.get("v", "x"), i, `round ${i}: this process sees it too`);
    }
    // The other way round: a commit of this process, seen by the children.
    for (let i = rounds + 1; i <= rounds + 10; i++) {
      await here.put("v", "x", i);
      assert.equal(await a.call("get", { ns: "v", key: "x" }), i);
      assert.equal(await b.call("get", { ns: "v", key: "x" }), i);
    }
    await a.stop();
    await b.stop();
    await checkOk(here);
    await here.close();
  });

  test("9. PP-6, SEG-9: every append and cut adds to the log generation in the lock file; a handle that finds it unchanged reads no log, one that finds it moved sees the commit", { timeout: testTimeoutMs }, async () => {
    const dir = path.join(tempDir(), "db");
    // Counts the reads of the log, to show which begin() and get() calls looked at it.
    let logReads = 0;
    const base = nativeIO();
    const counting = new Proxy(base, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== "function") return v;
        if (prop !== "open") return (v as (...a: unknown[]) => unknown).bind(target);
        return async (p: string, o?: Parameters<typeof base.open>[1]) => {
          const h = await target.open(p, o);
          if (!/[/\\]log[/\\]/.test(p)) return h;
          return new Proxy(h, {
            get(t, name, r) {
              const f = Reflect.get(t, name, r) as unknown;
              if (typeof f !== "function") return f;
              if (name === "read" || name === "readNow") return (...args: unknown[]) => ((logReads++, (f as (...a: unknown[]) => unknown).apply(t, args)));
              return (f as (...a: unknown[]) => unknown).bind(t);
            },
          });
        };
      },
    });
    const a = await openDb(dir, { io: counting });
    const b = await openDb(dir, { io: counting });
    const generation = (): bigint => fs.readFileSync(path.join(dir, "lock")).readBigInt64LE(0);
    await a.put("v", "x", 0);
    assert.equal(await b.get("v", "x"), 0);
    for (let i = 1; i <= 50; i++) {
      const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a];
      const before = generation();
      await writer.put("v", "x", i);
      assert.ok(generation() > before, `round ${i}: the commit moved the generation`);
      assert.equal(await reader.get("v", "x"), i, `round ${i}: the other handle sees the commit`);
      const tx = await reader.begin({ readOnly: true });
      assert.equal(await tx.get("v", "x"), i);
      await tx.rollback();
      // Nothing changed since: these read no log at all.
      const reads = logReads;
      for (let k = 0; k < 20; k++) assert.equal(await reader.get("v", "x"), i);
      await (await reader.begin({ readOnly: true })).rollback();
      assert.equal(logReads, reads, `round ${i}: an unchanged generation needs no read of the log`);
    }
    await checkOk(a);
  });
});
