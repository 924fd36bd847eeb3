/**
 * A child process for the multi-process tests (test/multiprocess.test.ts),
 * runnable in Node (built), Deno and Bun:
 *
 *   mp_worker <dir> [options JSON for open()]
 *
 * Opens the database, prints {"ready":true,"pid":…}, then reads one JSON
 * command per line on stdin and answers each with one JSON line on stdout:
 * {"id":…,"ok":true,"result":…} or {"id":…,"ok":false,"error":{"code","message"}}.
 * Commands run concurrently (each answer carries its id). Commands:
 *
 *   begin {tx, isolation?, readOnly?}   get/put/delete {tx?, ns, key, value?} (no tx: db.get/put/delete)
 *   scan {tx, ns}                       commit {tx}   rollback {tx}
 *   counter {ns, key, n, retries}       n increments through db.transaction; the values committed
 *   bank {ns, accounts, transfers, total, readers}  transfers while reader loops check the total
 *   apply {ns, ops: [["put",k,v]|["del",k]]}        one transaction
 *   commitLoop {ns, key}                commits key := 1, 2, … until killed; prints {"loop":i} per commit
 *   holdWriterLock                      takes the writer lock (lock file byte 0) on a FileIO handle of its own
 *   checkpoint  check  stats  close  exit
 */
import process from "node:process";
import readline from "node:readline";
import path from "node:path";
import { open, ConflictError, TxtDbError, type Database, type Transaction } from "../../src/mod.ts";
import { nativeIO } from "../../src/io/native_io.ts";
import type { Key } from "../../src/codec/key.ts";

const [dir, optionsJson] = process.argv.slice(2);
if (dir === undefined) throw new Error("usage: mp_worker <dir> [options JSON]");

const print = (o: unknown): void => void process.stdout.write(JSON.stringify(o) + "\n");
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Command = { id: number; op: string; [k: string]: unknown };

let db: Database;
try {
  db = await open(dir, optionsJson === undefined ? {} : JSON.parse(optionsJson));
} catch (err) {
  print({ ready: false, error: describe(err) });
  process.exit(1);
}
const txs = new Map<string, Transaction>();

function describe(err: unknown): { code: string; message: string } {
  return { code: err instanceof TxtDbError ? err.code : "JS_ERROR", message: String((err as Error)?.stack ?? err) };
}

function tx(c: Command): Transaction {
  const t = txs.get(c.tx as string);
  if (t === undefined) throw new Error(`no transaction '${String(c.tx)}'`);
  return t;
}

async function counter(ns: string, key: Key, n: number, retries: number): Promise<{ seen: number[]; attempts: number }> {
  const seen: number[] = [];
  let attempts = 0;
  for (let i = 0; i < n; i++) {
    const value = await db.transaction(async (t) => {
      attempts++;
      const v = ((await t.get(ns, key)) as number | undefined) ?? 0;
      await t.put(ns, key, v + 1);
      return v + 1;
    }, { retries });
    seen.push(value);
  }
  return { seen, attempts };
}

/** Transfers between random accounts while `readers` loops read every account in one snapshot and check the total. */
async function bank(ns: string, accounts: number, transfers: number, total: number, readers: number): Promise<unknown> {
  const violations: string[] = [];
  let reads = 0;
  let done = false;
  const readLoop = async (r: number): Promise<void> => {
    while (!done) {
      const t = await db.begin({ readOnly: true });
      try {
        let sum = 0;
        if (r % 2 === 0) {
          for (let a = 0; a < accounts; a++) sum += (await t.get(ns, a)) as number;
        } else {
          let rows = 0;
          for await (const [, v] of t.scan(ns)) {
            sum += v as number;
            rows++;
          }
          if (rows !== accounts) violations.push(`scan at snapshot ${t.snapshotTsn} saw ${rows} accounts`);
        }
        if (sum !== total) violations.push(`snapshot ${t.snapshotTsn}: total ${sum}`);
        reads++;
      } finally {
        await t.rollback();
      }
      await sleep(0);
    }
  };
  // A reader that fails reports it as a violation (and stops) instead of leaving an unhandled rejection.
  const loops = Array.from({ length: readers }, (_, r) => readLoop(r).catch((err) => void violations.push(`reader ${r} failed: ${describe(err).code}: ${describe(err).message}`)));
  let moved = 0;
  try {
    for (let i = 0; i < transfers; i++) {
      const from = Math.floor(Math.random() * accounts);
      const to = (from + 1 + Math.floor(Math.random() * (accounts - 1))) % accounts;
      const amount = 1 + Math.floor(Math.random() * 20);
      await db.transaction(async (t) => {
        const a = (await t.get(ns, from)) as number;
        const b = (await t.get(ns, to)) as number;
        await t.put(ns, from, a - amount);
        await t.put(ns, to, b + amount);
      }, { retries: 1000 });
      moved += amount;
    }
  } finally {
    done = true;
    await Promise.all(loops);
  }
  return { transfers, moved, reads, violations };
}

