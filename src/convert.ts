/**
 * convert(): copies one consistent snapshot of a database into a new
 * database of another page format (issue 7; the CLI comes later).
 *
 * - CONV-1 One snapshot: every row is read in one read-only transaction of
 *          the source, so the copy is the database as of one TSN even while
 *          other handles or processes keep committing to it.
 * - CONV-2 The destination must not be a database yet (TXTDB_EXISTS); it is
 *          written in transactions of at most `batchRows` rows and
 *          checkpointed at the end, so its page files are in the new format
 *          when convert() resolves. A failed conversion leaves a partial
 *          destination: delete it and start again (the source is untouched).
 * - CONV-3 Every namespace is copied as it is — table rows and index
 *          namespaces alike — so tables and their indexes arrive intact.
 */
import { ErrorCode, TxtDbError } from "./errors.ts";
import type { PageFormatName } from "./codec/page_format.ts";
import type { FileIO } from "./io/file_io.ts";
import { joinPath } from "./io/path.ts";
import { nativeIO } from "./io/native_io.ts";
import { manifestFileName } from "./engine/_defaults.ts";
import { open } from "./open.ts";

export interface ConvertOptions {
  /** The page format of the new database. */
  format: PageFormatName;
  /** The file layer of both databases. Default nativeIO(). */
  io?: FileIO;
  /** Rows per transaction in the destination. Default 1000. */
  batchRows?: number;
  /** Called after every batch. */
  onProgress?: (progress: ConvertProgress) => void;
}

export interface ConvertProgress {
  /** The namespace being copied. */
  namespace: string;
  /** Namespaces finished, and how many there are. */
  namespacesDone: number;
  namespaces: number;
  /** Rows copied so far, over all namespaces. */
  rows: number;
}

export interface ConvertResult {
  /** The source TSN the copy shows (CONV-1). */
  snapshotTsn: number;
  namespaces: number;
  rows: number;
}

/**
 * Copies the database in `fromDir` into a new database in `toDir` with page format `options.format`.
 *
 * @example
 * ```ts
 * import { convert, memoryIO, open } from "txtdb";
 * const io = memoryIO();
 * const db = await open("/json", { io });
 * await db.put("accounts", "alice", { balance: 10 });
 * await db.close();
 * await convert("/json", "/yaml", { format: "yaml", io, onProgress: (p) => console.log(p.rows) });
 * const yaml = await open("/yaml", { io, format: "yaml" });
 * console.log(await yaml.get("accounts", "alice")); // { balance: 10 }
 * await yaml.close();
 * ```
 */
export async function convert(fromDir: string, toDir: string, options: ConvertOptions): Promise<ConvertResult> {
  const io = options.io ?? nativeIO();
  const batchRows = options.batchRows ?? 1000;
  if (!(Number.isSafeInteger(batchRows) && batchRows > 0)) throw new TxtDbError(ErrorCode.INVALID_ARGUMENT, `batchRows must be a whole number > 0, got ${String(batchRows)}`);
  if ((await io.stat(joinPath(toDir, manifestFileName))) !== undefined) {
    throw new TxtDbError(ErrorCode.EXISTS, `'${toDir}' already holds a database; convert() writes into a new directory only`, { file: joinPath(toDir, manifestFileName) });
  }
  if ((await io.stat(joinPath(fromDir, manifestFileName))) === undefined) {
    throw new TxtDbError(ErrorCode.NOT_FOUND, `'${fromDir}' holds no txtdb database`, { file: joinPath(fromDir, manifestFileName) });
  }
  const source = await open(fromDir, { io });
  try {
    const dest = await open(toDir, { io, format: options.format });
    try {
      const tx = await source.begin({ readOnly: true });
      try {
        const names = await tx.namespaces();
        let rows = 0;
        for (const [done, ns] of names.entries()) {
          let batch: Array<[unknown, unknown]> = [];
          const flush = async (): Promise<void> => {
            const rowsOf = batch;
            batch = [];
            await dest.transaction(async (w) => {
              for (const [k, v] of rowsOf) await w.put(ns, k as never, v);
            }, { retries: 0 });
            rows += rowsOf.length;
            options.onProgress?.({ namespace: ns, namespacesDone: done, namespaces: names.length, rows });
          };
          for await (const row of tx.scan(ns)) {
            batch.push(row);
            if (batch.length >= batchRows) await flush();
          }
          if (batch.length > 0) await flush();
        }
        await dest.checkpoint();
        options.onProgress?.({ namespace: "", namespacesDone: names.length, namespaces: names.length, rows });
        return { snapshotTsn: tx.snapshotTsn, namespaces: names.length, rows };
      } finally {
        await tx.rollback();
      }
    } finally {
      await dest.close();
    }
  } finally {
    await source.close();
  }
}
