/**
 * Shared pieces of the comparison harness: the scale (how big a run is), the
 * document every system stores, timing helpers and the runtime name.
 *
 * Plain JavaScript on purpose: the same file runs unchanged in Node, Bun and
 * Deno, and imports txtdb from the repo's build (../../dist/src/mod.js) the way
 * a user of the package would, not from its TypeScript sources.
 *
 * Invariants
 *   CMP-1  Every system stores the same documents under the same string keys
 *          (doc(i) under key(i)); a document serialises to about 200 bytes of JSON.
 *   CMP-2  Throughput figures are operations completed divided by the wall time
 *          they took, measured in the process doing them (performance.now()).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** Sizes of a run. "full" is the workload; "small" is a smoke run of well under a minute per runtime. */
export const scales = {
  full: { docs: 100_000, seconds: 2, rounds: 3, warmReads: 20_000, w6Writers: 4, w6Commits: 1_000, w7Rows: 20_000, probeCommits: 300, memCacheBytes: 8 << 20, memDbBytes: 34 << 20 },
  small: { docs: 10_000, seconds: 0.4, rounds: 1, warmReads: 2_000, w6Writers: 4, w6Commits: 150, w7Rows: 2_000, probeCommits: 100, memCacheBytes: 2 << 20, memDbBytes: 9 << 20 },
};

/** @param {string | undefined} name */
export function scaleOf(name) {
  const s = scales[/** @type {keyof typeof scales} */ (name ?? "full")];
  if (s === undefined) throw new Error(`unknown scale ${JSON.stringify(name)}: use ${Object.keys(scales).join(" or ")}`);
  return s;
}

/** The runtime executing this file. */
export const runtime = typeof globalThis.Bun !== "undefined" ? "bun" : typeof globalThis.Deno !== "undefined" ? "deno" : "node";

/** @param {number} i */
export function key(i) {
  return `d${i}`;
}

/** CMP-1: about 200 bytes as JSON. @param {number} i */
export function doc(i) {
  return { id: i, name: `user ${i}`, email: `user${i}@example.com`, tags: ["alpha", "beta"], score: i % 1000, active: i % 2 === 0, bio: "x".repeat(96) };
}

/** A row of the W7 table: unique email, composite (tenant, age). @param {number} i */
export function userRow(i) {
  return { id: i, email: `user${i}@example.com`, name: `user ${i}`, age: 18 + (i % 60), tenant: `t${i % 16}` };
}

export function tempDir(tag = "cmp") {
  return fs.mkdtempSync(path.join(os.tmpdir(), `txtdb-compare-${tag}-`));
}

/** Bytes of all files under dir (a file path counts itself). @param {string} p */
export function diskBytes(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.size;
  let n = 0;
  for (const e of fs.readdirSync(p)) n += diskBytes(path.join(p, e));
  return n;
}

/**
 * Runs `body` repeatedly for `seconds`; body returns how many operations it did.
 * @param {number} seconds @param {() => Promise<number>} body
 */
export async function forSeconds(seconds, body) {
  const t0 = performance.now();
  let ops = 0;
  while (performance.now() - t0 < seconds * 1000) ops += await body();
  return { ops, seconds: (performance.now() - t0) / 1000 };
}

/** Wall-clock milliseconds comparable between processes on this machine. */
export function wallMs() {
  return performance.timeOrigin + performance.now();
}

/** @param {string[]} argv */
export function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) out[a.slice(2)] = "true";
      else (out[a.slice(2)] = next), i++;
    }
  }
  return out;
}

export function argv() {
  return typeof globalThis.Deno !== "undefined" ? globalThis.Deno.args : process.argv.slice(2);
}
