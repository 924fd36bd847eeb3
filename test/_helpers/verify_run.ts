/**
 * `npm run verify`: the long tier of the verification suite (test/verify_*.test.ts).
 *
 *   npm run verify                               # Node, 30 s per property
 *   TXTDB_VERIFY_SECONDS=300 npm run verify      # 5 minutes per property
 *   npm run verify -- --runtime all              # Node, then Deno, then Bun
 *   TXTDB_SEED=123 npm run verify                # replay a run (same TXTDB_VERIFY_SECONDS)
 *
 * Each property runs until TXTDB_VERIFY_SECONDS have passed and prints its
 * seed and how many cases passed; a failure prints a one-line replay command
 * ("REPLAY: …"). Exits non-zero if any runtime failed.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { helperCommand, packageRoot, type Runtime } from "./runtime.ts";

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const which = flag("--runtime") ?? "node";
const runtimes: Runtime[] = which === "all" ? ["node", "deno", "bun"] : [which as Runtime];
for (const rt of runtimes) if (!["node", "deno", "bun"].includes(rt)) throw new Error(`--runtime must be node, deno, bun or all, got ${rt}`);

const env = { ...process.env, TXTDB_VERIFY_SECONDS: process.env["TXTDB_VERIFY_SECONDS"] || "30" };
const files = fs.readdirSync(path.join(packageRoot, "test")).filter((f) => /^verify_.*\.test\.ts$/.test(f)).sort();
console.log(`txtdb verify: ${files.length} files, ${env.TXTDB_VERIFY_SECONDS} s per property, runtimes ${runtimes.join(", ")}`);

let failed = 0;
for (const rt of runtimes) {
  const [bin] = helperCommand(rt, "verify_run", []); // the runtime's executable
  const argv = rt === "node"
    ? ["--test", "--test-concurrency=1", "--test-timeout=0", ...files.map((f) => path.join("dist", "test", f.replace(/\.ts$/, ".js")))]
    : rt === "deno"
      ? ["test", "-A", "--quiet", ...files.map((f) => path.join("test", f))]
      : ["test", "--timeout", "0", ...files.map((f) => path.join("test", f))];
  console.log(`\n== ${rt}: ${bin} ${argv.join(" ")}`);
  const r = spawnSync(bin, argv, { cwd: packageRoot, env, stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    console.log(`== ${rt}: FAILED (exit ${String(r.status ?? r.signal)}); replay with the REPLAY line above`);
  } else {
    console.log(`== ${rt}: passed`);
  }
}
process.exit(failed === 0 ? 0 : 1);
