/**
 * Tiers, seeds and replay lines of the verification suite (test/verify_*.test.ts).
 *
 * - Bounded tier (default, inside `npm test`): each property runs a fixed,
 *   small number of cases, so `npm test` stays bounded.
 * - Long tier (`npm run verify`, or TXTDB_VERIFY_SECONDS=<s> set by hand):
 *   each property runs until it has spent TXTDB_VERIFY_SECONDS seconds (or
 *   reached a very large run count), printing its seed first.
 *
 * Every property runs from a seed: TXTDB_SEED=<n> replays it (with the same
 * tier, since the tier sets the run count). A failure prints one line that
 * reruns exactly that test in the runtime it failed in.
 */
import process from "node:process";
import fc from "fast-check";
import { runtime } from "./runtime.ts";

/** Seconds each property may run in the long tier; null in the bounded tier. */
export const verifySeconds: number | null = (() => {
  const raw = process.env["TXTDB_VERIFY_SECONDS"];
  if (raw === undefined || raw === "") return null;
  const s = Number(raw);
  if (!(s > 0)) throw new Error(`TXTDB_VERIFY_SECONDS must be a number of seconds > 0, got ${JSON.stringify(raw)}`);
  return s;
})();

/** The base seed of this process: TXTDB_SEED, or fresh. */
export const baseSeed: number = process.env["TXTDB_SEED"] !== undefined && process.env["TXTDB_SEED"] !== ""
  ? Number(process.env["TXTDB_SEED"])
  : Date.now() % 0x7fffffff;

/** The one-line command that reruns test `name` of test/<file>.test.ts with `seed`, in this runtime. */
export function replayCommand(file: string, name: string, seed: number): string {
  const env = `TXTDB_SEED=${seed}${verifySeconds !== null ? ` TXTDB_VERIFY_SECONDS=${verifySeconds}` : ""}`;
  const pattern = JSON.stringify(name.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&"));
  switch (runtime) {
    case "node":
      return `${env} node --test --test-name-pattern=${pattern} dist/test/${file}.test.js`;
    case "deno":
      // Deno runs node:test describe() children as steps, which --filter cannot select: the whole file, same seed.
      return `${env} npx deno test -A --quiet test/${file}.test.ts`;
    case "bun":
      return `${env} npx bun test --timeout 0 -t ${pattern} test/${file}.test.ts`;
  }
}

export interface VerifyRun {
  /** The test file, without directory and ".test.ts" (for the replay line). */
  file: string;
  /** The test's name, exactly (for the replay line's name filter). */
  name: string;
  /** Runs in the bounded tier. */
  runs: number;
  /** Long tier: cap on runs (default 1,000,000: the time budget ends it). */
  maxRuns?: number;
}

/**
 * Checks a property in the current tier from the base seed. Prints the seed;
 * on failure rethrows with the replay line first in the message (and prints it).
 */
export async function verifyProperty<Ts>(run: VerifyRun, property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>): Promise<void> {
  const seed = baseSeed;
  const params: fc.Parameters<Ts> = verifySeconds === null
    ? { seed, numRuns: run.runs }
    : { seed, numRuns: run.maxRuns ?? 1_000_000, interruptAfterTimeLimit: verifySeconds * 1000, markInterruptAsFailure: false };
  console.log(`${run.file} › ${run.name}: seed=${seed}${verifySeconds === null ? ` runs=${run.runs}` : ` budget=${verifySeconds}s`}`);
  const details = await fc.check(property as fc.IAsyncPropertyWithHooks<Ts>, params);
  if (verifySeconds !== null) console.log(`${run.file} › ${run.name}: ${details.numRuns} runs passed`);
  if (!details.failed) return;
  const replay = replayCommand(run.file, run.name, seed);
  console.error(`REPLAY: ${replay}`);
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  const message = `${fc.defaultReportMessage(details) ?? "property failed"}\nError: ${cause}`;
  throw Object.assign(new Error(`replay: ${replay}\n${message}`), { cause: details.errorInstance });
}

/** Runs the property with `seed` and returns whether it failed (for the mutant tests: a broken engine must fail). */
export async function propertyFails<Ts>(property: fc.IAsyncPropertyWithHooks<Ts>, seed: number, numRuns: number): Promise<{ failed: boolean; report: string }> {
  const details = await fc.check(property, { seed, numRuns, endOnFailure: true });
  return { failed: details.failed, report: details.failed ? String(details.errorInstance).split("\n")[0]! : `${details.numRuns} runs passed` };
}
