/**
 * A write transaction of the table layer's own (catalog changes, index build
 * chunks) that, unlike db.transaction(), reports the TSN it committed at —
 * index builds wait out the snapshots older than it (index_build.ts).
 */
import { ConflictError } from "../errors.ts";
import type { Database } from "../engine/database.ts";
import type { Transaction } from "../engine/transaction.ts";
import { schemaRetriesMax } from "./_defaults.ts";

/**
 * Runs `fn` in a transaction and commits it, retrying on ConflictError (at
 * most schemaRetriesMax times). Always snapshot isolation, whatever the
 * database's default: what these transactions rely on is first-committer-wins
 * on the keys they write (index_build.ts), and a serializable build chunk
 * would also lose to every write anywhere in the range it scanned.
 */
export async function writeTx<T>(db: Database, fn: (tx: Transaction) => Promise<T>): Promise<{ result: T; tsn: number }> {
  for (let attempt = 0; ; attempt++) {
    const tx = await db.begin({ isolation: "snapshot" });
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
