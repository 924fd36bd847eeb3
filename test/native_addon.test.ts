/**
 * Tests of the raw native addon (native/txtdb.cc) through loadNative(), on
 * real files, in every runtime:
 *
 *   npx tsc -p . && node --test dist/test/native_addon.test.js
 *   npx deno test -A test/native_addon.test.ts
 *   npx bun test test/native_addon.test.ts
 *
 * Test names cite the invariants NATIVE-n stated at the top of native/txtdb.cc.
 * Each test opens its own file in one fresh temporary directory, removed by
 * the last test.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { Buffer } from "node:buffer";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { loadNative, NATIVE_ABI } from "../src/io/_native.ts";
import type { NativeAddon } from "../src/io/_native_api.ts";
import { crc32c, crc32cJs } from "../src/engine/_crc32c.ts";
import { testSeed } from "./_helpers/expect.ts";

const isDeno = "Deno" in globalThis;
const isLinux = process.platform === "linux";
const isWindows = process.platform === "win32";

const cancelLatencyMsMax = 50;
const childTimeoutMs = 20_000;
const badToken = 999_999; // an int32 no process here has open (checked below)

const native = loadNative();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-native-"));
let fileCount = 0;

function addon(): NativeAddon {
  if (native.error !== null) throw native.error;
  return native.addon;
}

/** The package root: the nearest directory above this file with binding.gyp. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, "binding.gyp"))) {
    const parent = path.dirname(dir);
    assert.notEqual(parent, dir, "binding.gyp not found above the test file");
    dir = parent;
  }
  return dir;
}

/** The loader module that sits next to this file's source or build. */
function loaderUrl(): string {
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`../src/io/_native${ext}`, import.meta.url).href;
}

function newFile(): string {
  const file = path.join(tmp, `file-${fileCount++}.db`);
  fs.writeFileSync(file, "txtdb\n");
  return file;
}

interface Attached {
  fd: number;
  token: number;
  close(): void;
}

function attach(file: string): Attached {
  const fd = fs.openSync(file, "r+");
  const st = fs.fstatSync(fd, { bigint: true });
  const token = addon().attach(fd, file, String(st.dev), String(st.ino));
  return {
    fd,
    token,
    close: () => {
      addon().detach(token);
      fs.closeSync(fd);
    },
  };
}

/** Opens `count` descriptors of one new file, runs `fn`, closes them all. */
async function withDescriptors(
  count: number,
  fn: (d: Attached[], file: string) => Promise<void> | void,
): Promise<void> {
  const file = newFile();
  const descriptors = Array.from({ length: count }, () => attach(file));
  try {
    await fn(descriptors, file);
  } finally {
    for (const d of descriptors) d.close();
  }
}

interface PendingWait {
  id: number;
  settled: Promise<Error | null>;
  calls(): number;
  isSettled(): boolean;
}

function lockWait(d: Attached, start: number, length: number, exclusive: boolean): PendingWait {
  let calls = 0;
  let resolve: (err: Error | null) => void = () => {};
  const settled = new Promise<Error | null>((r) => (resolve = r));
  const id = addon().lockWait(d.token, start, length, exclusive, (err) => {
    calls++;
    resolve(err);
  });
  return { id, settled, calls: () => calls, isSettled: () => calls > 0 };
}

/** Live threads of this process named `name` (the addon names its own); null off Linux. */
function threadsNamed(name: string): number | null {
  if (!isLinux) return null;
  let count = 0;
  for (const task of fs.readdirSync("/proc/self/task")) {
    try {
      if (fs.readFileSync(`/proc/self/task/${task}/comm`, "utf8").trim() === name) count++;
    } catch {
      // The thread exited while we looked.
    }
  }
  return count;
}

/** Live addon waiter threads; null off Linux. */
const waiterThreads = (): number | null => threadsNamed("txtdb-lockwait");
/** Live addon sync threads (NATIVE-14); null off Linux. */
const syncThreads = (): number | null => threadsNamed("txtdb-sync");

/** Polls `condition` every 5 ms for up to `ms`; true once it holds. */
async function eventually(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Keeps the JS thread busy so no callback can run.
  }
}

function datasync(token: number): Promise<Error | null> {
  return new Promise((resolve) => addon().datasync(token, resolve));
}

function syncDir(dir: string): Promise<Error | null> {
  return new Promise((resolve) => addon().syncDir(dir, resolve));
}

