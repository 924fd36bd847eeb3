/**
 * Side-by-side comparison of txtdb with SQLite, LMDB, lowdb and NeDB (issue 8).
 *
 *   npm run bench:compare                       (root: builds txtdb, installs these deps once, runs)
 *   npm run bench:compare -- --scale small      (smoke run; or TXTDB_COMPARE_SCALE=small)
 *   npm run bench:compare -- --runtimes node    (default node,bun,deno; or TXTDB_COMPARE_RUNTIMES)
 *   npm run bench:compare -- --json             (JSON lines only)
 *   options: --systems a,b  --workloads w1,w2,...  --rounds N (W1/W2)  --no-probe  --no-memory
 *
 * Target ratios are taken within one runtime of one run; for W1 and W2 (run in
 * interleaved rounds) as the median of the per-round ratios.
 *
 * Every (runtime, workload, system) runs in its own process (workload.mjs), so
 * one system's heap, JIT and open files cannot colour another's. Files go to
 * fresh directories under os.tmpdir() (set TMPDIR to measure another disk).
 *
 * What "durability" means in the output is measured, not assumed:
 *   - the probe runs N commits under `strace -f` with a marker write after each
 *     resolved commit, and counts the fsync/fdatasync/msync(MS_SYNC) calls that
 *     completed before each marker: "acks after a sync" is the share of
 *     sequential commits whose promise resolved only after a sync that began
 *     after the previous ack; syncs/commit with 64 callers shows group commit;
 *   - W6 counts, after 4 processes wrote, how many writes that a process was
 *     told had committed are missing from the database.
 * Without strace the probe columns say "not measured".
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs, scaleOf } from "./_common.mjs";
import { durabilityLabel, parseTrace } from "./_durability.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const args = parseArgs(process.argv.slice(2));
const scaleName = args.scale ?? process.env.TXTDB_COMPARE_SCALE ?? "full";
const scale = { ...scaleOf(scaleName), ...(args.rounds === undefined ? {} : { rounds: Number(args.rounds) }) };
const runtimes = (args.runtimes ?? process.env.TXTDB_COMPARE_RUNTIMES ?? "node,bun,deno").split(",");
const jsonOnly = args.json === "true";
const allSystems = ["floor", "floor-overwrite", "txtdb", "sqlite-full", "sqlite-normal", "lmdb", "lowdb", "nedb"];
const systems = (args.systems ?? allSystems.join(",")).split(",");
const w5Runs = 5;
const workloadsWanted = new Set((args.workloads ?? "w1,w2,w3,w4,w5,w6,w7").split(","));
const log = (s) => { if (!jsonOnly) process.stderr.write(`${s}\n`); };

ensureDeps();
if (!fs.existsSync(path.join(repo, "dist/src/mod.js"))) {
  console.error("txtdb is not built: run `npx tsc -p .` at the repo root (npm run bench:compare does it)");
  process.exit(1);
}

/** Installs bench/compare's own dependencies on first use (never the repo's). */
function ensureDeps() {
  const pkg = JSON.parse(fs.readFileSync(path.join(here, "package.json"), "utf8"));
  const missing = Object.keys(pkg.dependencies).filter((d) => !fs.existsSync(path.join(here, "node_modules", d, "package.json")));
  const sqliteBuilt = fs.existsSync(path.join(here, "node_modules/better-sqlite3/build/Release/better_sqlite3.node"));
  if (missing.length === 0 && sqliteBuilt) return;
  log(`installing bench/compare dependencies (${missing.join(", ") || "better-sqlite3 build"}); better-sqlite3 compiles from source, about 1-2 minutes…`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  execFileSync(npm, ["install", "--no-audit", "--no-fund"], { cwd: here, stdio: ["ignore", "inherit", "inherit"] });
  if (!fs.existsSync(path.join(here, "node_modules/better-sqlite3/build/Release/better_sqlite3.node"))) {
    // npm versions that skip install scripts even when allowScripts lists the package
    execFileSync(npm, ["rebuild", "better-sqlite3"], { cwd: here, stdio: ["ignore", "inherit", "inherit"] });
  }
}

function findBin(name) {
  const local = path.join(repo, "node_modules/.bin", name);
  if (fs.existsSync(local)) return local;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) if (fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  return undefined;
}

function commandFor(rt) {
  if (rt === "node") return [process.execPath];
  if (rt === "bun") { const b = findBin("bun"); return b && [b]; }
  if (rt === "deno") { const d = findBin("deno"); return d && [d, "run", "-A", "--quiet"]; }
  return undefined;
}

const strace = findBin("strace");

/** Runs workload.mjs in a fresh process; resolves with its JSON line or { error }. */
function child(rt, wargs, { traceFile, exposeGc = false, timeoutMs = scaleName === "small" ? 120_000 : 600_000 } = {}) {
  const runner = [...commandFor(rt)];
  if (exposeGc && rt === "node") runner.push("--expose-gc");
  if (exposeGc && rt === "deno") runner.push("--v8-flags=--expose-gc");
  const cmd = [...runner, path.join(here, "workload.mjs"), "--scale", scaleName, ...wargs];
  const full = traceFile === undefined ? cmd
    : [strace, "-f", "-qq", "-s", "12", "-o", traceFile, "-e", "trace=fsync,fdatasync,msync,sync_file_range,syncfs,sync,write,pwrite64", ...cmd];
  return new Promise((resolve) => {
    const p = spawn(full[0], full.slice(1), { cwd: here, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.setEncoding("utf8").on("data", (d) => (out += d));
    p.stderr.setEncoding("utf8").on("data", (d) => (err += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("exit", (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split("\n").pop() ?? "";
      if (code === 0 && last.startsWith("{")) resolve(JSON.parse(last));
      else resolve({ error: `exit ${code ?? signal}: ${errorLine(err)}` });
    });
  });
}

/** The line of a child's stderr that names the error (runtimes differ in what they print around it). */
function errorLine(stderr) {
  const lines = stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((l) => l.trim()).filter(Boolean);
  return (lines.find((l) => /^(Uncaught )?(\(in promise\) )?\w*Error\b|^error: /.test(l) || /\b(Error|E[A-Z]{3,}): /.test(l)) ?? lines.pop() ?? "").slice(0, 200);
}

function tmp(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `txtdb-compare-${tag}-`));
}

async function probe(rt, system) {
  if (strace === undefined) return { measured: false };
  const out = {};
  for (const callers of [1, 64]) {
    const traceFile = path.join(tmp("trace"), "trace.txt");
    const r = await child(rt, ["--system", system, "--workload", "probe", "--commits", String(scale.probeCommits), "--callers", String(callers)], { traceFile });
    if (r.error) return { measured: false, error: r.error };
    const t = parseTrace(fs.readFileSync(traceFile, "utf8"));
    fs.rmSync(path.dirname(traceFile), { recursive: true, force: true });
    if (callers === 1) Object.assign(out, { seqSyncsPerCommit: t.syncs / t.acks, seqAcksAfterSync: t.acksAfterSync / t.acks, seqRangeSyncs: t.rangeSyncs });
    else Object.assign(out, { concSyncsPerCommit: t.syncs / t.acks, concAcksAfterSync: t.acksAfterSync / t.acks });
  }
  return { measured: true, ...out };
}

const rows = [];
const record = (row) => {
  rows.push(row);
  if (jsonOnly) console.log(JSON.stringify(row));
};

for (const rt of runtimes) {
  if (commandFor(rt) === undefined) { log(`${rt}: not found, skipped`); continue; }
  log(`== ${rt} (scale ${scaleName})`);
  const usable = [];
  for (const s of systems) {
    const r = await child(rt, ["--system", s, "--workload", "check"]);
    if (r.error) record({ runtime: rt, system: s, workload: "load", result: `does not load in ${rt}: ${r.error}` });
    else usable.push({ name: s, driver: r.driver });
  }
  const driverOf = (s) => usable.find((u) => u.name === s)?.driver;
  const has = (s) => usable.some((u) => u.name === s);
  const dbSystems = usable.map((u) => u.name).filter((s) => !s.startsWith("floor"));
  const probes = new Map();
  if (!args["no-probe"]) {
    for (const s of usable.map((u) => u.name)) {
      log(`  probe ${s}`);
      probes.set(s, await probe(rt, s));
    }
  }
  const base = (s, workload) => ({ runtime: rt, scale: scaleName, system: s, driver: driverOf(s), workload, durability: args["no-probe"] ? "not probed (--no-probe)" : durabilityLabel(probes.get(s)), probe: probes.get(s) });

  // Disk-bound throughput: systems interleaved over several rounds, the median
  // reported, so a burst of someone else's I/O on a shared machine hits all alike.
  for (const w of ["w1", "w2"]) {
    if (!workloadsWanted.has(w)) continue;
    const list = w === "w1" ? usable.map((u) => u.name) : dbSystems;
    const runs = new Map(list.map((s) => [s, []]));
    for (let round = 0; round < scale.rounds; round++) {
      for (const s of list) {
        log(`  ${w} ${s} (round ${round + 1}/${scale.rounds})`);
        runs.get(s).push(await child(rt, ["--system", s, "--workload", w]));
      }
    }
    for (const s of list) {
      const got = runs.get(s);
      const bad = got.find((r) => r.error);
      if (bad) { record({ ...base(s, w), ...bad }); continue; }
      const sorted = [...got].sort((a, b) => a.opsPerSec - b.opsPerSec);
      record({ ...base(s, w), ...sorted[Math.floor(sorted.length / 2)], rounds: got.map((r) => Math.round(r.opsPerSec)) });
    }
  }
  /** W5 is a few milliseconds in a fresh process: the median of w5Runs processes, so one noisy start does not decide it. */
  async function w5Median(rt, s, dir) {
    const got = [];
    for (let i = 0; i < w5Runs; i++) {
      const r = await child(rt, ["--system", s, "--workload", "w5", "--dir", dir]);
      if (r.error) return r;
      got.push(r);
    }
    const sorted = [...got].sort((a, b) => a.ms - b.ms);
    return { ...sorted[Math.floor(sorted.length / 2)], runs: got.map((r) => Math.round(r.ms * 100) / 100) };
  }
  if (["w3", "w4", "w5"].some((w) => workloadsWanted.has(w))) {
    for (const s of dbSystems) {
      const dir = tmp(`load-${s}`);
      log(`  w4/w5/w3 ${s}`);
      const w4 = await child(rt, ["--system", s, "--workload", "w4", "--dir", dir]);
      if (workloadsWanted.has("w4")) record({ ...base(s, "w4"), ...w4 });
      if (!w4.error) {
        if (workloadsWanted.has("w5")) record({ ...base(s, "w5"), ...(await w5Median(rt, s, dir)) });
        if (workloadsWanted.has("w3")) record({ ...base(s, "w3"), ...(await child(rt, ["--system", s, "--workload", "w3", "--dir", dir])) });
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  if (workloadsWanted.has("w6")) {
    for (const s of dbSystems) {
      log(`  w6 ${s}`);
      record({ ...base(s, "w6"), ...(await multiProcess(rt, s)) });
    }
  }
  if (workloadsWanted.has("w7")) {
    for (const s of ["txtdb", "sqlite-full"].filter(has)) {
      log(`  w7 ${s}`);
      record({ ...base(s, "w7"), ...(await child(rt, ["--system", s, "--workload", "w7"])) });
    }
  }
  if (!args["no-memory"] && has("txtdb")) {
    log("  memory txtdb");
    const dir = tmp("mem");
    const load = await child(rt, ["--system", "txtdb", "--workload", "mem-load", "--dir", dir]);
    const scan = load.error ? load : await child(rt, ["--system", "txtdb", "--workload", "mem-scan", "--dir", dir], { exposeGc: true });
    // What a process without txtdb reaches reading and parsing the same files: the median of 3 (RSS moves a few MB between runs).
    const floors = [];
    for (let i = 0; i < 3 && !load.error; i++) floors.push(await child(rt, ["--system", "parse-floor", "--workload", "mem-floor", "--dir", dir]));
    fs.rmSync(dir, { recursive: true, force: true });
    record({ ...base("txtdb", "memory"), ...scan, docs: load.docs, workload: "memory" });
    const floor = load.error ? load : floors.find((f) => f.error) ?? [...floors].sort((x, y) => x.rssPeak - y.rssPeak)[1];
    record({ ...base("parse-floor", "memory"), ...floor, workload: "memory", ...(floors.length > 0 && !floor.error ? { rssPeaks: floors.map((f) => f.rssPeak) } : {}) });
  }
}

/** W6: writers processes × commits each on one database, then a fresh process counts. */
async function multiProcess(rt, s) {
  const root = tmp(`w6-${s}`);
  const dir = path.join(root, "db");
  fs.mkdirSync(dir);
  try {
    const init = await child(rt, ["--system", s, "--workload", "w6-init", "--dir", dir]);
    if (init.error) return init;
    const start = Date.now() + (rt === "node" ? 1500 : 2500); // all writers have loaded before anyone writes
    const outs = await Promise.all(Array.from({ length: scale.w6Writers }, (_, w) =>
      child(rt, ["--system", s, "--workload", "w6-writer", "--dir", dir, "--writer", String(w), "--commits", String(scale.w6Commits), "--start", String(start)])));
    const crashed = outs.filter((o) => o.error);
    const ok = outs.filter((o) => !o.error);
    const acked = [];
    for (const o of ok) for (let i = 0; i < scale.w6Commits; i++) if (!o.failed.includes(i)) acked.push(`w${o.writer}-${i}`);
    const ackFile = path.join(root, "acked.json");
    fs.writeFileSync(ackFile, JSON.stringify(acked));
    const count = await child(rt, ["--system", s, "--workload", "w6-count", "--dir", dir, "--acked", ackFile]);
    if (count.error) return { error: `count: ${count.error}` };
    const seconds = ok.length === 0 ? NaN : (Math.max(...ok.map((o) => o.lastMs)) - Math.min(...ok.map((o) => o.firstMs))) / 1000;
    return {
      commitsPerSec: acked.length / seconds, seconds, writers: scale.w6Writers, commitsEach: scale.w6Commits,
      acked: acked.length, failed: ok.reduce((n, o) => n + o.failed.length, 0), crashedWriters: crashed.length,
      lost: count.lost, present: count.present,
      firstError: ok.find((o) => o.firstError)?.firstError ?? crashed[0]?.error,
    };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

// ---- report -----------------------------------------------------------------

const n0 = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—");
const n2 = (n) => (Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 }) : "—");
const mb = (b) => `${(b / (1 << 20)).toFixed(1)} MB`;

function resultText(r) {
  if (r.error) return `error: ${r.error}`;
  if (r.missing) return r.missing;
  switch (r.workload) {
    case "load": return r.result;
    case "w1": case "w2": return `${n0(r.opsPerSec)} commits/s`;
    case "w3": return `${n0(r.opsPerSec)} reads/s`;
    case "w4": return `${n2(r.seconds)} s (close ${n2(r.closeSeconds)} s, ${mb(r.diskBytes)})`;
    case "w5": return `${n2(r.ms)} ms (module load ${n0(r.importMs)} ms, close ${n2(r.closeMs)} ms)`;
    case "w6": return `${n0(r.commitsPerSec)} commits/s, ${r.lost} lost of ${r.acked} acked${r.failed ? `, ${r.failed} failed` : ""}${r.crashedWriters ? `, ${r.crashedWriters} writers crashed` : ""}${r.firstError ? ` (first error: ${r.firstError.replace(/^exit \d+: /, "").slice(0, 60)})` : ""}`;
    case "w7": return `bulk ${n2(r.bulkSeconds)} s; ${n0(r.insertsPerSec)} inserts/s; ${n0(r.lookupsPerSec)} lookups/s`;
    case "memory": if (r.system === "parse-floor") return `RSS peak ${mb(r.rssPeak)} (median of ${r.rssPeaks?.length ?? 1}; ${mb(r.rssStart)} at start) reading and parsing the same ${n0(r.pageFiles)} page files twice, no database`;
      return `RSS peak ${mb(r.rssPeak)} (limit ${mb(r.rssLimit)}; ${mb(r.rssAfterOpen)} after open; live heap after GC ${r.heapLiveAfterGc === undefined ? "?" : mb(r.heapLiveAfterGc)}) scanning ${mb(r.diskBytes)} twice, cacheBytes ${mb(r.cacheBytes)}`;
    default: return JSON.stringify(r);
  }
}

const wName = { load: "load", w1: "W1 sequential commits", w2: "W2 64 callers", w3: "W3 hot point reads", w4: "W4 bulk load", w5: "W5 reopen + 1st read", w6: "W6 4 processes", w7: "W7 2-index table", memory: "memory check" };

function median(xs) {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Targets of issue 8, as ratios measured in the same run and runtime. */
function targets(rt) {
  const get = (s, w) => rows.find((r) => r.runtime === rt && r.system === s && r.workload === w && !r.error && !r.missing);
  const out = [];
  const ratio = (label, w, s, refSys, field, need, higherIsBetter, extra = () => true) => {
    const a = get(s, w);
    const b = get(refSys, w);
    if (a === undefined || b === undefined) { out.push({ runtime: rt, target: label, verdict: `n/a (${a === undefined ? s : refSys} ${w} missing)` }); return; }
    // W1/W2 ran in interleaved rounds: the median of the per-round ratios pairs
    // runs made close together in time, which a shared disk's drift spoils less.
    const paired = Array.isArray(a.rounds) && Array.isArray(b.rounds) && a.rounds.length === b.rounds.length && a.rounds.length > 1;
    const r = paired ? median(a.rounds.map((x, i) => x / b.rounds[i])) : a[field] / b[field];
    const met = (higherIsBetter ? r >= need : r <= need) && extra(a);
    out.push({ runtime: rt, target: label, ratio: r, need: `${higherIsBetter ? "≥" : "≤"} ${need}×`, verdict: met ? "met" : "not met" });
  };
  ratio("W1 txtdb / SQLite-FULL commits/s", "w1", "txtdb", "sqlite-full", "opsPerSec", 1.0, true);
  ratio("W1 txtdb / raw floor commits/s", "w1", "txtdb", "floor", "opsPerSec", 0.8, true);
  const w1 = get("txtdb", "w1");
  const ow = get("floor-overwrite", "w1");
  if (w1 && ow) out.push({ runtime: rt, target: "(info) W1 txtdb / overwrite floor (preallocated file)", ratio: w1.rounds?.length > 1 && ow.rounds?.length === w1.rounds.length ? median(w1.rounds.map((x, i) => x / ow.rounds[i])) : w1.opsPerSec / ow.opsPerSec, need: "", verdict: "no target" });
  ratio("W2 txtdb / LMDB commits/s", "w2", "txtdb", "lmdb", "opsPerSec", 1.5, true);
  ratio("W3 txtdb / LMDB reads/s", "w3", "txtdb", "lmdb", "opsPerSec", 1.0, true);
  ratio("W4 txtdb / LMDB load time", "w4", "txtdb", "lmdb", "seconds", 1.0, false);
  ratio("W5 txtdb / LMDB reopen time", "w5", "txtdb", "lmdb", "ms", 2.0, false);
  ratio("W6 txtdb / SQLite-FULL commits/s, 0 lost", "w6", "txtdb", "sqlite-full", "commitsPerSec", 2.0, true, (a) => a.lost === 0 && a.failed === 0);
  ratio("W7 txtdb / SQLite inserts/s", "w7", "txtdb", "sqlite-full", "insertsPerSec", 1.0, true);
  ratio("W7 txtdb / SQLite unique lookups/s", "w7", "txtdb", "sqlite-full", "lookupsPerSec", 1.0, true);
  ratio("W7 txtdb / SQLite bulk insert time", "w7", "txtdb", "sqlite-full", "bulkSeconds", 1.0, false);
  const m = get("txtdb", "memory");
  out.push({ runtime: rt, target: "memory: RSS ≤ cacheBytes + 64 MB scanning 4× cache", ratio: m ? m.rssPeak / m.rssLimit : undefined, need: "≤ 1×", verdict: m === undefined ? "n/a" : m.met ? "met" : "not met" });
  const mf = get("parse-floor", "memory");
  if (m && mf) out.push({ runtime: rt, target: "(info) memory: parse floor's RSS peak (same files, no database) / the limit", ratio: mf.rssPeak / m.rssLimit, need: "", verdict: "no target" });
  return out;
}

const allTargets = [...new Set(rows.map((r) => r.runtime))].flatMap(targets);
if (jsonOnly) {
  for (const t of allTargets) console.log(JSON.stringify({ kind: "target", ...t }));
} else {
  const table = [["runtime", "workload", "system", "driver", "result", "durability (measured)"]];
  const order = Object.keys(wName);
  const sorted = [...rows].sort((a, b) => runtimes.indexOf(a.runtime) - runtimes.indexOf(b.runtime) || order.indexOf(a.workload) - order.indexOf(b.workload));
  for (const r of sorted) {
    let dur = r.durability ?? "";
    if (r.workload === "w6" && !r.error) dur = r.lost === 0 ? "0 lost with 4 processes" : `LOSES WRITES with 4 processes (${r.lost})`;
    if (r.workload === "load" || r.workload === "memory" || r.workload === "w3" || r.workload === "w5") dur = "";
    table.push([r.runtime, wName[r.workload] ?? r.workload, r.system, r.driver ?? "", resultText(r), dur]);
  }
  const widths = table[0].map((_, c) => Math.min(70, Math.max(...table.map((row) => String(row[c]).length))));
  const line = (row) => row.map((cell, c) => String(cell).padEnd(widths[c])).join("  ").trimEnd();
  console.log(`\ntxtdb side-by-side, scale ${scaleName} (${scale.docs.toLocaleString("en-US")} docs, ${scale.seconds} s per throughput figure, W1/W2 median of ${scale.rounds} interleaved rounds), ${os.cpus().length} cores, ${os.platform()} ${os.release()}, ${new Date().toISOString()}\n`);
  for (const row of table) console.log(line(row));
  console.log("\ntargets (ratios within one runtime, same run)\n");
  const tt = [["runtime", "target", "ratio", "need", "verdict"], ...allTargets.map((t) => [t.runtime, t.target, t.ratio === undefined ? "" : `${t.ratio.toFixed(2)}×`, t.need ?? "", t.verdict])];
  const tw = tt[0].map((_, c) => Math.max(...tt.map((row) => String(row[c]).length)));
  for (const row of tt) console.log(row.map((cell, c) => String(cell).padEnd(tw[c])).join("  ").trimEnd());
  console.log("\nJSON lines\n");
  for (const r of rows) console.log(JSON.stringify(r));
  for (const t of allTargets) console.log(JSON.stringify({ kind: "target", ...t }));
}
