/**
 * FileIO micro-benchmarks (issue 2 targets):
 *   lock pair (tryLock + unlock, uncontended) ≤ 3 µs;
 *   the adapter's append + datasync within 1.15× of the raw syscall loop.
 *
 * Run all variants, each in its own process, with a summary table:
 *   npm run bench                       (node dist/bench/run.js)
 * One variant, as mitata prints it or as JSON:
 *   node dist/bench/io.bench.js --variant adapter-append-datasync [--json]
 *
 * Variants:
 *   lock-pair                 handle.tryLock(0,1,"exclusive") + handle.unlock(0,1) through nativeIO
 *   lock-await                await handle.lock(0,1,"exclusive") + unlock: the uncontended async path
 *   raw-append-fdatasync      fs.writeSync(fd, 128 B) + fs.fdatasyncSync(fd): the syscall floor
 *   raw-async-append-fdatasync fs.write + fs.fdatasync through Node's callback API (libuv pool)
 *   adapter-append-datasync   await handle.append(128 B) + await handle.datasync() through nativeIO: the sync on
 *                             the addon's sync thread (what a batch of several commits uses)
 *   adapter-append-datasync-blocking  the same with datasync({ blocking: true }): the sync on the calling
 *                             thread (what a lone commit uses, GC-7 in src/engine/group_commit.ts)
 * Files live in a fresh directory under os.tmpdir() (set TMPDIR to measure another disk).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { measure } from "mitata";
import { nativeIO } from "../src/io/native_io.ts";
import { chosenVariant } from "./_harness.ts";

const record = new Uint8Array(128).fill(0x61);
record[127] = 0x0a;

type Variant = () => Promise<{ fn: () => unknown; done: () => Promise<void> }>;

const variants: Record<string, Variant> = {
  "lock-pair": async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-bench-"));
    const f = await nativeIO({ withoutAddon: "error" }).open(path.join(dir, "lock"), { create: true });
    return {
      fn: () => {
        if (!f.tryLock(0, 1, "exclusive")) throw new Error("lock not granted");
        f.unlock(0, 1);
      },
      done: async () => { await f.close(); fs.rmSync(dir, { recursive: true }); },
    };
  },
  "lock-await": async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-bench-"));
    const f = await nativeIO({ withoutAddon: "error" }).open(path.join(dir, "lock"), { create: true });
    return {
      fn: async () => {
        await f.lock(0, 1, "exclusive");
        f.unlock(0, 1);
      },
      done: async () => { await f.close(); fs.rmSync(dir, { recursive: true }); },
    };
  },
  "raw-append-fdatasync": async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-bench-"));
    const fd = fs.openSync(path.join(dir, "log"), "a");
    return {
      fn: () => {
        fs.writeSync(fd, record);
        fs.fdatasyncSync(fd);
      },
      done: async () => { fs.closeSync(fd); fs.rmSync(dir, { recursive: true }); },
    };
  },
  "raw-async-append-fdatasync": async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-bench-"));
    const fd = fs.openSync(path.join(dir, "log"), "a");
    const write = (): Promise<void> => new Promise((res, rej) => fs.write(fd, record, (e) => (e ? rej(e) : res())));
    const sync = (): Promise<void> => new Promise((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(e) : res())));
    return {
      fn: async () => {
        await write();
        await sync();
      },
      done: async () => { fs.closeSync(fd); fs.rmSync(dir, { recursive: true }); },
    };
  },
  "adapter-append-datasync": () => adapterAppendDatasync(false),
  "adapter-append-datasync-blocking": () => adapterAppendDatasync(true),
};

async function adapterAppendDatasync(blocking: boolean): ReturnType<Variant> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-bench-"));
  const f = await nativeIO({ withoutAddon: "error" }).open(path.join(dir, "log"), { create: true });
  return {
    fn: async () => {
      await f.append(record);
      await f.datasync({ blocking });
    },
    done: async () => { await f.close(); fs.rmSync(dir, { recursive: true }); },
  };
}


async function main(): Promise<void> {
  const { name, variant, json } = chosenVariant("io", variants);
  const { fn, done } = await variant();
  const stats = await measure(fn, { min_cpu_time: 1e9 });
  await done();
  const row = { bench: "io", variant: name, runtime: process.release?.name ?? "unknown", avgNs: stats.avg, p50Ns: stats.p50, p99Ns: stats.p99, samples: stats.samples.length };
  if (json) console.log(JSON.stringify(row));
  else console.log(`${name}: avg ${(stats.avg / 1000).toFixed(2)} µs, p50 ${(stats.p50 / 1000).toFixed(2)} µs, p99 ${(stats.p99 / 1000).toFixed(2)} µs (${stats.samples.length} samples)`);
}

await main();
