import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { nativeIO } from "../src/io/native_io.ts";
import { loadNative } from "../src/io/_native.ts";
import { fileIOConformance, rejectsWithCode } from "./file_io_conformance.ts";
import { runtime, startHelper, type Child, type Runtime } from "./_helpers/runtime.ts";

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-io-"));
  tempDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

test("the native addon loads from prebuilds/ in this runtime", () => {
  const loaded = loadNative();
  assert.equal(loaded.error, null, loaded.error?.message);
  assert.equal(nativeIO().name, "native");
  assert.equal(nativeIO().lockScope, "os");
});

fileIOConformance("nativeIO", async () => {
  const dir = tempDir();
  return { io: nativeIO({ withoutAddon: "error" }), dir, cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});

fileIOConformance("nativeIO single-process mode", async () => {
  const dir = tempDir();
  return { io: nativeIO({ singleProcess: true }), dir, cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});

const children: Child[] = [];
function helper(rt: Runtime, args: string[]): Child {
  const child = startHelper(rt, "lock_holder", args);
  children.push(child);
  return child;
}
after(() => {
  for (const c of children) c.kill();
});

describe("locks across real processes", () => {
  test("lock() waits for a child's lock and gets it within 100 ms of the child being SIGKILLed", async () => {
    const file = path.join(tempDir(), "lock");
    const holder = helper(runtime, [file, "0", "1", "exclusive", "hold"]);
    await holder.line(/^locked$/);
    const f = await nativeIO().open(file);
    assert.equal(f.tryLock(0, 1, "exclusive"), false);
    assert.equal(f.testLock(0, 1, "shared"), "exclusive");
    let grantedAt = 0;
    const waiting = f.lock(0, 1, "exclusive").then(() => (grantedAt = performance.now()));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    await new Promise((r) => setTimeout(r, 150));
    clearInterval(timer);
    assert.equal(grantedAt, 0, "still waiting while the child lives");
    assert.ok(ticks >= 10, `the event loop kept ticking (${ticks} ticks)`);
    const killedAt = performance.now();
    holder.kill("SIGKILL");
    await waiting;
    const ms = grantedAt - killedAt;
    assert.ok(ms < 100, `granted ${ms.toFixed(1)} ms after SIGKILL`);
    await f.close();
  });

  test("a shared lock in another process admits shared locks and refuses exclusive ones", async () => {
    const file = path.join(tempDir(), "lock");
    const holder = helper(runtime, [file, "8", "4", "shared", "hold"]);
    await holder.line(/^locked$/);
    const f = await nativeIO().open(file);
    assert.equal(f.tryLock(8, 4, "shared"), true);
    assert.equal(f.tryLock(10, 1, "exclusive"), false);
    assert.equal(f.tryLock(12, 1, "exclusive"), true, "past the held range");
    await f.close();
    holder.kill();
  });

  test("a lock held in this process is seen by a child process, and released to it on unlock", async () => {
    const file = path.join(tempDir(), "lock");
    const f = await nativeIO().open(file, { create: true });
    assert.equal(f.tryLock(0, 0, "exclusive"), true);
    const probe = helper(runtime, [file, "5", "1", "shared", "try"]);
    assert.equal(await probe.line(/^(granted|busy)$/), "busy");
    const waiter = helper(runtime, [file, "5", "1", "exclusive", "wait"]);
    await new Promise((r) => setTimeout(r, 300));
    f.unlock(0, 0);
    await waiter.line(/^locked$/);
    await f.close();
  });

  test("aborting a wait on another process's lock leaves no lock behind", async () => {
    const file = path.join(tempDir(), "lock");
    const holder = helper(runtime, [file, "0", "1", "exclusive", "hold"]);
    await holder.line(/^locked$/);
    const io = nativeIO();
    const f = await io.open(file);
    const ac = new AbortController();
    const waiting = f.lock(0, 1, "exclusive", { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await rejectsWithCode(waiting, "TXTDB_ABORTED");
    holder.kill();
    await holder.exited;
    const probe = helper(runtime, [file, "0", "1", "exclusive", "try"]);
    assert.equal(await probe.line(/^(granted|busy)$/), "granted", "the aborted waiter holds nothing");
    await f.close();
  });

  const others = (["node", "deno", "bun"] as const).filter((rt) => rt !== runtime);
  for (const other of others) {
    test(`a ${runtime} process and a ${other} process see each other's locks (one lock family)`, { skip: runtime !== "node" && "cross-runtime pairs run in the Node suite" }, async () => {
      const file = path.join(tempDir(), "lock");
      const holder = helper(other, [file, "0", "1", "exclusive", "hold"]);
      await holder.line(/^locked$/);
      const f = await nativeIO().open(file);
      assert.equal(f.tryLock(0, 1, "exclusive"), false, `${runtime} sees the ${other} lock`);
      const waiting = f.lock(0, 1, "exclusive");
      holder.kill();
      await waiting;
      const probe = helper(other, [file, "0", "1", "shared", "try"]);
      assert.equal(await probe.line(/^(granted|busy)$/), "busy", `${other} sees the ${runtime} lock`);
      const waiter = helper(other, [file, "0", "1", "shared", "wait"]);
      await new Promise((r) => setTimeout(r, 200));
      f.unlock(0, 1);
      await waiter.line(/^locked$/);
      await f.close();
    });
  }
});

describe("single-process mode (no native addon)", () => {
  test("claimDirectory() refuses a second process with TXTDB_LOCKED and says why", async () => {
    const dir = tempDir();
    const holder = helper(runtime, [dir, "0", "0", "exclusive", "claim"]);
    await holder.line(/^claimed$/);
    const io = nativeIO({ singleProcess: true });
    assert.equal(io.lockScope, "process");
    const err = await rejectsWithCode(io.claimDirectory!(dir), "TXTDB_LOCKED");
    assert.match(err.message, new RegExp(`process ${holder.process.pid}`));
    assert.match(err.message, /native addon/);
    holder.kill("SIGKILL");
    await holder.exited;
    const claim = await io.claimDirectory!(dir); // the dead holder's claim is stale
    const again = await io.claimDirectory!(dir); // one process may hold several handles
    await again.release();
    const probe = helper(runtime, [dir, "0", "0", "exclusive", "claim"]);
    await assert.rejects(probe.line(/^claimed$/), /exited/);
    await claim.release();
    assert.deepEqual(fs.readdirSync(dir), [], "release removes the claim file");
  });

  test("nativeIO() without the addon says so: name and lockScope", () => {
    const io = nativeIO({ singleProcess: true });
    assert.equal(io.name, "native-single-process");
    assert.equal(io.lockScope, "process");
    assert.equal(nativeIO().claimDirectory, undefined, "real locks need no claim file");
  });
});

describe("nativeIO durability calls", () => {
  test("datasync() and syncDir() reach the disk without error, and errors map to TxtDbError", async () => {
    const dir = tempDir();
    const io = nativeIO();
    const f = await io.open(path.join(dir, "f"), { create: true });
    await f.append(new Uint8Array(4096).fill(7));
    await f.datasync();
    await io.syncDir(dir);
    await f.close();
    await rejectsWithCode(io.syncDir(path.join(dir, "missing")), "TXTDB_NOT_FOUND");
  });

  test("NIO-5: readFile() reads small and large files whole, a file whose size says nothing to its end, and rejects a directory", async () => {
    const dir = tempDir();
    const io = nativeIO();
    const small = new Uint8Array(100).fill(1);
    const large = Uint8Array.from({ length: (1 << 20) + 4099 }, (_, i) => i % 251); // past the inline read and the inline close
    fs.writeFileSync(path.join(dir, "small"), small);
    fs.writeFileSync(path.join(dir, "large"), large);
    fs.writeFileSync(path.join(dir, "empty"), "");
    assert.deepEqual(await io.readFile(path.join(dir, "small")), small);
    assert.deepEqual(await io.readFile(path.join(dir, "large")), large);
    assert.equal((await io.readFile(path.join(dir, "empty"))).length, 0);
    await rejectsWithCode(io.readFile(dir), "TXTDB_IO");
    if (process.platform === "linux") {
      // st_size 0, content on read: not a regular file's size to trust.
      assert.ok((await io.readFile("/proc/self/status")).length > 0);
    }
  });

  test("NIO-5: readFile() asked for inline reads a page-sized file on the calling thread, and one past inlineAskedBytesMax off it", async (t) => {
    const dir = tempDir();
    const io = nativeIO();
    const page = Uint8Array.from({ length: (64 << 10) + 17 }, (_, i) => i % 251); // past the plain inline read
    const big = Uint8Array.from({ length: (256 << 10) + 17 }, (_, i) => i % 253); // past inlineAskedBytesMax
    fs.writeFileSync(path.join(dir, "page"), page);
    fs.writeFileSync(path.join(dir, "big"), big);
    // A read handed to the worker pool is an FSReqCallback until it settles; an inline one has settled before readFile() returns.
    const inPool = (): number => process.getActiveResourcesInfo().filter((r) => r === "FSReqCallback").length;
    const offThread = io.readFile(path.join(dir, "page"));
    const observable = inPool() > 0;
    assert.deepEqual(await offThread, page);
    if (!observable) return t.skip("this runtime does not report the worker pool's requests (the read above still checked the bytes)");
    await new Promise((resolve) => setImmediate(resolve)); // the settled request stays listed until its callback has returned
    assert.equal(inPool(), 0);
    const inline = io.readFile(path.join(dir, "page"), { inline: true });
    assert.equal(inPool(), 0);
    assert.deepEqual(await inline, page);
    const tooBig = io.readFile(path.join(dir, "big"), { inline: true });
    assert.ok(inPool() > 0);
    assert.deepEqual(await tooBig, big);
  });

  test("NIO-6: a handle's mapping of its file keeps none of its locks past close()", async () => {
    const dir = tempDir();
    const io = nativeIO({ withoutAddon: "error" });
    const file = path.join(dir, "lock");
    const a = await io.open(file, { create: true });
    assert.ok(a.tryLock(1024, 1, "exclusive"));
    const shared = a.mapShared?.(4096) ?? null;
    assert.ok(shared !== null, "the addon maps the file");
    new BigInt64Array(shared, 0, 1)[0] = 7n;
    const b = await io.open(file);
    assert.notEqual(b.testLock(1024, 1, "exclusive"), null, "held while a is open");
    await a.close();
    assert.equal(b.testLock(0, 2 ** 40, "exclusive"), null, "gone at close, though the mapping lives on");
    assert.ok(b.tryLock(1024, 1, "exclusive"));
    assert.equal(new BigInt64Array(b.mapShared!(4096)!, 0, 1)[0], 7n, "the same bytes");
    await b.close();
  });

  test("open() of a directory rejects with TXTDB_IO", async () => {
    const dir = tempDir();
    const err = await rejectsWithCode(nativeIO().open(dir), "TXTDB_IO");
    assert.equal(err.file, dir);
  });
});
