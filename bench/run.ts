/**
 * Runs every benchmark variant in its own process (so one variant's JIT,
 * GC and page-cache state cannot colour another's) and prints a table with
 * the issue targets as ratios. `--json` prints one JSON line per variant.
 *
 *   npm run bench            (builds, then node dist/bench/run.js)
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const variants = ["lock-pair", "lock-await", "raw-append-fdatasync", "raw-async-append-fdatasync", "adapter-append-datasync"];
const rows = new Map<string, { avgNs: number; p50Ns: number; p99Ns: number }>();
for (const variant of variants) {
  const out = execFileSync(process.execPath, [path.join(here, "io.bench.js"), "--variant", variant, "--json"], { encoding: "utf8" });
  const row = JSON.parse(out.trim().split("\n").pop()!);
  rows.set(variant, row);
  if (process.argv.includes("--json")) console.log(JSON.stringify(row));
}
if (!process.argv.includes("--json")) {
  const us = (ns: number): string => (ns / 1000).toFixed(2).padStart(9);
  console.log("variant                         avg µs    p50 µs    p99 µs");
  for (const [v, r] of rows) console.log(`${v.padEnd(28)}${us(r.avgNs)} ${us(r.p50Ns)} ${us(r.p99Ns)}`);
  const ratio = rows.get("adapter-append-datasync")!.avgNs / rows.get("raw-append-fdatasync")!.avgNs;
  console.log(`\nlock pair: ${us(rows.get("lock-pair")!.avgNs).trim()} µs (target ≤ 3 µs)`);
  console.log(`adapter append+datasync / raw syscall loop: ${ratio.toFixed(3)}× (target ≤ 1.15×)`);
}
