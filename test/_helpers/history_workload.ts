/**
 * List-append workloads against the engine, recorded as histories for the
 * checker (history.ts): several logical clients, each running transactions
 * of random reads and appends on a few keys, concurrently, through one or two
 * handles on one memoryIO. An append is a read-modify-write of the list
 * stored at the key (recorded as the read it made, then the append).
 */
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import fc from "fast-check";
import { memoryIO, open, ConflictError, type Database } from "../../src/mod.ts";
import { checkHistory, type Level, type MicroOp, type Txn } from "./history.ts";

const keys = ["k0", "k1", "k2", "k3", "k4"];
const ns = "lists";

export interface WorkloadPlan {
  handles: 1 | 2;
  /** Per client, per transaction: its operations ("r" or "a" on a key index), and turns to yield before each. */
  clients: Array<Array<Array<{ f: "r" | "a"; key: number; pause: number }>>>;
}

export const workloadArb: fc.Arbitrary<WorkloadPlan> = fc.record({
  handles: fc.constantFrom(1 as const, 2 as const),
  clients: fc.array(
    fc.array(fc.array(fc.record({ f: fc.constantFrom("r" as const, "a" as const, "a" as const), key: fc.nat(keys.length - 1), pause: fc.nat(2) }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
    { minLength: 2, maxLength: 5 },
  ),
});

const pause = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

/** Runs the plan and returns the history (plus a final read of every key, as its own transaction). */
export async function runWorkload(plan: WorkloadPlan, level: Level): Promise<Txn[]> {
  const mem = memoryIO();
  const dbs: Database[] = [];
  for (let h = 0; h < plan.handles; h++) dbs.push(await open("/db", { io: mem, isolation: level, random: () => 0 }));
  const history: Txn[] = [];
  let nextId = 1;
  let nextValue = 1;
  const client = async (c: number, txns: WorkloadPlan["clients"][number]): Promise<void> => {
    const db = dbs[c % dbs.length]!;
    for (const ops of txns) {
      const txn: Txn = { id: nextId++, client: c, status: "info", ops: [] };
      history.push(txn);
      const tx = await db.begin();
      for (const op of ops) {
        await pause(op.pause);
        const key = keys[op.key]!;
        const list = ((await tx.get(ns, key)) as number[] | undefined) ?? [];
        txn.ops.push({ f: "r", key, value: [...list] });
        if (op.f === "a") {
          const value = nextValue++;
          await tx.put(ns, key, [...list, value]);
          txn.ops.push({ f: "append", key, value });
        }
      }
      try {
        await tx.commit();
        txn.status = "ok";
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        txn.status = "fail";
      }
    }
  };
  await Promise.all(plan.clients.map((txns, c) => client(c, txns)));
  // A final reader: every key's whole version order.
  const final: Txn = { id: nextId++, client: -1, status: "ok", ops: [] };
  const tx = await dbs[0]!.begin({ readOnly: true });
  for (const key of keys) final.ops.push({ f: "r", key, value: ((await tx.get(ns, key)) as number[] | undefined) ?? [] });
  await tx.commit();
  history.push(final);
  for (const db of dbs) await db.close();
  return history;
}

export function formatHistory(history: readonly Txn[]): string {
  const op = (o: MicroOp): string => (o.f === "append" ? `a(${o.key},${o.value})` : `r(${o.key})=[${o.value.join(",")}]`);
  return history.map((t) => `T${t.id} c${t.client} ${t.status}: ${t.ops.map(op).join(" ")}`).join("\n");
}

/** The property: the engine's histories show no anomaly the level forbids. */
export function historyProperty(level: Level): fc.IAsyncPropertyWithHooks<[WorkloadPlan]> {
  return fc.asyncProperty(workloadArb, async (plan) => {
    const history = await runWorkload(plan, level);
    const anomalies = checkHistory(history, level);
    assert.deepEqual(anomalies, [], `${level}: anomalies in the history\n${formatHistory(history)}`);
  });
}
