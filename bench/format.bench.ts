/**
 * Page-format costs (issue 7): what JSON, YAML and XML page files cost at
 * checkpoint and at open, each format in its own process:
 *
 *   node dist/bench/format.bench.js --variant json|yaml|xml [--json]
 *   npm run bench            (all of bench/)
 *
 * For 100,000 docs of ~200 bytes, loaded in one transaction:
 *   checkpointSeconds      the first checkpoint: every page encoded and written
 *   oneRowCheckpointMs     a checkpoint after one changed row (rewrites one page)
 *   openFirstReadMs        open the closed database + the first db.get (one page parsed)
 *   fullScanSeconds        then a scan of all 100,000 rows (every page parsed)
 *   pageBytes              the page files on disk (base copies not counted)
 *
 * The commit path does not depend on the format (the log is always JSON
 * lines), so commits are not measured here. Files go to a fresh directory
 * under os.tmpdir() (set TMPDIR for another disk).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { open, type PageFormatName } from "../src/mod.ts";

const docCount = 100_000;

function doc(i: number): { id: number; name: string; email: string; tags: string[]; score: number; active: boolean; bio: string } {
  return { id: i, name: `user ${i}`, email: `user${i}@example.com`, tags: ["alpha", "beta"], score: i % 1000, active: i % 2 === 0, bio: "x".repeat(80) };
}

function pageBytes(dir: string): number {
  let n = 0;
  const root = path.join(dir, "pages");
  for (const folder of fs.readdirSync(root)) for (const f of fs.readdirSync(path.join(root, folder))) if (!f.startsWith(".")) n += fs.statSync(path.join(root, folder, f)).size;
  return n;
}

async function run(format: PageFormatName): Promise<Record<string, number | string>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-bench-format-"));
  try {
    let db = await open(dir, { format, checkpointLogBytes: 1 << 30 });
    await db.transaction(async (tx) => {
      for (let i = 0; i < docCount; i++) await tx.put("users", i, doc(i));
    });
    let t0 = performance.now();
    await db.checkpoint();
    const checkpointSeconds = (performance.now() - t0) / 1000;
    await db.put("users", 50_000, { ...doc(50_000), name: "changed" });
    t0 = performance.now();
    await db.checkpoint();
    const oneRowCheckpointMs = performance.now() - t0;
    await db.close();
    t0 = performance.now();
    db = await open(dir, { format });
    const first = await db.get("users", 77_777);
    const openFirstReadMs = performance.now() - t0;
    if ((first as { id: number }).id !== 77_777) throw new Error("wrong row");
    t0 = performance.now();
    const tx = await db.begin({ readOnly: true });
    let rows = 0;
    for await (const _ of tx.scan("users")) rows++;
    await tx.rollback();
    const fullScanSeconds = (performance.now() - t0) / 1000;
    if (rows !== docCount) throw new Error(`scanned ${rows}`);
    await db.close();
    return { variant: format, checkpointSeconds, oneRowCheckpointMs, openFirstReadMs, fullScanSeconds, pageBytes: pageBytes(dir) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const at = process.argv.indexOf("--variant");
const variant = (at >= 0 ? process.argv[at + 1] : "json") as PageFormatName;
const row = await run(variant);
if (process.argv.includes("--json")) console.log(JSON.stringify(row));
else console.log(row);
