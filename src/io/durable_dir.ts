/**
 * Creating directories durably: IO-3 makes a new name durable only once its
 * parent directory is synced, so every directory txtdb creates goes through
 * here.
 */
import type { FileIO } from "./file_io.ts";
import { dirname } from "./path.ts";

/** Creates `path` and any missing parents, syncing each parent that gained an entry — or holds `path` already. */
export async function ensureDirDurable(io: FileIO, path: string): Promise<void> {
  const st = await io.stat(path);
  const parent = dirname(path);
  if (st?.isDirectory === true) {
    // It may be one an earlier attempt created and whose parent's sync failed
    // or never ran (a crash, an EIO): its name is not known durable, so sync it.
    if (parent !== path) await io.syncDir(parent);
    return;
  }
  if (parent !== path) await ensureDirDurable(io, parent);
  await io.mkdir(path);
  await io.syncDir(parent);
}
