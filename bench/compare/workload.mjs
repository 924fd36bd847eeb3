/**
 * One workload of one system, in this process (started by run.mjs; runs under
 * Node, Bun or Deno unchanged). Prints one JSON line on stdout.
 *
 *   node bench/compare/workload.mjs --system <name> --workload <w> [--dir D] [--scale small|full]
 *
 * Workloads (the numbering):
 *   check       load the system's module, report the driver (is it usable in this runtime?)
 *   w1          sequential single-put commits for a fixed time: commits/s
 *   w2          64 concurrent callers, each awaiting its own single-put commits: commits/s
 *   w4          bulk load of `docs` documents into --dir in one transaction: seconds until durable
 *   w5          (fresh process) open --dir + first read: ms; module load time reported apart
 *   w3          hot point reads over the --dir database: reads/s
 *   w6-init / w6-writer / w6-count
 *               several processes committing to one database; the count compares what
 *               the writers were told was committed with what is present at the end
 *   w7          table with a unique and a composite secondary index: bulk insert, single-row
 *               inserts (each its own commit), unique-index lookups
 *   probe       --commits N --callers C: N commits with a marker write after each resolved
 *               commit; run.mjs runs this under strace to see which syncs precede each ack
 *   mem-load / mem-scan
 *               txtdb only: build a database several times larger than cacheBytes, then
 *               scan it in a fresh process with that cacheBytes and sample RSS
 *   mem-floor   (--system parse-floor) the same two passes without any database: each page
 *               file of --dir read whole and JSON.parse'd, RSS sampled alike: what the
 *               runtime alone takes to read those files
 */
import fs from "node:fs";
import process from "node:process";
import { argv, diskBytes, doc, forSeconds, key, parseArgs, runtime, scaleOf, tempDir, userRow, wallMs } from "./_common.mjs";

const tStart = performance.now();
const args = parseArgs(argv());
const scale = scaleOf(args.scale);
const systemName = args.system ?? "txtdb";

async function loadSystem(name) {
  switch (name) {
    case "floor": return (await import("./systems/floor.mjs")).default;
    case "floor-overwrite": return (await import("./systems/floor_overwrite.mjs")).default;
    case "txtdb": return (await import("./systems/txtdb.mjs")).default;
    case "sqlite-full": return (await import("./systems/sqlite.mjs")).full;
    case "sqlite-normal": return (await import("./systems/sqlite.mjs")).normal;
    case "lmdb": return (await import("./systems/lmdb.mjs")).default;
    case "lowdb": return (await import("./systems/lowdb.mjs")).default;
    case "nedb": return (await import("./systems/nedb.mjs")).default;
    case "parse-floor": return { driver: "node:fs readFileSync + JSON.parse per page file" }; // mem-floor only: no database
    default: throw new Error(`unknown system ${name}`);
  }
}

const system = await loadSystem(systemName);
const importMs = performance.now() - tStart;

function entries(from, to) {
  const out = [];
  for (let i = from; i < to; i++) out.push([key(i), doc(i)]);
  return out;
}

