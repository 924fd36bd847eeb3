/**
 * `npm run demo` — what txtdb's foundation does today, shown on real files.
 *
 * 1. Crash simulation: memoryIO() keeps only what was made durable.
 * 2. Four OS processes append to one log file, each record under the
 *    exclusive byte-range lock and followed by a real fdatasync; then the
 *    log is checked line by line: nothing lost, nothing interleaved.
 *
 * The MVCC engine (transactions, group commit, recovery) builds on exactly
 * these two pieces: the FileIO interface and the native lock/sync addon.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { memoryIO, nativeIO } from "../src/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function crashDemo(): Promise<void> {
  console.log("1. Crash simulation with memoryIO()");
  const io = memoryIO();
  const log = await io.open("/log", { create: true });
  await io.syncDir("/");
  for (let i = 1; i <= 5; i++) {
    await log.append(enc.encode(`record ${i}\n`));
    if (i === 3) await log.datasync();
  }
  console.log(`   wrote records 1–5, datasync after record 3`);
  const after = io.crash();
  const survived = dec.decode(await after.readFile("/log")).trim().split("\n");
  console.log(`   after crash(): ${survived.join(", ")}  (4 and 5 were never made durable)`);
}

const workers = 4;
const recordsPerWorker = 100;

async function worker(file: string, id: string, count: number): Promise<void> {
  const f = await nativeIO({ withoutAddon: "error" }).open(file);
  for (let i = 0; i < count; i++) {
    await f.lock(0, 1, "exclusive"); // the writer lock: one appender at a time, across processes
    await f.append(enc.encode(`worker ${id} record ${i} pid ${process.pid}\n`));
    await f.datasync();
    f.unlock(0, 1);
  }
  await f.close();
}

async function processesDemo(): Promise<void> {
  console.log(`\n2. ${workers} processes × ${recordsPerWorker} durable appends to one file under a byte-range lock`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-demo-"));
  const file = path.join(dir, "shared.log");
  fs.writeFileSync(file, "");
  const script = fileURLToPath(import.meta.url);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: workers }, (_, id) => new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, script, "--worker", file, String(id), String(recordsPerWorker)], { stdio: "inherit" });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`worker ${id} exited with ${code}`))));
  })));
  const seconds = (performance.now() - t0) / 1000;
  const lines = fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "");
  const wellFormed = lines.filter((l) => /^worker \d record \d+ pid \d+$/.test(l));
  const perWorker = new Map<string, number>();
  for (const l of wellFormed) perWorker.set(l.split(" ")[1]!, (perWorker.get(l.split(" ")[1]!) ?? 0) + 1);
  console.log(`   ${lines.length} lines, ${wellFormed.length} well-formed, per worker: ${[...perWorker.values()].join(" / ")}`);
  console.log(`   ${(lines.length / seconds).toFixed(0)} durable appends/s across processes (${seconds.toFixed(2)} s)`);
  fs.rmSync(dir, { recursive: true });
  if (wellFormed.length !== workers * recordsPerWorker) {
    console.error("   FAILED: records were lost or interleaved");
    process.exit(1);
  }
  console.log("   every record present and intact");
}

const args = process.argv.slice(2);
if (args[0] === "--worker") {
  await worker(args[1]!, args[2]!, Number(args[3]));
} else {
  const io = nativeIO();
  console.log(`txtdb I/O layer on ${process.release?.name} ${process.version}: FileIO "${io.name}", locks seen by: ${io.lockScope === "os" ? "every process" : "this process only"}\n`);
  await crashDemo();
  await processesDemo();
}