async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts the contract's error shape: own code, errno and syscall. */
function assertOsError(err: unknown, code: string, syscall: string): void {
  assert.ok(err instanceof Error, `expected an Error with code ${code}, got ${String(err)}`);
  const e = err as Error & { code?: unknown; errno?: unknown; syscall?: unknown };
  assert.equal(e.code, code, e.message);
  assert.equal(e.syscall, syscall, e.message);
  assert.equal(typeof e.errno, "number");
  const expected = (os.constants.errno as Record<string, number | undefined>)[code];
  if (expected !== undefined) assert.equal(e.errno, expected);
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err: unknown) {
    return err;
  }
  assert.fail("expected a throw");
}

/** Runs a script with this same runtime; resolves with its exit and output. */
function runChild(
  script: string,
  env: Record<string, string>,
  onStdout: (text: string) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = isDeno ? ["run", "-A", script] : [script];
  const child = spawn(process.execPath, args, {
    cwd: packageRoot(),
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    onStdout(stdout);
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill("SIGKILL"), childTimeoutMs);
  return new Promise((resolve) => {
    child.on("close", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

test("loadNative() returns the addon with this ABI and lock family, once", () => {
  assert.equal(native.error, null, native.error?.message);
  assert.equal(addon().abi, NATIVE_ABI);
  assert.equal(addon().lockFamily, isWindows ? "windows" : "ofd");
  assert.equal(loadNative(), native);
});

test("NATIVE-1: the prebuild imports no uv_* symbol", { skip: !isLinux }, () => {
  const dir = path.join(packageRoot(), "prebuilds", `linux-${process.arch}`);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".node"));
  assert.ok(files.length > 0, `no prebuild in ${dir}`);
  for (const f of files) {
    const out = execFileSync("nm", ["-D", "--undefined-only", path.join(dir, f)], {
      encoding: "utf8",
    });
    assert.match(out, /\bnapi_create_threadsafe_function\b/, "nm output looks wrong");
    const uv = out.split("\n").filter((line) => /\buv_/.test(line));
    assert.deepEqual(uv, [], `${f} imports libuv`);
  }
});

test("NATIVE-2: attach() takes the descriptor JS opened and rejects another file with EMISMATCH", {
  skip: isWindows,
}, () => {
  const file = newFile();
  const fd = fs.openSync(file, "r+");
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    assert.equal(addon().attach(fd, file, String(st.dev), String(st.ino)), fd);
    const wrongIno = catchError(() => addon().attach(fd, file, String(st.dev), String(st.ino + 1n)));
    assertOsError(wrongIno, "EMISMATCH", "fstat");
    assert.equal((wrongIno as { errno?: unknown }).errno, 0);
    const wrongDev = catchError(() => addon().attach(fd, file, String(st.dev + 1n), String(st.ino)));
    assertOsError(wrongDev, "EMISMATCH", "fstat");
    assertOsError(catchError(() => addon().attach(badToken, file, "1", "1")), "EBADF", "fstat");
  } finally {
    fs.closeSync(fd);
  }
});

test("NATIVE-3, NATIVE-5: two descriptors of one file in one process conflict on tryLock, which never waits", async () => {
  await withDescriptors(2, ([a, b]) => {
    assert.ok(a && b);
    assert.equal(addon().tryLock(a.token, 0, 10, true), true);
    assert.equal(addon().tryLock(b.token, 0, 10, true), false);
    assert.equal(addon().tryLock(b.token, 5, 1, false), false);
    assert.equal(addon().tryLock(b.token, 10, 1, true), true, "adjacent range is free");
    addon().unlock(a.token, 0, 10);
    assert.equal(addon().tryLock(b.token, 0, 10, true), true);
  });
});

test("NATIVE-3: closing a third, unrelated descriptor of the file keeps the lock", async () => {
  await withDescriptors(2, ([a, b], file) => {
    assert.ok(a && b);
    assert.equal(addon().tryLock(a.token, 0, 1, true), true);
    const c = attach(file);
    c.close(); // classic POSIX locks would all be dropped here
    assert.equal(addon().tryLock(b.token, 0, 1, true), false);
    assert.equal(addon().testLock(b.token, 0, 1, false), "exclusive");
  });
});

test("NATIVE-4: shared + shared are both granted, shared + exclusive are not", async () => {
  await withDescriptors(3, ([a, b, c]) => {
    assert.ok(a && b && c);
    assert.equal(addon().tryLock(a.token, 0, 4, false), true);
    assert.equal(addon().tryLock(b.token, 0, 4, false), true);
    assert.equal(addon().tryLock(c.token, 0, 4, true), false);
    addon().unlock(a.token, 0, 4);
    assert.equal(addon().tryLock(c.token, 0, 4, true), false, "b still holds it shared");
    addon().unlock(b.token, 0, 4);
    assert.equal(addon().tryLock(c.token, 0, 4, true), true);
    assert.equal(addon().tryLock(a.token, 0, 4, false), false);
  });
});

test("NATIVE-4: testLock() returns null or the mode of the conflicting lock", async () => {
  await withDescriptors(2, ([a, b]) => {
    assert.ok(a && b);
    assert.equal(addon().testLock(b.token, 0, 8, true), null);
    assert.equal(addon().tryLock(a.token, 0, 8, false), true);
    assert.equal(addon().testLock(b.token, 0, 8, true), "shared");
    assert.equal(addon().testLock(b.token, 0, 8, false), null);
    assert.equal(addon().tryLock(a.token, 0, 8, true), true, "upgrade of its own lock");
    assert.equal(addon().testLock(b.token, 4, 1, false), "exclusive");
    assert.equal(addon().testLock(a.token, 0, 8, true), null, "own locks never conflict");
    assert.equal(addon().tryLock(b.token, 0, 8, false), false, "testLock took nothing");
  });
});

test("length 0 locks to the end of the file and beyond; unlocking an unheld range is fine", async () => {
  await withDescriptors(2, ([a, b]) => {
    assert.ok(a && b);
    assert.equal(addon().tryLock(a.token, 100, 0, true), true);
    assert.equal(addon().tryLock(b.token, 2 ** 40, 1, true), false);
    assert.equal(addon().tryLock(b.token, 99, 1, true), true);
    addon().unlock(a.token, 100, 0);
    assert.equal(addon().tryLock(b.token, 2 ** 52, 1, true), true);
    addon().unlock(b.token, 5000, 10);
    addon().unlock(a.token, 0, 0);
  });
});

test("NATIVE-6: lockWait() gets the lock once the holder unlocks; the callback gets null", async () => {
  await withDescriptors(2, async ([a, b]) => {
    assert.ok(a && b);
    assert.equal(addon().tryLock(a.token, 0, 1, true), true);
    const wait = lockWait(b, 0, 1, true);
    await sleep(50);
    assert.equal(wait.isSettled(), false, "granted while held elsewhere");
    addon().unlock(a.token, 0, 1);
    assert.equal(await within(2000, "the wait", wait.settled), null);
    assert.equal(addon().tryLock(a.token, 0, 1, false), false, "b holds it now");
    assert.equal(addon().cancelWait(wait.id), false);
    await sleep(20);
    assert.equal(wait.calls(), 1);
  });
});

test("NATIVE-7, NATIVE-8: cancelWait() on a blocked wait delivers ECANCELED promptly and leaves no lock", async () => {
  await withDescriptors(3, async ([a, b, c]) => {
    assert.ok(a && b && c);
    assert.equal(addon().tryLock(a.token, 0, 1, true), true);
    const wait = lockWait(b, 0, 1, true);
    await sleep(50); // the waiter is now blocked in F_OFD_SETLKW
    const start = performance.now();
    assert.equal(addon().cancelWait(wait.id), true);
    const err = await within(2000, "the cancelled wait", wait.settled);
    const latencyMs = performance.now() - start;
    assertOsError(err, "ECANCELED", isWindows ? "LockFileEx" : "fcntl(F_OFD_SETLKW)");
    assert.ok(latencyMs < cancelLatencyMsMax, `ECANCELED after ${latencyMs.toFixed(1)} ms`);
    assert.equal(addon().cancelWait(wait.id), false, "no longer pending");
    addon().unlock(a.token, 0, 1);
    await sleep(20);
    assert.equal(addon().tryLock(c.token, 0, 1, true), true, "the cancelled wait left a lock");
    assert.equal(wait.calls(), 1);
  });
});

test("NATIVE-8: cancelWait() right after lockWait(), before the waiter blocks, still cancels", async () => {
  await withDescriptors(3, async ([a, b, c]) => {
    assert.ok(a && b && c);
    assert.equal(addon().tryLock(a.token, 0, 1, true), true);
    for (let i = 0; i < 20; i++) {
      const wait = lockWait(b, 0, 1, true);
      const start = performance.now();
      assert.equal(addon().cancelWait(wait.id), true);
      assertOsError(await within(2000, `wait ${i}`, wait.settled), "ECANCELED", isWindows ? "LockFileEx" : "fcntl(F_OFD_SETLKW)");
      const latencyMs = performance.now() - start;
      assert.ok(latencyMs < cancelLatencyMsMax, `ECANCELED after ${latencyMs.toFixed(1)} ms`);
    }
    addon().unlock(a.token, 0, 1);
    assert.equal(addon().tryLock(c.token, 0, 1, true), true);
  });
});

test("NATIVE-7, NATIVE-8: a cancel signal lost just before the waiter enters fcntl() is sent again", {
  skip: isWindows,
}, async () => {
  const file = newFile();
  const script = path.join(tmp, "child-race.mjs");
  fs.writeFileSync(script, CHILD_RACE_SCRIPT);
  const env = {
    TXTDB_LOADER: loaderUrl(),
    TXTDB_FILE: file,
    TXTDB_NATIVE_FAULT_WAIT_ENTRY_US: "20000", // the waiter dawdles 20 ms before fcntl()
  };
  const child = await runChild(script, env, () => {});
  const detail = `stdout=${JSON.stringify(child.stdout)} stderr=${child.stderr}`;
  assert.equal(child.code, 0, detail);
  type Outcome = { cancelled: boolean; code: string | null; latencyMs: number };
  const result = JSON.parse(child.stdout) as { blocked: Outcome; free: Outcome; lockLeft: boolean };
  for (const outcome of [result.blocked, result.free]) {
    assert.equal(outcome.cancelled, true, detail);
    assert.equal(outcome.code, "ECANCELED", detail);
    assert.ok(outcome.latencyMs < cancelLatencyMsMax, `ECANCELED after ${outcome.latencyMs} ms`);
  }
  assert.equal(result.lockLeft, false, "a lock granted after the cancel was kept");
});

test("NATIVE-7: a lock granted before its callback ran is released by cancelWait()", async () => {
  await withDescriptors(2, async ([b, c]) => {
    assert.ok(b && c);
    const wait = lockWait(b, 0, 1, true);
    spin(50); // the waiter gets the free lock; its callback cannot run yet
    assert.equal(addon().testLock(c.token, 0, 1, false), "exclusive", "the waiter holds it");
    assert.equal(addon().cancelWait(wait.id), true, "the callback has not run");
    assert.equal(addon().testLock(c.token, 0, 1, false), null, "released by cancelWait()");
    assertOsError(await wait.settled, "ECANCELED", isWindows ? "LockFileEx" : "fcntl(F_OFD_SETLKW)");
    assert.equal(addon().tryLock(c.token, 0, 1, true), true);
  });
});

test("NATIVE-7: cancelWait() returns false once the callback got null; the caller keeps the lock", async () => {
  await withDescriptors(2, async ([b, c]) => {
    assert.ok(b && c);
    const wait = lockWait(b, 0, 1, true);
    assert.equal(await within(2000, "the free wait", wait.settled), null);
    assert.equal(addon().cancelWait(wait.id), false);
    assert.equal(addon().tryLock(c.token, 0, 1, true), false);
    addon().unlock(b.token, 0, 1);
    assert.equal(addon().tryLock(c.token, 0, 1, true), true);
  });
});

test("NATIVE-6: the event loop keeps ticking while a wait blocks", async () => {
  await withDescriptors(2, async ([a, b]) => {
    assert.ok(a && b);
    assert.equal(addon().tryLock(a.token, 0, 1, true), true);
    let ticks = 0;
    const interval = setInterval(() => ticks++, 10);
    try {
      const wait = lockWait(b, 0, 1, true);
      await sleep(200);
      addon().unlock(a.token, 0, 1);
      assert.equal(await within(2000, "the wait", wait.settled), null);
    } finally {
      clearInterval(interval);
    }
    assert.ok(ticks >= 10, `only ${ticks} ticks of 10 ms in 200 ms`);
  });
});

test("NATIVE-6: many blocked waits never starve the runtime's worker pool", async () => {
  const waitCount = 8; // Node's pool has 4 threads, Bun's fewer
  await withDescriptors(2, async ([a, b], file) => {
    assert.ok(a && b);
    assert.equal(addon().tryLock(a.token, 0, waitCount, true), true);
    const waits = Array.from({ length: waitCount }, (_, i) => lockWait(b, i, 1, true));
    await sleep(20);
    assert.equal(waiterThreads() ?? waitCount, waitCount, "one dedicated thread per wait");
    const text = await within(2000, "fs.promises.readFile", fs.promises.readFile(file, "utf8"));
    assert.equal(text, "txtdb\n");
    assert.equal(await within(2000, "datasync", datasync(b.token)), null);
    for (const w of waits) assert.equal(addon().cancelWait(w.id), true);
    for (const w of waits) {
      assertOsError(await w.settled, "ECANCELED", isWindows ? "LockFileEx" : "fcntl(F_OFD_SETLKW)");
    }
    await sleep(20);
    assert.equal(waiterThreads() ?? 0, 0, "settled waits leave no thread behind");
  });
});

test("NATIVE-9: datasync() calls back with null; datasyncSync() and syncDir() succeed", async () => {
  await withDescriptors(1, async ([a]) => {
    assert.ok(a);
    const more = Buffer.from("more data\n");
    assert.equal(fs.writeSync(a.fd, more, 0, more.length, 6), more.length);
    assert.equal(await within(5000, "datasync", datasync(a.token)), null);
    addon().datasyncSync(a.token);
    assert.equal(await within(5000, "syncDir", syncDir(tmp)), null);
    assert.equal(fs.readFileSync(path.join(tmp, `file-${fileCount - 1}.db`), "utf8"), "txtdb\nmore data\n");
  });
});

// Node only: Deno's and Bun's fs run on pools of their own that this FIFO trick does not fill.
const isNode = !isDeno && process.versions.bun === undefined;

test("NATIVE-14: syncs run on the addon's own threads: they finish while the runtime's worker pool is blocked", { skip: !isLinux || !isNode }, async () => {
  // Each read of a FIFO no one writes to holds a pool thread in open(2).
  const fifo = path.join(tmp, "pool-blocker.fifo");
  execFileSync("mkfifo", [fifo]);
  const blockers = Array.from({ length: 8 }, () => fs.promises.readFile(fifo).catch(() => null)); // Node's pool has 4 threads, Bun's fewer
  let drained = false;
  try {
    await sleep(50);
    let poolRan = false;
    void fs.promises.stat(tmp).then(() => (poolRan = true));
    await sleep(50);
    assert.equal(poolRan, false, "the pool is blocked (else this test proves nothing)");
    await withDescriptors(2, async ([a, b]) => {
      assert.ok(a && b);
      const results = await within(5000, "syncs with the pool blocked", Promise.all([datasync(a.token), datasync(b.token), syncDir(tmp), datasync(a.token), datasync(b.token), syncDir(tmp)]));
      assert.deepEqual(results, [null, null, null, null, null, null]);
      const threads = syncThreads() ?? 1;
      assert.ok(threads >= 1 && threads <= 4, `${threads} sync threads, expected 1..4`);
    });
  } finally {
    // Unblock the pool: a writer opening the FIFO releases the readers waiting in open(2); again for the queued ones.
    void Promise.all(blockers).then(() => (drained = true));
    for (const deadline = performance.now() + 5000; !drained && performance.now() < deadline; await sleep(5)) {
      try {
        fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
      } catch {
        // ENXIO: no reader in open(2) right now.
      }
    }
  }
  assert.ok(drained, "the pool never drained");
});

test("NATIVE-14: a pending sync keeps the process alive, an idle addon does not", async () => {
  await withDescriptors(1, async (_, file) => {
    const script = path.join(tmp, "child-sync.mjs");
    fs.writeFileSync(script, CHILD_SYNC_SCRIPT);
    const child = await runChild(script, { TXTDB_LOADER: loaderUrl(), TXTDB_FILE: file }, () => {});
    const detail = `stdout=${JSON.stringify(child.stdout)} stderr=${child.stderr}`;
    assert.equal(child.stdout, "queued\nsynced null\nsynced again null\n", detail);
    assert.equal(child.code, 0, detail);
  });
});

test("NATIVE-10: a token that is no open descriptor fails with EBADF, a missing directory with ENOENT", { skip: isWindows }, async () => {
  assert.throws(() => fs.fstatSync(badToken), "the bad token must not be open");
  assertOsError(await datasync(badToken), "EBADF", "fdatasync");
  assertOsError(catchError(() => addon().datasyncSync(badToken)), "EBADF", "fdatasync");
  assertOsError(catchError(() => addon().tryLock(badToken, 0, 1, true)), "EBADF", "fcntl(F_OFD_SETLK)");
  assertOsError(catchError(() => addon().testLock(badToken, 0, 1, true)), "EBADF", "fcntl(F_OFD_GETLK)");
  assertOsError(catchError(() => addon().unlock(badToken, 0, 1)), "EBADF", "fcntl(F_OFD_SETLK)");
  const waitErr = await new Promise<Error | null>((resolve) => addon().lockWait(badToken, 0, 1, true, resolve));
  assertOsError(waitErr, "EBADF", "fcntl(F_OFD_SETLKW)");
  assertOsError(await syncDir(path.join(tmp, "no-such-dir")), "ENOENT", "open");
});

test("NATIVE-12: mapShared() maps bytes the file holds, shared: two mappings and the file see one another's stores, also after the descriptor closes", { skip: isWindows }, async () => {
  const file = newFile(); // "txtdb\n": 6 bytes
  const a = attach(file);
  const b = attach(file);
  try {
    const map = addon().mapShared;
    assert.ok(map !== undefined, "POSIX builds export mapShared");
    assert.throws(() => map(a.token, 4096), (err: Error & { code?: string }) => err.code === "EINVAL", "past the end of the file: refused, never SIGBUS later");
    fs.ftruncateSync(a.fd, 4096);
    const viaA = new BigInt64Array(map(a.token, 4096), 0, 1);
    const viaB = new BigInt64Array(map(b.token, 4096), 0, 1);
    assert.equal(Buffer.from(viaA.buffer, 0, 6).toString(), "txtdb\n", "the mapping shows the file");
    Atomics.store(viaA, 0, 0x1234n);
    assert.equal(Atomics.load(viaB, 0), 0x1234n, "a store through one mapping is seen through the other");
    a.close();
    Atomics.add(viaA, 0, 1n); // the mapping outlives its descriptor
    assert.equal(Atomics.load(viaB, 0), 0x1235n);
    assert.equal(fs.readFileSync(file).readBigInt64LE(0), 0x1235n, "and read() of the file sees it");
    assert.throws(() => (map as (...args: unknown[]) => unknown)(b.token, -1), TypeError);
  } finally {
    b.close();
  }
});

test("NATIVE-13: crc32c() equals the JS crc32c for any bytes, range and seed (property; prints its seed)", () => {
  const crc = addon().crc32c;
  assert.ok(crc !== undefined, "this build exports crc32c");
  const check = new TextEncoder().encode("123456789");
  assert.equal(crc(check, 0, check.length, 0), 0xe3069283, "the CRC-32C check value");
  const seed = testSeed("NATIVE-13");
  // A view into a bigger buffer (byteOffset > 0): runtimes have had bugs in the pointer they hand over for one.
  const input = fc.tuple(fc.uint8Array({ maxLength: 3000 }), fc.nat(7)).chain(([whole, skip]) => {
    const bytes = whole.subarray(Math.min(skip, whole.length));
    return fc.tuple(fc.constant(bytes), fc.nat(bytes.length), fc.nat(bytes.length), fc.nat(0xffffffff));
  });
  fc.assert(fc.property(input, ([bytes, a, b, seed32]) => {
    const [start, end] = a <= b ? [a, b] : [b, a];
    assert.equal(crc(bytes, start, end, seed32), crc32cJs(bytes, start, end, seed32));
    // Continuing a CRC over a split range gives the CRC of the whole.
    const mid = start + ((end - start) >> 1);
    assert.equal(crc(bytes, mid, end, crc(bytes, start, mid, 0)), crc32cJs(bytes, start, end, 0));
    // crc32c() itself: native from 512 bytes on (the addon is loaded here), JS below; one function either way.
    assert.equal(crc32c(bytes, start, end, seed32), crc32cJs(bytes, start, end, seed32));
  }), { seed, numRuns: 300 });
  const bytes = new Uint8Array(8);
  const bad = (fn: () => unknown): void => assert.throws(fn, TypeError);
  bad(() => crc(bytes, 4, 2, 0));
  bad(() => crc(bytes, 0, 9, 0));
  bad(() => crc(bytes, 0, 8, -1));
  bad(() => (crc as (...args: unknown[]) => unknown)([1, 2], 0, 2, 0));
  bad(() => (crc as (...args: unknown[]) => unknown)(new Uint16Array(4), 0, 2, 0));
});

test("NATIVE-13: the software crc32c (no crc32 instruction) gives the same values", async () => {
  const script = path.join(tmp, "child-crc.mjs");
  fs.writeFileSync(script, CHILD_CRC_SCRIPT);
  const bytes = Array.from({ length: 2000 }, (_, i) => (i * 131 + 7) & 0xff);
  const cases = [[0, 0, 0], [0, 9, 0], [3, 2000, 0], [1, 1999, 0xdeadbeef], [17, 1040, 1]];
  const child = await runChild(script, { TXTDB_LOADER: loaderUrl(), TXTDB_NATIVE_CRC_SOFTWARE: "1", TXTDB_CASES: JSON.stringify({ bytes, cases }) }, () => {});
  assert.equal(child.code, 0, child.stderr);
  const u8 = Uint8Array.from(bytes);
  assert.deepEqual(JSON.parse(child.stdout), cases.map(([start, end, seed]) => crc32cJs(u8, start!, end!, seed!)));
});

test("NATIVE-10: bad arguments throw TypeError", async () => {
  await withDescriptors(1, ([a], file) => {
    assert.ok(a);
    const t = a.token;
    const bad = (fn: () => unknown): void => assert.throws(fn, TypeError);
    bad(() => addon().tryLock(t, -1, 1, true));
    bad(() => addon().tryLock(t, 1.5, 1, true));
    bad(() => addon().tryLock(t, 0, 2 ** 53, true));
    bad(() => addon().tryLock(t, 0, Number.NaN, true));
    bad(() => addon().tryLock(t, 0, 1, "yes" as never));
    bad(() => addon().tryLock(-1, 0, 1, true));
    bad(() => addon().testLock(t, 0, 1, undefined as never));
    bad(() => (addon().unlock as (...args: unknown[]) => void)(t, 0));
    bad(() => addon().attach(a.fd, file, "12x", "1"));
    bad(() => addon().attach(a.fd, file, "1", "99999999999999999999999"));
    bad(() => addon().attach(a.fd, 42 as never, "1", "1"));
    bad(() => addon().datasync(t, undefined as never));
    bad(() => addon().syncDir("", () => {}));
    bad(() => addon().lockWait(t, 0, 1, true, "cb" as never));
    bad(() => addon().cancelWait("1" as never));
    assert.equal(addon().cancelWait(0), false, "unknown wait id");
  });
});

test("NATIVE-6: a pending wait keeps the process alive until it is granted", async () => {
  await withDescriptors(1, async ([a], file) => {
    assert.ok(a);
    assert.equal(addon().tryLock(a.token, 0, 1, true), true);
    const script = path.join(tmp, "child-wait.mjs");
    fs.writeFileSync(script, CHILD_WAIT_SCRIPT);
    let unlockedAt = 0;
    const child = await runChild(script, { TXTDB_LOADER: loaderUrl(), TXTDB_FILE: file }, (out) => {
      if (!out.includes("waiting") || unlockedAt !== 0) return;
      unlockedAt = -1;
      setTimeout(() => {
        unlockedAt = performance.now();
        addon().unlock(a.token, 0, 1);
      }, 300);
    });
    const detail = `stdout=${JSON.stringify(child.stdout)} stderr=${child.stderr}`;
    assert.equal(child.stdout, "waiting\ngranted\n", detail);
    assert.equal(child.code, 0, detail);
    assert.ok(unlockedAt > 0, "the child never waited");
  });
});

/** Starts `source` as a worker thread on `file`; resolves with its first message. */
async function startWorker(name: string, source: string, file: string): Promise<{ worker: import("node:worker_threads").Worker; message: unknown }> {
  const { Worker } = await import("node:worker_threads");
  const script = path.join(tmp, name);
  fs.writeFileSync(script, source);
  const worker = new Worker(script, { workerData: { loader: loaderUrl(), file } });
  const message = await within(10_000, "the worker", new Promise<unknown>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  }));
  return { worker, message };
}

