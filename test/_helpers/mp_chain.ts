/**
 * A child process for the SIGKILL test (test/multiprocess.test.ts), runnable
 * in Node (built), Deno and Bun:
 *
 *   mp_chain <dir> <journal> [checkpointLogBytes]
 *
 * Continues a serial chain of commits until it is killed: commit i puts
 * chain[i] = {i, pad} and meta["last"] = i, in one transaction. Before each
 * commit it appends "I <i>" (intent) to the journal, after it "A <i>" (ack),
 * with fs.writeSync, so what it wrote survives a SIGKILL. Small
 * checkpointLogBytes make automatic checkpoints (and log rotations) frequent,
 * so kills also land in those; every 16th commit it also calls checkpoint().
 */
import fs from "node:fs";
import process from "node:process";
import { open } from "../../src/mod.ts";

const [dir, journal, checkpointBytes] = process.argv.slice(2);
if (dir === undefined || journal === undefined) throw new Error("usage: mp_chain <dir> <journal> [checkpointLogBytes]");

const fd = fs.openSync(journal, "a");
const note = (s: string): void => void fs.writeSync(fd, s + "\n");
note(`O ${process.pid}`);
const db = await open(dir, checkpointBytes === undefined ? {} : { checkpointLogBytes: Number(checkpointBytes) });
const start = ((await db.get("meta", "last")) as number | undefined) ?? 0;
note(`S ${start}`);
process.stdout.write(JSON.stringify({ ready: true, start }) + "\n");
for (let i = start + 1; ; i++) {
  note(`I ${i}`);
  const pad = "x".repeat(Math.floor(Math.random() * 1000));
  await db.transaction(async (tx) => {
    const last = ((await tx.get("meta", "last")) as number | undefined) ?? 0;
    if (last !== i - 1) throw new Error(`chain broken: last is ${last} before commit ${i}`);
    await tx.put("chain", i, { i, pad });
    await tx.put("meta", "last", i);
  }, { retries: 0 });
  note(`A ${i}`);
  if (i % 16 === 0) await db.checkpoint();
}
