/**
 * A child process for the cross-process lock tests, runnable in Node (built),
 * Deno and Bun:
 *
 *   lock_holder <file> <start> <length> <shared|exclusive> <hold|try|wait>
 *
 * hold: waits for the lock, prints "locked", then keeps it until killed.
 * try:  prints "granted" or "busy" (tryLock) and exits.
 * wait: waits for the lock, prints "locked", exits (releasing it).
 * claim: claims the directory <file> in single-process mode, prints "claimed", stays.
 */
import process from "node:process";
import { nativeIO } from "../../src/io/native_io.ts";
import type { LockMode } from "../../src/io/file_io.ts";

const [file, start, length, mode, action] = process.argv.slice(2);
if (file === undefined || action === undefined) throw new Error("usage: lock_holder <file> <start> <length> <mode> <action>");
const stayAlive = (): void => void setInterval(() => {}, 1 << 30);

if (action === "claim") {
  await nativeIO({ singleProcess: true }).claimDirectory!(file);
  console.log("claimed");
  stayAlive();
} else {
  const io = nativeIO({ withoutAddon: "error" });
  const f = await io.open(file, { create: true });
  const range = [Number(start), Number(length), mode as LockMode] as const;
  if (action === "try") {
    console.log(f.tryLock(...range) ? "granted" : "busy");
    await f.close();
  } else {
    await f.lock(...range);
    console.log("locked");
    if (action === "hold") stayAlive();
    else await f.close();
  }
}
