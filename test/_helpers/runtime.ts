/**
 * Which runtime runs the tests, and how to start a child process of any of
 * the three on a helper script in test/_helpers/.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

export type Runtime = "node" | "deno" | "bun";

export const runtime: Runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

/** The package root: the nearest directory above this file holding package.json. */
export const packageRoot: string = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error("package.json not found above " + import.meta.url);
    dir = up;
  }
  return dir;
})();

/** The command line that runs test/_helpers/<script> in `rt`. Node runs the built JS in dist/. */
export function helperCommand(rt: Runtime, script: string, args: string[]): [string, string[]] {
  const bin = (name: string): string => path.join(packageRoot, "node_modules", ".bin", name);
  switch (rt) {
    case "node":
      return [runtime === "node" ? process.execPath : "node", [path.join(packageRoot, "dist", "test", "_helpers", `${script}.js`), ...args]];
    case "deno":
      return [runtime === "deno" ? process.execPath : bin("deno"), ["run", "-A", "--quiet", path.join(packageRoot, "test", "_helpers", `${script}.ts`), ...args]];
    case "bun":
      return [runtime === "bun" ? process.execPath : bin("bun"), [path.join(packageRoot, "test", "_helpers", `${script}.ts`), ...args]];
  }
}

export interface Child {
  process: ChildProcess;
  /** Resolves with the first stdout line that matches, rejects if the child exits first or after `timeoutMs`. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Everything the child printed to stderr so far. */
  stderr(): string;
  /** Resolves when the child has exited. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
  /** Everything the child printed to stdout so far. */
  stdout(): string;
  /** Writes a line to the child's stdin (only when started with `{ stdin: true }`). */
  write(line: string): void;
  /** Calls `listener` with every complete stdout line from now on. */
  onLine(listener: (line: string) => void): void;
}

export interface HelperOptions {
  /** Give the child a stdin pipe (for step-by-step IPC); default: no stdin. */
  stdin?: boolean;
}

/** Starts a helper script in a child process of runtime `rt`. */
export function startHelper(rt: Runtime, script: string, args: string[], options: HelperOptions = {}): Child {
  const [cmd, argv] = helperCommand(rt, script, args);
  const child = spawn(cmd, argv, { stdio: [options.stdin === true ? "pipe" : "ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let partial = "";
  const listeners = new Set<() => void>();
  const lineListeners: Array<(line: string) => void> = [];
  child.stdin?.on("error", () => {}); // a killed child's pipe: writes are dropped
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    if (lineListeners.length > 0) {
      const parts = (partial + d).split("\n");
      partial = parts.pop()!;
      for (const line of parts) for (const l of lineListeners) l(line);
    } else {
      partial = (partial + d).slice((partial + d).lastIndexOf("\n") + 1);
    }
    for (const l of listeners) l();
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => {
    for (const l of listeners) l();
    resolve(code);
  }));
  return {
    process: child,
    exited,
    stderr: () => err,
    kill: (signal = "SIGKILL") => void child.kill(signal),
    stdout: () => out,
    write(line) {
      if (child.stdin === null) throw new Error(`${rt} ${script} was started without a stdin pipe`);
      if (child.stdin.writable) child.stdin.write(line + "\n");
    },
    onLine: (listener) => void lineListeners.push(listener),
    line(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = out.split("\n").find((l) => pattern.test(l));
          if (match !== undefined) return done(() => resolve(match));
          if (child.exitCode !== null || child.signalCode !== null) {
            done(() => reject(new Error(`${rt} ${script} exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}; stdout: ${out} stderr: ${err}`)));
          }
        };
        const timer = setTimeout(() => done(() => reject(new Error(`${rt} ${script}: no ${pattern} within ${timeoutMs} ms; stdout: ${out} stderr: ${err}`))), timeoutMs);
        const done = (settle: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
  };
}
