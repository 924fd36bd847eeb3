/**
 * The command line every bench file shares: `--variant <name> [--json]`
 * picks one variant to run in this process and prints its figures, as one
 * JSON line with --json (what bench/run.ts reads).
 */
import process from "node:process";

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