async function withTemp(body) {
  const dir = tempDir(systemName);
  try { return await body(dir); } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

const workloads = {
  check: async () => ({ driver: system.driver }),

  w1: () => withTemp(async (dir) => {
    const s = await system.open(dir);
    let i = 0;
    const r = await forSeconds(scale.seconds, async () => { await s.put(key(i), doc(i)); i++; return 1; });
    const extra = s.extra();
    await s.close();
    return { opsPerSec: r.ops / r.seconds, commits: r.ops, ...extra };
  }),

  w2: () => withTemp(async (dir) => {
    const s = await system.open(dir);
    const callers = 64;
    let next = 0;
    const t0 = performance.now();
    const until = t0 + scale.seconds * 1000;
    await Promise.all(Array.from({ length: callers }, async () => {
      while (performance.now() < until) { const i = next++; await s.put(key(i), doc(i)); }
    }));
    const seconds = (performance.now() - t0) / 1000;
    const extra = s.extra();
    await s.close();
    return { opsPerSec: next / seconds, commits: next, callers, ...extra };
  }),

  w4: async () => {
    const dir = need("dir");
    const s = await system.open(dir);
    const data = entries(0, scale.docs);
    const t0 = performance.now();
    await s.bulk(data);
    const seconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    await s.close();
    return { seconds, closeSeconds: (performance.now() - t1) / 1000, docs: scale.docs, diskBytes: diskBytes(dir) };
  },

  w5: async () => {
    const dir = need("dir");
    const t0 = performance.now();
    const s = await system.open(dir);
    const v = await s.get(key(4242 % scale.docs));
    const ms = performance.now() - t0;
    if (v === undefined) throw new Error("first read found nothing");
    const c0 = performance.now();
    await s.close(); // reported apart: txtdb's close checkpoints (and tidies pages/, DB-7)
    return { ms, importMs, closeMs: performance.now() - c0 };
  },

  w3: async () => {
    const dir = need("dir");
    const s = await system.open(dir);
    const n = scale.docs;
    let i = 0;
    const read = async () => {
      i = (i + 7919) % n;
      const v = await s.get(key(i));
      if (v === undefined || v.id !== i) throw new Error(`read of ${key(i)} returned ${JSON.stringify(v)}`);
    };
    for (let k = 0; k < scale.warmReads; k++) await read();
    const r = await forSeconds(scale.seconds, async () => { for (let k = 0; k < 1000; k++) await read(); return 1000; });
    await s.close();
    return { opsPerSec: r.ops / r.seconds, docs: n };
  },

  "w6-init": async () => {
    const s = await system.open(need("dir"));
    await s.close();
    return {};
  },

  "w6-writer": async () => {
    const s = await system.open(need("dir"));
    const w = Number(need("writer"));
    const commits = Number(need("commits"));
    const startAt = Number(need("start"));
    while (wallMs() < startAt) await new Promise((r) => setTimeout(r, 1));
    const firstMs = wallMs();
    const failed = [];
    let firstError;
    for (let i = 0; i < commits; i++) {
      try { await s.put(`w${w}-${i}`, { w, i, pad: "x".repeat(150) }); } catch (e) { failed.push(i); firstError ??= String(e?.message ?? e).slice(0, 160); }
    }
    const lastMs = wallMs();
    try { await s.close(); } catch (e) { firstError ??= `close: ${String(e?.message ?? e).slice(0, 160)}`; }
    return { writer: w, firstMs, lastMs, acked: commits - failed.length, failed, firstError };
  },

  "w6-count": async () => {
    const s = await system.open(need("dir"));
    const present = await s.keys();
    await s.close();
    const acked = JSON.parse(fs.readFileSync(need("acked"), "utf8"));
    let lost = 0;
    for (const k of acked) if (!present.has(k)) lost++;
    return { present: present.size, acked: acked.length, lost };
  },

  w7: () => withTemp(async (dir) => {
    const s = await system.open(dir);
    const t = await s.table();
    if (t.missing !== undefined) { await s.close(); return { missing: t.missing }; }
    const rows = scale.w7Rows;
    const b0 = performance.now();
    const all = [];
    for (let i = 0; i < rows; i++) all.push(userRow(i));
    await t.bulk(all);
    const bulkSeconds = (performance.now() - b0) / 1000;
    let next = rows;
    const ins = await forSeconds(scale.seconds, async () => { await t.insert(userRow(next++)); return 1; });
    const total = next;
    let i = 0;
    const look = await forSeconds(scale.seconds, async () => {
      for (let k = 0; k < 500; k++) {
        i = (i + 7919) % total;
        const row = await t.byEmail(`user${i}@example.com`);
        if (row === undefined || row.id !== i) throw new Error(`byEmail(user${i}) returned ${JSON.stringify(row)}`);
      }
      return 500;
    });
    await s.close();
    return { bulkSeconds, bulkRows: rows, insertsPerSec: ins.ops / ins.seconds, lookupsPerSec: look.ops / look.seconds };
  }),

  probe: () => withTemp(async (dir) => {
    const s = await system.open(dir);
    const commits = Number(need("commits"));
    const callers = Number(need("callers"));
    const marker = fs.openSync("/dev/null", "w");
    const ack = new TextEncoder().encode("@@ACK@@");
    fs.writeSync(marker, new TextEncoder().encode("@@GO@@"));
    let next = 0;
    await Promise.all(Array.from({ length: callers }, async () => {
      while (next < commits) { const i = next++; await s.put(key(i), doc(i)); fs.writeSync(marker, ack); }
    }));
    fs.writeSync(marker, new TextEncoder().encode("@@END@@"));
    fs.closeSync(marker);
    await s.close();
    return { commits: next, callers };
  }),

  "mem-load": async () => {
    // Several commits of 10,000 documents until the files hold memDbBytes.
    const dir = need("dir");
    const s = await system.open(dir);
    let n = 0;
    while (diskBytes(dir) < scale.memDbBytes) {
      await s.bulk(entries(n, n + 10_000));
      n += 10_000;
    }
    await s.close();
    return { docs: n, diskBytes: diskBytes(dir) };
  },

  "mem-scan": async () => {
    const dir = need("dir");
    const cacheBytes = scale.memCacheBytes;
    const s = await system.open(dir, { cacheBytes });
    const afterOpen = process.memoryUsage();
    let peak = afterOpen;
    const sample = () => { const m = process.memoryUsage(); if (m.rss > peak.rss) peak = m; };
    let rows = 0;
    for (let pass = 0; pass < 2; pass++) {
      for await (const [, v] of s.scan()) {
        if (v === undefined) throw new Error("scan returned no value");
        if (++rows % 500 === 0) sample();
      }
    }
    sample();
    // Live heap after a full collection (where the runtime exposes one: node --expose-gc, Bun.gc):
    // what the engine retains, as opposed to garbage not yet collected.
    const fullGc = typeof globalThis.gc === "function" ? () => globalThis.gc() : typeof globalThis.Bun?.gc === "function" ? () => globalThis.Bun.gc(true) : undefined;
    let heapLiveAfterGc;
    if (fullGc !== undefined) { fullGc(); heapLiveAfterGc = process.memoryUsage().heapUsed; }
    await s.close();
    const limit = cacheBytes + (64 << 20);
    return {
      cacheBytes, diskBytes: diskBytes(dir), rowsScanned: rows, rssAfterOpen: afterOpen.rss, rssPeak: peak.rss, rssLimit: limit, met: peak.rss <= limit,
      atPeak: { heapUsed: peak.heapUsed, heapTotal: peak.heapTotal, external: peak.external, arrayBuffers: peak.arrayBuffers }, heapLiveAfterGc,
    };
  },

  "mem-floor": async () => {
    const pagesDir = `${need("dir")}/pages`;
    const files = fs.readdirSync(pagesDir).flatMap((ns) =>
      fs.readdirSync(`${pagesDir}/${ns}`).filter((f) => f.endsWith(".json") && !f.startsWith(".")).sort().map((f) => `${pagesDir}/${ns}/${f}`));
    const start = process.memoryUsage();
    let peak = start;
    let rows = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (const file of files) {
        for (const [, v] of JSON.parse(fs.readFileSync(file, "utf8")).entries) {
          if (v === undefined) throw new Error(`${file}: an entry without a value`);
          if (++rows % 500 === 0) { const m = process.memoryUsage(); if (m.rss > peak.rss) peak = m; }
        }
      }
    }
    const end = process.memoryUsage();
    if (end.rss > peak.rss) peak = end;
    return { pageFiles: files.length, rowsScanned: rows, rssStart: start.rss, rssPeak: peak.rss };
  },
};

function need(name) {
  const v = args[name];
  if (v === undefined) throw new Error(`--${name} is required for ${args.workload}`);
  return v;
}

const body = workloads[args.workload];
if (body === undefined) throw new Error(`unknown workload ${args.workload}: ${Object.keys(workloads).join(", ")}`);
const result = await body();
console.log(JSON.stringify({ runtime, system: systemName, workload: args.workload, driver: system.driver, ...result }));
process.exit(0); // lmdb / NeDB may keep timers alive; every result is already written
