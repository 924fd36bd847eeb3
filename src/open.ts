/**
 * open(): the public way in. Validates and normalizes the options, injects
 * the clock and the random source (the engine never reads them itself), and
 * opens the database (src/engine/database.ts).
 */
import { setImmediate } from "node:timers";
import { ErrorCode, TxtDbError } from "./errors.ts";
import type { PageFormatName } from "./codec/page_format.ts";
import { isPageFormatName } from "./codec/page_formats.ts";
import type { FileIO } from "./io/file_io.ts";
import { nativeIO } from "./io/native_io.ts";
import process from "node:process";
import { cacheBytesDefault, checkpointLogBytesDefault, snapshotLagWarnTsnDefault } from "./engine/_defaults.ts";
import { Database, type TxtDbWarning } from "./engine/database.ts";
import type { Isolation } from "./engine/transaction.ts";

export interface DatabaseOptions {
  /** Page file format, fixed when the database is created. Default "json". */
  format?: PageFormatName;
  /** Default isolation of transactions. Default "snapshot". */
  isolation?: Isolation;
  /**
   * "sync" (default): a commit resolves after an fdatasync covering it — it
   * survives power loss. "relaxed": after the write to the OS — it survives a
   * crash of the process, not of the machine.
   */
  durability?: "sync" | "relaxed";
  /**
   * true (default): the datasync of a lone commit — the only one in its
   * batch, with none queued behind it — runs on the JS thread while this
   * handle's datasyncs take at most 1 ms, blocking the event loop that long
   * (as SQLite's does at every commit); one writer at a time commits about
   * 1.5× faster. Batches of several commits, and every datasync after a
   * slow one, stay off the JS thread. false: no datasync ever runs on the JS
   * thread, so the event loop never waits for the disk.
   */
  blockingSync?: boolean;
  /** Bound of the page cache, in bytes. Default 64 MiB. */
  cacheBytes?: number;
  /** The file layer. Default: nativeIO(). memoryIO() gives an in-memory database. */
  io?: FileIO;
  /** An automatic checkpoint starts after this many log bytes. Default 16 MiB. */
  checkpointLogBytes?: number;
  /**
   * Warn (once per handle) when a transaction still open — in this or any
   * process — holds checkpoints back by more than this many commits.
   * Default 100,000.
   */
  snapshotLagWarnTsn?: number;
  /** Receives warnings. Default: process.emitWarning(message, { code }). */
  onWarning?: (warning: TxtDbWarning) => void;
  /**
   * Monotonic clock in ms (tests inject their own). Default performance.now.
   * It times latency stats, and the datasyncs and event-loop turns that
   * decide whether a lone commit's datasync blocks (blockingSync): a clock
   * that never moves makes every one of them block, with no turn between.
   */
  now?: () => number;
  /** Uniform random in [0, 1), for retry jitter (tests inject their own). Default Math.random. */
  random?: () => number;
}

/**
 * Opens the database in `dir`, creating it if needed, and recovers it after a
 * crash (see src/engine/database.ts).
 *
 * @example
 * ```ts
 * import { open, memoryIO } from "txtdb";
 * const db = await open("/demo", { io: memoryIO() });
 * await db.put("accounts", "alice", { balance: 10 });
 * await db.transaction(async (tx) => {
 *   const alice = (await tx.get("accounts", "alice")) as { balance: number };
 *   await tx.put("accounts", "alice", { balance: alice.balance + 5 });
 * });
 * console.log(await db.get("accounts", "alice")); // { balance: 15 }
 * await db.close();
 * ```
 */
export async function open(dir: string, options: DatabaseOptions = {}): Promise<Database> {
  if (typeof dir !== "string" || dir === "") throw invalid(`the database directory must be a non-empty string, got ${JSON.stringify(dir)}`);
  const formatName = options.format ?? "json";
  if (!isPageFormatName(formatName)) {
    throw invalid(`format must be "json", "yaml" or "xml", got ${JSON.stringify(formatName)}`);
  }
  const isolation = options.isolation ?? "snapshot";
  if (isolation !== "snapshot" && isolation !== "serializable") throw invalid(`isolation must be "snapshot" or "serializable", got ${JSON.stringify(isolation)}`);
  const durability = options.durability ?? "sync";
  if (durability !== "sync" && durability !== "relaxed") throw invalid(`durability must be "sync" or "relaxed", got ${JSON.stringify(durability)}`);
  const blockingSync = options.blockingSync ?? true;
  if (typeof blockingSync !== "boolean") throw invalid(`blockingSync must be true or false, got ${JSON.stringify(blockingSync)}`);
  const cacheBytes = options.cacheBytes ?? cacheBytesDefault;
  if (!(Number.isSafeInteger(cacheBytes) && cacheBytes >= 0)) throw invalid(`cacheBytes must be a whole number of bytes ≥ 0, got ${String(cacheBytes)}`);
  const snapshotLagWarnTsn = options.snapshotLagWarnTsn ?? snapshotLagWarnTsnDefault;
  if (!(snapshotLagWarnTsn >= 0)) throw invalid(`snapshotLagWarnTsn must be ≥ 0, got ${String(snapshotLagWarnTsn)}`);
  const checkpointLogBytes = options.checkpointLogBytes ?? checkpointLogBytesDefault;
  if (!(checkpointLogBytes > 0)) throw invalid(`checkpointLogBytes must be > 0, got ${String(checkpointLogBytes)}`);
  return Database.open(dir, {
    io: options.io ?? nativeIO(),
    format: formatName,
    formatExplicit: options.format !== undefined,
    isolation,
    durability,
    blockingSync,
    cacheBytes,
    checkpointLogBytes,
    snapshotLagWarnTsn,
    onWarning: options.onWarning ?? ((w) => process.emitWarning(w.message, { code: w.code })),
    now: options.now ?? (() => performance.now()),
    random: options.random ?? Math.random,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    yieldTurn: () => new Promise((resolve) => setImmediate(resolve)),
  });
}

function invalid(message: string): TxtDbError {
  return new TxtDbError(ErrorCode.INVALID_ARGUMENT, message);
}
