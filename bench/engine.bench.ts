/**
 * Engine benchmarks (issue 3 targets), each variant in its own process:
 *
 *   node dist/bench/engine.bench.js --variant <name> [--json]
 *   npm run bench            (all of bench/, with the target ratios)
 *
 * Variants:
 *   raw-floor          fs.writeSync(128 B) appended + fs.fdatasyncSync: the disk's floor for appends, commits/s
 *   raw-overwrite-floor the same 128 B written over a file already 4 MiB long (what txtdb's padded log
 *                      does, SEG-7): the floor for commits that need no new file size, commits/s
 *   seq-put            1 writer, sequential db.put, durable: commits/s (target ≥ 0.8× raw-floor)
 *   concurrent-put     64 async callers of db.put, durable: commits/s (≥ 40,000/s) and datasyncs/commit (≤ 0.05)
 *   db-get             hot point reads through db.get over 100,000 docs: reads/s (≥ 150,000/s)
 *   tx-get             hot point reads through tx.get on one open transaction: reads/s (≥ 500,000/s)
 *                      Both first read every doc once (untimed): "hot" is the steady state, after
 *                      the pages are cached and the checkpoint's pages converted (src/engine/pages.ts PG-4).
 *   bulk-load          100,000 docs of ~200 bytes in one transaction, durable: seconds (≤ 1 s)
 *   reopen             open the bulk-loaded database + first read: ms (≤ 60 ms)
 *
 * Files go to a fresh directory under os.tmpdir() (set TMPDIR for another disk).
 * Throughput variants run for a fixed time and report operations per second.
 */
import fs from "node:fs";
import path from "node:path";
import { open, type Database } from "../src/mod.ts";
import { forSeconds, runVariant, tempDir } from "./_harness.ts";

const docCount = 100_000;

function doc(i: number): { id: number; name: string; email: string; tags: string[]; score: number; active: boolean; bio: string } {
  return { id: i, name: `user ${i}`, email: `user${i}@example.com`, tags: ["alpha", "beta"], score: i % 1000, active: i % 2 === 0, bio: "x".repeat(80) };
}

async function loaded(dir: string): Promise<Database> {
  const db = await open(dir);
  await db.transaction(async (tx) => {
    for (let i = 0; i < docCount; i++) await tx.put("docs", i, doc(i));
  });
  await db.checkpoint(); // measure reads, not reads racing the automatic checkpoint of the load
  return db;
}

/** Reads every doc once through `get`, so the timed reads are hot. */
async function warm(get: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < docCount; i++) if ((await get(i)) === undefined) throw new Error("missing doc");
}

type Result = Record<string, number>;

const variants: Record<string, () => Promise<Result>> = {
  "raw-floor": async () => {
    const dir = tempDir();
    const fd = fs.openSync(path.join(dir, "log"), "a");
    const rec = new Uint8Array(128).fill(0x61);
    const r = await forSeconds(3, async () => {
      for (let i = 0; i < 100; i++) {
        fs.writeSync(fd, rec);
        fs.fdatasyncSync(fd);
      }
      return 100;
    });
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true });
    return { opsPerSec: r.ops / r.seconds };
  },
  "raw-overwrite-floor": async () => {
    const dir = tempDir();
    const fd = fs.openSync(path.join(dir, "log"), "w+");
    const pad = new Uint8Array(4 << 20).fill(0x20);
    fs.writeSync(fd, pad);
    fs.fdatasyncSync(fd);
    const rec = new Uint8Array(128).fill(0x61);
    let at = 0;
    const r = await forSeconds(3, async () => {
      for (let i = 0; i < 100; i++) {
        fs.writeSync(fd, rec, 0, rec.length, at);
        at = (at + rec.length) % pad.length;
        fs.fdatasyncSync(fd);
      }
      return 100;
    });
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true });
    return { opsPerSec: r.ops / r.seconds };
  },
  "seq-put": async () => {
    const dir = tempDir();
    const db = await open(dir);
    let i = 0;
    const r = await forSeconds(3, async () => {
      await db.put("bench", i++, { n: i, s: "hello" });
      return 1;
    });
    const s = db.stats();
    await db.close();
    fs.rmSync(dir, { recursive: true });
    return { opsPerSec: r.ops / r.seconds, datasyncsPerCommit: s.datasyncsPerCommit, commitP99Us: s.latency.commit.p99Us };
  },
  "concurrent-put": async () => {
    const dir = tempDir();
    const db = await open(dir);
    let next = 0;
    const callers = 64;
    const r = await forSeconds(3, async () => {
      await Promise.all(Array.from({ length: callers }, async () => {
        for (let k = 0; k < 20; k++) await db.put("bench", next++, { n: next, s: "hello" });
      }));
      return callers * 20;
    });
    const s = db.stats();
    await db.close();
    fs.rmSync(dir, { recursive: true });
    return { opsPerSec: r.ops / r.seconds, datasyncsPerCommit: s.datasyncsPerCommit, commitP99Us: s.latency.commit.p99Us };
  },
  "db-get": async () => {
    const dir = tempDir();
    const db = await loaded(dir);
    await warm((i) => db.get("docs", i));
    let i = 0;
    const r = await forSeconds(3, async () => {
      for (let k = 0; k < 1000; k++) {
        const v = await db.get("docs", (i = (i + 7919) % docCount));
        if (v === undefined) throw new Error("missing doc");
      }
      return 1000;
    });
    await db.close();
    fs.rmSync(dir, { recursive: true });
    return { opsPerSec: r.ops / r.seconds };
  },
  "tx-get": async () => {
    const dir = tempDir();
    const db = await loaded(dir);
    const tx = await db.begin({ readOnly: true });
    await warm((i) => tx.get("docs", i));
    let i = 0;
    const r = await forSeconds(3, async () => {
      for (let k = 0; k < 1000; k++) {
        const v = await tx.get("docs", (i = (i + 7919) % docCount));
        if (v === undefined) throw new Error("missing doc");
      }
      return 1000;
    });
    await tx.rollback();
    await db.close();
    fs.rmSync(dir, { recursive: true });
    return { opsPerSec: r.ops / r.seconds };
  },
  "bulk-load": async () => {
    const dir = tempDir();
    const db = await open(dir);
    const t0 = performance.now();
    await db.transaction(async (tx) => {
      for (let i = 0; i < docCount; i++) await tx.put("docs", i, doc(i));
    });
    const seconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    await db.close();
    const closeSeconds = (performance.now() - t1) / 1000;
    fs.rmSync(dir, { recursive: true });
    return { seconds, closeWithCheckpointSeconds: closeSeconds };
  },
  reopen: async () => {
    const dir = tempDir();
    await (await loaded(dir)).close();
    const t0 = performance.now();
    const db = await open(dir);
    const v = await db.get("docs", 4242);
    const ms = performance.now() - t0;
    if (v === undefined) throw new Error("missing doc");
    await db.close();
    fs.rmSync(dir, { recursive: true });
    return { ms };
  },
};


await runVariant("engine", variants);
