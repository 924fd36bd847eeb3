/**
 * Table-layer benchmarks (issue 6 targets), each variant in its own process:
 *
 *   node dist/bench/table.bench.js --variant <name> [--json]
 *   npm run bench            (all of bench/, with the target ratios)
 *
 * Variants:
 *   bulk-insert        100,000 rows into a table with two secondary indexes (one unique,
 *                      one composite non-unique), in one transaction, durable: seconds (target ≤ 2 s)
 *   unique-get         point lookups through the unique index, each its own read (users.index().get):
 *                      lookups/s (target ≥ 100,000/s); also inside one read-only transaction
 *   pk-get             users.get(pk) against the engine's db.get on the same rows, alternating
 *                      rounds: ratio of their times (target ≤ 1.3×)
 *   index-build        building one non-unique index over 100,000 existing rows: seconds (no target)
 *
 * Files go to a fresh directory under os.tmpdir() (set TMPDIR for another disk).
 * Throughput variants run for a fixed time and report operations per second.
 */
import fs from "node:fs";
import { open, type Database, type Table } from "../src/mod.ts";
import { forSeconds, runVariant, tempDir } from "./_harness.ts";

const rowCount = 100_000;

type User = { id: number; email: string; name: string; age: number; tenant: string; bio: string };

function row(i: number): User {
  return { id: i, email: `user${i}@example.com`, name: `user ${i}`, age: i % 90, tenant: `t${i % 50}`, bio: "x".repeat(80) };
}

const usersOptions = { key: "id", indexes: { byEmail: { fields: "email", unique: true }, byTenantAge: { fields: ["tenant", "age"] } } } as const;

async function loaded(dir: string): Promise<{ db: Database; users: Table<User> }> {
  const db = await open(dir);
  const users = await db.table<User>("users", usersOptions);
  await db.transaction(async (tx) => {
    const t = tx.table(users);
    for (let i = 0; i < rowCount; i++) await t.insert(row(i));
  });
  await db.checkpoint(); // measure reads, not reads racing the automatic checkpoint of the load
  return { db, users };
}

type Result = Record<string, number>;

const variants: Record<string, () => Promise<Result>> = {
  "bulk-insert": async () => {
    const dir = tempDir();
    const db = await open(dir);
    const users = await db.table<User>("users", usersOptions);
    const t0 = performance.now();
    await db.transaction(async (tx) => {
      const t = tx.table(users);
      for (let i = 0; i < rowCount; i++) await t.insert(row(i));
    });
    const seconds = (performance.now() - t0) / 1000;
    await db.close();
    fs.rmSync(dir, { recursive: true });
    return { seconds, rowsPerSec: rowCount / seconds };
  },
  "unique-get": async () => {
    const dir = tempDir();
    const { db, users } = await loaded(dir);
    const byEmail = users.index("byEmail");
    let i = 0;
    const standalone = await forSeconds(3, async () => {
      for (let k = 0; k < 1000; k++) {
        const v = await byEmail.get(`user${(i = (i + 7919) % rowCount)}@example.com`);
        if (v === undefined) throw new Error("missing row");
      }
      return 1000;
    });
    const tx = await db.begin({ readOnly: true });
    const inTx = tx.table(users).index("byEmail");
    const inTransaction = await forSeconds(3, async () => {
      for (let k = 0; k < 1000; k++) {
        const v = await inTx.get(`user${(i = (i + 7919) % rowCount)}@example.com`);
        if (v === undefined) throw new Error("missing row");
      }
      return 1000;
    });
    await tx.rollback();
    await db.close();
    fs.rmSync(dir, { recursive: true });
    return { opsPerSec: standalone.ops / standalone.seconds, inTransactionOpsPerSec: inTransaction.ops / inTransaction.seconds };
  },
  "pk-get": async () => {
    const dir = tempDir();
    const { db, users } = await loaded(dir);
    let tableMs = 0;
    let engineMs = 0;
    let i = 0;
    const round = async (get: (k: number) => Promise<unknown>): Promise<number> => {
      const t0 = performance.now();
      for (let k = 0; k < 20_000; k++) if ((await get((i = (i + 7919) % rowCount))) === undefined) throw new Error("missing row");
      return performance.now() - t0;
    };
    for (let r = 0; r < 12; r++) {
      // alternate, and drop the first round of each as warm-up
      const e = await round((k) => db.get("users", k));
      const t = await round((k) => users.get(k));
      if (r > 0) {
        engineMs += e;
        tableMs += t;
      }
    }
    await db.close();
    fs.rmSync(dir, { recursive: true });
    const n = 11 * 20_000;
    return { tableOpsPerSec: n / (tableMs / 1000), engineOpsPerSec: n / (engineMs / 1000), ratio: tableMs / engineMs };
  },
  "index-build": async () => {
    const dir = tempDir();
    const { db } = await loaded(dir);
    const t0 = performance.now();
    await db.table<User>("users", { ...usersOptions, indexes: { ...usersOptions.indexes, byName: { fields: "name" } } });
    const seconds = (performance.now() - t0) / 1000;
    await db.close();
    fs.rmSync(dir, { recursive: true });
    return { seconds };
  },
};


await runVariant("table", variants);