test("NATIVE-11, NATIVE-14: terminating a worker in the middle of its syncs joins its sync threads and does not crash", async () => {
  await withDescriptors(1, async (_, file) => {
    const before = syncThreads() ?? 0;
    const { worker, message } = await startWorker("worker-sync.mjs", WORKER_SYNC_SCRIPT, file);
    assert.equal(message, "syncing");
    await sleep(20);
    await worker.terminate();
    assert.ok(await eventually(() => (syncThreads() ?? 0) === before, 2000), "teardown did not join the worker's sync threads");
    // This environment's syncs still work.
    await withDescriptors(1, async ([a]) => {
      assert.ok(a);
      assert.equal(await within(5000, "datasync", datasync(a.token)), null);
    });
  });
});

test("NATIVE-11: terminating a worker with a pending wait cancels it and does not crash", async () => {
  await withDescriptors(2, async ([a, c], file) => {
    assert.ok(a && c);
    assert.equal(addon().tryLock(a.token, 0, 1, true), true);
    const { worker, message } = await startWorker("worker-wait.mjs", WORKER_WAIT_SCRIPT, file);
    assert.equal(message, "waiting");
    await sleep(20);
    assert.equal(waiterThreads() ?? 1, 1, "the worker's wait has its thread");
    await worker.terminate();
    // Node and Deno close a dead worker's descriptors (which would drop the
    // lock anyway), Bun does not: the thread count is what tells in all three.
    // Deno finishes the teardown a few ms after terminate() resolves. The lock
    // is still held here, so only a cancel can end the waiter thread.
    assert.ok(await eventually(() => (waiterThreads() ?? 0) === 0, 2000), "teardown did not stop the waiter");
    addon().unlock(a.token, 0, 1);
    await sleep(50);
    assert.equal(addon().tryLock(c.token, 0, 1, true), true, "the dead worker's wait took the lock");
  });
});

