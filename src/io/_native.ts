/**
 * Loads the native addon (native/txtdb.cc) once, in Node, Deno and Bun.
 *
 * The addon ships prebuilt in `prebuilds/<platform>-<arch>/` under the
 * package root — the nearest directory above this file that holds
 * `binding.gyp`. That works both for `src/io/_native.ts` (Deno, Bun) and for
 * `dist/src/io/_native.js` (Node). The prebuild for this platform is loaded
 * directly; otherwise (or when a local `build/` exists, which node-gyp-build
 * prefers) node-gyp-build searches.
 *
 * loadNative() never throws: without a usable addon, txtdb runs in exclusive
 * single-process mode and says why, using the returned error.
 *
 * @example
 * ```ts
 * import { loadNative } from "./_native.ts";
 * const native = loadNative();
 * if (native.error !== null) console.warn(native.error.message);
 * ```
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { NativeAddon } from "./_native_api.ts";

/** The addon ABI this loader speaks. Bump with kNativeAbi in native/txtdb.cc. */
export const NATIVE_ABI = 1;

/** How far up from this file the package root may be. */
const packageRootDepthMax = 8;

/** The outcome of loading the addon: the addon, or why there is none. */
export type NativeLoad =
  | { addon: NativeAddon; error: null }
  | { addon: null; error: Error };

let loaded: NativeLoad | undefined;

/** Loads the addon on the first call; later calls return the same result. */
export function loadNative(): NativeLoad {
  loaded ??= load();
  return loaded;
}

/** What loadNative() returned, without loading: undefined until someone (nativeIO()) has called it. */
export function loadedNative(): NativeLoad | undefined {
  return loaded;
}

function load(): NativeLoad {
  try {
    // import.meta.dirname (Node ≥ 20.11, Deno, Bun) spares a cold open ~0.15 ms of URL parsing.
    const root = packageRoot((import.meta as { dirname?: string }).dirname ?? dirname(fileURLToPath(import.meta.url)));
    const requireHere = (): NodeJS.Require => createRequire(import.meta.url);
    // The common case without node-gyp-build's search, which costs a cold
    // open about 3 ms: the prebuild for this platform — unless a local build
    // exists, which node-gyp-build would prefer.
    const prebuild = join(root, "prebuilds", `${process.platform}-${process.arch}`, "txtdb.node");
    if (!existsSync(join(root, "build")) && existsSync(prebuild)) return checkAbi(dlopen(prebuild, requireHere), root);
    const nodeGypBuild = requireHere()("node-gyp-build") as (dir: string) => unknown;
    return checkAbi(nodeGypBuild(root), root);
  } catch (cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return failure(`txtdb: cannot load the native addon: ${reason}`, cause);
  }
}

/**
 * Loads an addon file. process.dlopen() skips the CommonJS loader, whose
 * first use in an ES module process costs a cold open in Node about 1.5 ms
 * (0.35 ms against 1.7 here; in Bun 0.7 against 1.0). Deno has it too, but
 * there it is the slower one (2.7 ms against 1.8): require() is used there,
 * and wherever process.dlopen is missing. Unlike require() it caches
 * nothing: loadNative() calls it once per copy of this module.
 */
function dlopen(file: string, requireHere: () => NodeJS.Require): unknown {
  if (typeof process.dlopen !== "function" || "Deno" in globalThis) return requireHere()(file);
  const module = { exports: {} };
  process.dlopen(module, file);
  return module.exports;
}

function checkAbi(addon: unknown, root: string): NativeLoad {
  const abi = (addon as { abi?: unknown } | null)?.abi;
  if (abi === NATIVE_ABI) return { addon: addon as NativeAddon, error: null };
  return failure(
    `txtdb: the native addon under ${root} has ABI ${String(abi)}, ` +
      `this code needs ${NATIVE_ABI}; rebuild it (npx prebuildify --napi --strip)`,
  );
}

function packageRoot(start: string): string {
  let dir = start;
  for (let depth = 0; depth <= packageRootDepthMax; depth++) {
    if (existsSync(join(dir, "binding.gyp"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`no binding.gyp in ${start} or its parents`);
}

function failure(message: string, cause?: unknown): NativeLoad {
  const error = cause === undefined ? new Error(message) : new Error(message, { cause });
  return { addon: null, error };
}
