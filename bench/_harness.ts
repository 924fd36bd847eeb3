/**
 * What the bench files share: the command line — `--variant <name> [--json]`
 * picks one variant to run in this process and prints its figures, as one
 * JSON line with --json (what bench/run.ts reads) — a fresh directory, and a
 * loop timed for a fixed number of seconds.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";

/** A fresh directory under os.tmpdir() (set TMPDIR for another disk). */
export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-bench-"));
}

/** Runs `body` (which returns how many operations it did) until `seconds` have passed. */
export async function forSeconds(seconds: number, body: () => Promise<number>): Promise<{ ops: number; seconds: number }> {
  const t0 = performance.now();
  let ops = 0;
  while (performance.now() - t0 < seconds * 1000) ops += await body();
  return { ops, seconds: (performance.now() - t0) / 1000 };
}

/** The variant named by --variant, or a usage message and exit code 2. */
export function chosenVariant<V>(bench: string, variants: Record<string, V>): { name: string; variant: V; json: boolean } {
  const args = process.argv.slice(2);
  const name = args[args.indexOf("--variant") + 1];
  const variant = name === undefined ? undefined : variants[name];
  if (!args.includes("--variant") || name === undefined || variant === undefined) {
    console.error(`usage: ${bench}.bench --variant <${Object.keys(variants).join("|")}> [--json]`);
    process.exit(2);
  }
  return { name, variant, json: args.includes("--json") };
}

/** Runs the chosen variant of `variants` and prints its result. */
export async function runVariant(bench: string, variants: Record<string, () => Promise<Record<string, number>>>): Promise<void> {
  const { name, variant, json } = chosenVariant(bench, variants);
  const result = await variant();
  if (json) console.log(JSON.stringify({ bench, variant: name, ...result }));
  else console.log(name, result);
}