test("cleanup: remove the temporary directory", () => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

// A child process with the addon's crc32c forced to its software path.
const CHILD_CRC_SCRIPT = `
const { loadNative } = await import(process.env.TXTDB_LOADER);
const { addon, error } = loadNative();
if (error) throw error;
const { bytes, cases } = JSON.parse(process.env.TXTDB_CASES);
const u8 = Uint8Array.from(bytes);
console.log(JSON.stringify(cases.map(([start, end, seed]) => addon.crc32c(u8, start, end, seed))));
`;

// The start of a child script: the addon, and a token for TXTDB_FILE.
const CHILD_ATTACH = `
import fs from "node:fs";
const { loadNative } = await import(process.env.TXTDB_LOADER);
const { addon, error } = loadNative();
if (error) throw error;
const file = process.env.TXTDB_FILE;
const fd = fs.openSync(file, "r+");
const st = fs.fstatSync(fd, { bigint: true });
const token = addon.attach(fd, file, String(st.dev), String(st.ino));
`;

// A child that queues a sync and does nothing else: it must stay alive to
// print the result, then exit with nothing pending (the runChild timeout
// fails the test if the idle sync service kept it alive).
const CHILD_SYNC_SCRIPT = `${CHILD_ATTACH}addon.datasync(token, (err) => {
  console.log("synced " + (err ? err.code : "null"));
  addon.datasync(token, (err2) => console.log("synced again " + (err2 ? err2.code : "null")));
});
console.log("queued");
`;

// A child process: waits for a lock the parent holds and prints when it gets
// it. Nothing but the pending wait keeps its event loop alive.
const CHILD_WAIT_SCRIPT = `${CHILD_ATTACH}if (addon.tryLock(token, 0, 1, true)) throw new Error("the parent should hold the lock");
addon.lockWait(token, 0, 1, true, (err) => console.log(err ? "error " + err.code : "granted"));
console.log("waiting");
`;

// A child process whose waiter sleeps 20 ms before entering fcntl() (fault
// injection on). Each cancel comes 5 ms in, so its first signal lands in that
// sleep and is lost. "blocked": the lock is held elsewhere (until 1 s, so a
// lost cancel still ends, but late). "free": the waiter gets the lock right
// after the cancel and must give it back.
const CHILD_RACE_SCRIPT = `
import fs from "node:fs";
const { loadNative } = await import(process.env.TXTDB_LOADER);
const { addon, error } = loadNative();
if (error) throw error;
const file = process.env.TXTDB_FILE;
const st = fs.statSync(file, { bigint: true });
const open = () => addon.attach(fs.openSync(file, "r+"), file, String(st.dev), String(st.ino));
const [a, b, c] = [open(), open(), open()];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function cancelEarly() {
  let resolve;
  const settled = new Promise((r) => (resolve = r));
  const id = addon.lockWait(b, 0, 1, true, (err) => resolve(err ? err.code : null));
  await sleep(5);
  const start = performance.now();
  const cancelled = addon.cancelWait(id);
  const code = await settled;
  return { cancelled, code, latencyMs: Math.round(performance.now() - start) };
}
if (!addon.tryLock(a, 0, 1, true)) throw new Error("tryLock failed");
const release = setTimeout(() => addon.unlock(a, 0, 1), 1000);
const blocked = await cancelEarly();
clearTimeout(release);
addon.unlock(a, 0, 1);
const free = await cancelEarly();
const lockLeft = !addon.tryLock(c, 0, 1, true);
console.log(JSON.stringify({ blocked, free, lockLeft }));
`;

// The start of a worker script: the addon, and a token for workerData.file.
const WORKER_ATTACH = `
import fs from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
const { loadNative } = await import(workerData.loader);
const { addon, error } = loadNative();
if (error) throw error;
const fd = fs.openSync(workerData.file, "r+");
const st = fs.fstatSync(fd, { bigint: true });
const token = addon.attach(fd, workerData.file, String(st.dev), String(st.ino));
`;

// A worker that keeps four syncs in flight until it is terminated.
const WORKER_SYNC_SCRIPT = `${WORKER_ATTACH}const again = () => addon.datasync(token, again);
for (let i = 0; i < 4; i++) again();
parentPort.postMessage("syncing");
`;

// A worker thread: starts a wait that can only end when the parent unlocks.
const WORKER_WAIT_SCRIPT = `${WORKER_ATTACH}addon.lockWait(token, 0, 1, true, (err) => parentPort.postMessage(err ? err.code : "granted"));
parentPort.postMessage("waiting");
`;
