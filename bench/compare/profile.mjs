/**
 * Where txtdb spends its time in one workload: runs workload.mjs under
 * `node --cpu-prof` and prints the functions with the most self time, and the
 * txtdb source files with the most self time.
 *
 *   node bench/compare/profile.mjs --workload w1 [--system txtdb] [--scale small|full] [--top 25]
 *
 * w3 and w5 need a loaded database: the script runs w4 first into a temporary
 * directory and profiles the next step only. The .cpuprofile is kept (its path
 * is printed) for a flame graph in Chrome DevTools or speedscope.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "./_common.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = parseArgs(process.argv.slice(2));
const workload = args.workload ?? "w1";
const system = args.system ?? "txtdb";
const scale = args.scale ?? "full";
const top = Number(args.top ?? 25);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-compare-prof-"));
const dir = path.join(work, "db");
fs.mkdirSync(dir);
const run = (extra, flags = []) =>
  execFileSync(process.execPath, [...flags, path.join(here, "workload.mjs"), "--system", system, "--scale", scale, ...extra], { cwd: here, encoding: "utf8" });
const needsLoad = workload === "w3" || workload === "w5";
if (needsLoad) run(["--workload", "w4", "--dir", dir]);
const out = run(["--workload", workload, "--dir", dir], ["--cpu-prof", "--cpu-prof-dir", work]);
console.log(out.trim());
const file = fs.readdirSync(work).find((f) => f.endsWith(".cpuprofile"));
const profile = JSON.parse(fs.readFileSync(path.join(work, file), "utf8"));

// Self time per node: samples × sampling interval (timeDeltas are per sample).
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const byFn = new Map();
const byFile = new Map();
for (const [id, us] of selfUs) {
  const cf = byId.get(id).callFrame;
  const url = cf.url.replace(/^file:\/\//, "").replace(path.resolve(here, "../..") + "/", "");
  const name = `${cf.functionName || "(anonymous)"}  ${url ? `${url}:${cf.lineNumber + 1}` : ""}`;
  byFn.set(name, (byFn.get(name) ?? 0) + us);
  const fileKey = url.startsWith("dist/src/") ? url : url === "" ? cf.functionName : url.includes("node_modules") ? "(dependencies)" : url.startsWith("node:") ? "(node internals)" : url;
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
}
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
console.log(`\nself time by function (${(total / 1000).toFixed(0)} ms sampled), top ${top}:`);
for (const [name, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${name}`);
console.log("\nself time by file:");
for (const [name, us] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(us)}  ${name}`);
console.log(`\nprofile: ${path.join(work, file)}`);
