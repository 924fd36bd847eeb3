/**
 * Creating directories durably: IO-3 makes a new name durable only once its
 * parent directory is synced, so every directory txtdb creates goes through
 * here.
 */
import type { FileIO } from "./file_io.ts";
import { dirname } from "./path.ts";

/** Creates `path` and any missing parents, syncing each parent that gained an entry. */
export async function ensureDirDurable(io: FileIO, path: string): Promise<void> {
  const st = await io.stat(path);
  if (st?.isDirectory === true) return;
  const parent = dirname(path);
  if (parent !== path) await ensureDirDurable(io, parent);
  await io.mkdir(path);
  await io.syncDir(parent);
}
