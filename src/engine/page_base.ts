/**
 * Base copies: what a page file held when txtdb last wrote it, kept so that
 * a hand edit can be adopted as a difference (src/engine/edits.ts).
 *
 * Next to every page file a checkpoint writes, it writes a gzip copy of the
 * same bytes as a hidden file:
 *
 *     pages/accounts/000001.yaml             the page people read and edit
 *     pages/accounts/.000001.yaml.orig.gz    the page as txtdb wrote it
 *
 * Why a copy: once a person edits the page, its old content exists nowhere
 * else — the log records it was folded from are removed by the checkpoint
 * that wrote it. Without the old content an edit could only be taken as
 * "the whole page is now this", which would silently undo rows other
 * transactions changed since; with it, adoption commits exactly the rows
 * the person changed. gzip, at its fastest level (src/io/gzip.ts), keeps
 * the copy small (6-7 % of a page of documents) and out of `grep -r`.
 *
 * - BASE-1 A base copy is trusted only if its gunzipped bytes have the CRC
 *          the manifest records for the page: a missing, stale or torn copy
 *          is "no base" (adoption then refuses that page and says why),
 *          never a wrong base.
 * - BASE-2 A base copy is written (as .tmp) and made durable, and renamed
 *          with its page, in the same checkpoint steps; it is removed with
 *          its page. So an edit made after a power cut can still be adopted.
 */
import { ErrorCode, TxtDbError } from "../errors.ts";
import type { FileIO } from "../io/file_io.ts";
import { gunzip, gzip } from "../io/gzip.ts";
import { basename, dirname, joinPath } from "../io/path.ts";
import { crc32c, crcHex } from "./_crc32c.ts";
import { tempSuffix } from "./_defaults.ts";

const baseSuffix = ".orig.gz";

/** The base copy's path for a page file's path. */
export function basePath(pagePath: string): string {
  return joinPath(dirname(pagePath), "." + basename(pagePath) + baseSuffix);
}

/** The page file name a base copy file name belongs to, or undefined if `name` is no base copy. */
export function pageOfBase(name: string): string | undefined {
  return name.startsWith(".") && name.endsWith(baseSuffix) ? name.slice(1, -baseSuffix.length) : undefined;
}

/** A page's bytes as its base copy holds them (gzip, off the JS thread: src/io/gzip.ts). */
export function compressBase(bytes: Uint8Array): Promise<Uint8Array> {
  return gzip(bytes);
}

/** Step 1 of a checkpoint: the base copy (compressBase's output) of a page being written, as .tmp, durable (BASE-2). */
export async function writeBaseTemp(io: FileIO, pagePath: string, gz: Uint8Array): Promise<void> {
  const path = basePath(pagePath) + tempSuffix;
  await io.unlink(path).catch(() => {});
  const f = await io.open(path, { create: true, exclusive: true });
  try {
    await f.write(0, gz);
    await f.datasync();
  } finally {
    await f.close();
  }
}

/** Step 3 of a checkpoint: the base copy takes its place (if its .tmp is there). */
export async function installBase(io: FileIO, pagePath: string): Promise<void> {
  const path = basePath(pagePath);
  if ((await io.stat(path + tempSuffix)) !== undefined) await io.rename(path + tempSuffix, path);
}

/** The bytes the page held when txtdb wrote it, if a base copy with checksum `crc` is there (BASE-1). */
export async function readBase(io: FileIO, pagePath: string, crc: string): Promise<Uint8Array | undefined> {
  let gz: Uint8Array;
  try {
    gz = await io.readFile(basePath(pagePath));
  } catch (err) {
    if (err instanceof TxtDbError && err.code === ErrorCode.NOT_FOUND) return undefined;
    throw err;
  }
  let bytes: Uint8Array;
  try {
    bytes = await gunzip(gz);
  } catch {
    return undefined; // torn
  }
  return crcHex(crc32c(bytes)) === crc ? bytes : undefined;
}