async function run(c: Command): Promise<unknown> {
  switch (c.op) {
    case "begin": {
      const t = await db.begin({ ...(c.isolation !== undefined ? { isolation: c.isolation as "snapshot" } : {}), readOnly: c.readOnly === true });
      txs.set(c.tx as string, t);
      return { snapshotTsn: t.snapshotTsn };
    }
    case "get":
      return c.tx === undefined ? db.get(c.ns as string, c.key as Key) : tx(c).get(c.ns as string, c.key as Key);
    case "put":
      return c.tx === undefined ? db.put(c.ns as string, c.key as Key, c.value) : tx(c).put(c.ns as string, c.key as Key, c.value);
    case "delete":
      return c.tx === undefined ? db.delete(c.ns as string, c.key as Key) : tx(c).delete(c.ns as string, c.key as Key);
    case "scan": {
      const rows: Array<[Key, unknown]> = [];
      for await (const row of tx(c).scan(c.ns as string)) rows.push(row);
      return rows;
    }
    case "commit":
      return tx(c).commit();
    case "rollback":
      return tx(c).rollback();
    case "counter":
      return counter(c.ns as string, c.key as Key, c.n as number, (c.retries as number) ?? 1000);
    case "bank":
      return bank(c.ns as string, c.accounts as number, c.transfers as number, c.total as number, (c.readers as number) ?? 2);
    case "apply":
      return db.transaction(async (t) => {
        for (const [kind, key, value] of c.ops as Array<[string, Key, unknown]>) {
          if (kind === "put") await t.put(c.ns as string, key, value);
          else await t.delete(c.ns as string, key);
        }
      }, { retries: 0 });
    case "commitLoop": {
      void (async () => {
        for (let i = 1; ; i++) {
          await db.transaction(async (t) => {
            await t.put(c.ns as string, c.key as Key, i);
            await t.put(c.ns as string, [c.key as Key, "pad"], "x".repeat(Math.floor(Math.random() * 100_000))); // long appends
          }, { retries: 0 });
          print({ loop: i });
        }
      })();
      return "started";
    }
    case "holdWriterLock": {
      const f = await nativeIO({ withoutAddon: "error" }).open(path.join(dir!, "lock"));
      await f.lock(0, 1, "exclusive");
      return "holding";
    }
    case "checkpoint":
      return db.checkpoint();
    case "check":
      return db.check();
    case "stats": {
      const s = db.stats();
      return { commits: s.commits, conflicts: s.conflicts, lastTsn: s.lastTsn, checkpointTsn: s.checkpointTsn, checkpoints: s.checkpoints, writeFailure: s.writeFailure, checkpointFailure: s.checkpointFailure };
    }
    case "close":
      return db.close();
    case "exit":
      setTimeout(() => process.exit(0), 10);
      return "bye";
    default:
      throw new Error(`unknown command ${c.op}`);
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line.trim() === "") return;
  const c = JSON.parse(line) as Command;
  run(c).then(
    (result) => print({ id: c.id, ok: true, result: result ?? null }),
    (err) => print({ id: c.id, ok: false, error: describe(err), conflict: err instanceof ConflictError }),
  );
});
lines.on("close", () => void db.close().finally(() => process.exit(0)));
print({ ready: true, pid: process.pid, runtime: "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node" });
