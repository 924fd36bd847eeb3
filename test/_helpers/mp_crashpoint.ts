/**
 * A child process for the crash-point tests (test/multiprocess.test.ts),
 * runnable in Node (built), Deno and Bun:
 *
 *   mp_crashpoint <dir> <point>
 *
 * Opens the database through a FileIO that wraps nativeIO(), commits a little,
 * then arms the crash point and runs the operation that reaches it. At the
 * point the FileIO prints {"at":"<point>"} and never returns, so the parent can
 * SIGKILL the process exactly there. Points:
 *
 *   rotate             a log rotation has created (and synced) the new segment,
 *                      before the old one got its `next` marker (log.ts SEG-1)
 *   checkpoint-rename  a checkpoint has renamed its first page .tmp over the
 *                      page, before the manifest is installed (checkpoint.ts step 3)
 *   torn-append        half of a commit's log line is written (the writer lock is held)
 *
 * What it committed: t/a = 1 (and, for checkpoint-rename, t/a = 2, checkpointed
 * when killed); the commit it was killed in puts t/b = 2.
 */
import process from "node:process";
import { nativeIO, open, type FileHandle, type FileIO } from "../../src/mod.ts";

const [dir, point] = process.argv.slice(2);
if (dir === undefined || point === undefined) throw new Error("usage: mp_crashpoint <dir> <point>");

let armed = false;
const hang = (): Promise<never> => {
  process.stdout.write(JSON.stringify({ at: point }) + "\n");
  return new Promise<never>(() => {});
};
const isSegment = (path: string): boolean => /[/\\]log[/\\]\d{16}\.jsonl$/.test(path);

function wrapHandle(h: FileHandle, path: string): FileHandle {
  return new Proxy(h, {
    get(target, key) {
      if (key === "write" && point === "torn-append" && isSegment(path)) {
        return async (position: number, data: Uint8Array): Promise<void> => {
          if (!armed) return target.write(position, data);
          await target.write(position, data.subarray(0, Math.floor(data.length / 2)));
          return hang();
        };
      }
      const v = Reflect.get(target, key) as unknown;
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

const real = nativeIO({ withoutAddon: "error" });
const io: FileIO = new Proxy(real, {
  get(target, key) {
    if (key === "open") {
      return async (path: string, options?: Parameters<FileIO["open"]>[1]) => wrapHandle(await target.open(path, options), path);
    }
    if (key === "syncDir" && point === "rotate") {
      return async (path: string): Promise<void> => {
        await target.syncDir(path);
        if (armed && /[/\\]log$/.test(path)) return hang();
      };
    }
    if (key === "rename" && point === "checkpoint-rename") {
      return async (from: string, to: string): Promise<void> => {
        await target.rename(from, to);
        if (armed && from.endsWith(".tmp")) return hang();
      };
    }
    const v = Reflect.get(target, key) as unknown;
    return typeof v === "function" ? v.bind(target) : v;
  },
});

const db = await open(dir, { io });
await db.put("t", "a", 1);
switch (point) {
  case "rotate":
    await db.checkpoint(); // the next append starts a new segment
    armed = true;
    await db.put("t", "b", 2);
    break;
  case "checkpoint-rename":
    await db.checkpoint();
    await db.put("t", "a", 2);
    armed = true;
    await db.checkpoint();
    break;
  case "torn-append":
    armed = true;
    await db.put("t", "b", 2);
    break;
  default:
    throw new Error(`unknown crash point ${point}`);
}
process.stdout.write(JSON.stringify({ missed: point }) + "\n");
