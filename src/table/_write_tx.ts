/**
 * A write transaction of the table layer's own (catalog changes, index build
 * chunks) that, unlike db.transaction(), reports the TSN it committed at —
 * index builds wait out the snapshots older than it (index_build.ts).
 */
import { ConflictError } from "../errors.ts";
import type { Database } from "../engine/database.ts";
import type { Transaction } from "../engine/transaction.ts";
import { schemaRetriesMax } from "./_defaults.ts";

/** Runs `fn` in a transaction and commits it, retrying on ConflictError (at most schemaRetriesMax times). */
export async function writeTx<T>(db: Database, fn: (tx: Transaction) => Promise<T>): Promise<{ result: T; tsn: number }> {
  for (let attempt = 0; ; attempt++) {
    const tx = await db.begin();
    try {
      const result = await fn(tx);
      const { tsn } = await tx.commit();
      return { result, tsn };
    } catch (err) {
      await tx.rollback();
      if (!(err instanceof ConflictError) || attempt >= schemaRetriesMax) throw err;
    }
    await sleep(Math.min(1 + attempt, 20)); // a growing, bounded back-off (no randomness needed: the retried work is small)
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
