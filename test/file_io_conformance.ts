/**
 * One FileIO conformance suite (IO-1…IO-8 in src/io/file_io.ts), run against
 * every adapter: test/memory_io.test.ts and test/native_io.test.ts call
 * `fileIOConformance()`. It runs in Node, Deno and Bun.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { TxtDbError } from "../src/errors.ts";
import type { FileIO } from "../src/io/file_io.ts";
import { joinPath } from "../src/io/path.ts";

export interface Fixture {
  io: FileIO;
  /** An empty directory for the test. */
  dir: string;
  cleanup(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string): Uint8Array => enc.encode(s);
const text = (b: Uint8Array): string => dec.decode(b);

export async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<TxtDbError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TxtDbError, `expected a TxtDbError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected a rejection with ${code}`);
}

export function fileIOConformance(adapter: string, setup: () => Promise<Fixture>): void {
  const withFixture = (name: string, body: (f: Fixture) => Promise<void>): void => {
    test(name, async () => {
      const f = await setup();
      try {
        await body(f);
      } finally {
        await f.cleanup();
      }
    });
  };

  describe(`FileIO conformance: ${adapter}`, () => {
    withFixture("open() without create rejects a missing file with TXTDB_NOT_FOUND (IO-8)", async ({ io, dir }) => {
      const err = await rejectsWithCode(io.open(joinPath(dir, "missing")), "TXTDB_NOT_FOUND");
      assert.equal(err.file, joinPath(dir, "missing"));
      assert.equal((err.cause as { code?: string }).code, "ENOENT");
    });

    withFixture("open() with create+exclusive rejects an existing file with TXTDB_EXISTS", async ({ io, dir }) => {
      const p = joinPath(dir, "f");
      await (await io.open(p, { create: true })).close();
      await rejectsWithCode(io.open(p, { create: true, exclusive: true }), "TXTDB_EXISTS");
      await (await io.open(p, { create: true })).close(); // create alone opens it
    });

    withFixture("write() and read() are positional; read() is short only at end of file", async ({ io, dir }) => {
      const f = await io.open(joinPath(dir, "f"), { create: true });
      await f.write(0, bytes("hello world"));
      await f.write(6, bytes("WORLD"));
      assert.equal(text(await f.read(0, 11)), "hello WORLD");
      assert.equal(text(await f.read(6, 100)), "WORLD");
      assert.equal((await f.read(50, 10)).length, 0);
      await f.write(13, bytes("!"));
      assert.deepEqual([...(await f.read(11, 3))], [0, 0, 33], "a gap reads as zeros");
      assert.equal(await f.size(), 14);
      await f.close();
    });

    withFixture("IO-1: write() and append() do not use their bytes once settled: the caller may reuse the buffer", async ({ io, dir }) => {
      const f = await io.open(joinPath(dir, "f"), { create: true });
      for (const size of [16, 200 << 10]) { // on the calling thread, and off it
        const data = new Uint8Array(size).fill(0x61);
        await f.write(0, data);
        const at = await f.append(data);
        data.fill(0x62);
        assert.deepEqual(await f.read(0, size), new Uint8Array(size).fill(0x61));
        assert.deepEqual(await f.read(at, size), new Uint8Array(size).fill(0x61));
        await f.truncate(0);
      }
      await f.close();
    });

    withFixture("append() writes at the end and returns the offset", async ({ io, dir }) => {
      const f = await io.open(joinPath(dir, "log"), { create: true });
      assert.equal(await f.append(bytes("one\n")), 0);
      assert.equal(await f.append(bytes("two\n")), 4);
      const g = await io.open(joinPath(dir, "log"));
      assert.equal(await g.append(bytes("three\n")), 8, "another handle appends after the first one's bytes");
      assert.equal(text(await f.readAll()), "one\ntwo\nthree\n");
      await f.close();
      await g.close();
    });

    withFixture("truncate() cuts and extends with zeros", async ({ io, dir }) => {
      const f = await io.open(joinPath(dir, "f"), { create: true });
      await f.write(0, bytes("abcdef"));
      await f.truncate(3);
      assert.equal(text(await f.readAll()), "abc");
      await f.truncate(5);
      assert.deepEqual([...(await f.readAll())], [97, 98, 99, 0, 0]);
      await f.close();
    });

    withFixture("datasync() resolves on a written file", async ({ io, dir }) => {
      const f = await io.open(joinPath(dir, "f"), { create: true });
      await f.append(bytes("x"));
      await f.datasync();
      await f.close();
      await io.syncDir(dir);
    });

    withFixture("datasync({ blocking: true }) resolves on a written file, and fails on a closed one as datasync() does", async ({ io, dir }) => {
      const f = await io.open(joinPath(dir, "f"), { create: true });
      await f.append(bytes("xy"));
      await f.datasync({ blocking: true });
      assert.deepEqual([...(await f.readAll())], [120, 121]);
      await f.close();
      await rejectsWithCode(f.datasync({ blocking: true }), "TXTDB_CLOSED");
    });

    withFixture("a read-only handle refuses writes and exclusive locks", async ({ io, dir }) => {
      await (await io.open(joinPath(dir, "f"), { create: true })).close();
      const f = await io.open(joinPath(dir, "f"), { readOnly: true });
      await rejectsWithCode(f.write(0, bytes("x")), "TXTDB_IO");
      assert.throws(() => f.tryLock(0, 1, "exclusive"), (err: unknown) => err instanceof TxtDbError && err.code === "TXTDB_IO");
      assert.equal(f.tryLock(0, 1, "shared"), true);
      await f.close();
    });

    withFixture("every operation on a closed handle rejects with TXTDB_CLOSED; close() is idempotent", async ({ io, dir }) => {
      const f = await io.open(joinPath(dir, "f"), { create: true });
      await f.close();
      await f.close();
      await rejectsWithCode(f.read(0, 1), "TXTDB_CLOSED");
      await rejectsWithCode(f.write(0, bytes("x")), "TXTDB_CLOSED");
      await rejectsWithCode(f.append(bytes("x")), "TXTDB_CLOSED");
      await rejectsWithCode(f.datasync(), "TXTDB_CLOSED");
      await rejectsWithCode(f.size(), "TXTDB_CLOSED");
      assert.throws(() => f.tryLock(0, 1, "shared"), (err: unknown) => err instanceof TxtDbError && err.code === "TXTDB_CLOSED");
    });

    withFixture("readFile() returns the content; missing files reject with TXTDB_NOT_FOUND", async ({ io, dir }) => {
      const f = await io.open(joinPath(dir, "f"), { create: true });
      await f.write(0, bytes("content"));
      await f.close();
      assert.equal(text(await io.readFile(joinPath(dir, "f"))), "content");
      await rejectsWithCode(io.readFile(joinPath(dir, "nope")), "TXTDB_NOT_FOUND");
    });

    withFixture("rename() replaces the target atomically (IO-4)", async ({ io, dir }) => {
      for (const [name, content] of [["a", "new"], ["b", "old"]] as const) {
        const f = await io.open(joinPath(dir, name), { create: true });
        await f.write(0, bytes(content));
        await f.close();
      }
      await io.rename(joinPath(dir, "a"), joinPath(dir, "b"));
      assert.equal(text(await io.readFile(joinPath(dir, "b"))), "new");
      assert.equal(await io.stat(joinPath(dir, "a")), undefined);
      await rejectsWithCode(io.rename(joinPath(dir, "a"), joinPath(dir, "c")), "TXTDB_NOT_FOUND");
    });

    withFixture("mkdir() is recursive and idempotent; readdir() is sorted; rmdir() and unlink() remove", async ({ io, dir }) => {
      await io.mkdir(joinPath(dir, "ns", "deep"));
      await io.mkdir(joinPath(dir, "ns", "deep"));
      for (const name of ["b", "a", "C"]) await (await io.open(joinPath(dir, "ns", name), { create: true })).close();
      assert.deepEqual(await io.readdir(joinPath(dir, "ns")), ["C", "a", "b", "deep"]);
      assert.deepEqual(await io.stat(joinPath(dir, "ns", "deep")), { size: 0, isDirectory: true });
      assert.deepEqual(await io.stat(joinPath(dir, "ns", "a")), { size: 0, isDirectory: false });
      await rejectsWithCode(io.rmdir(joinPath(dir, "ns")), "TXTDB_IO");
      await io.rmdir(joinPath(dir, "ns", "deep"));
      for (const name of ["a", "b", "C"]) await io.unlink(joinPath(dir, "ns", name));
      await rejectsWithCode(io.unlink(joinPath(dir, "ns", "a")), "TXTDB_NOT_FOUND");
      assert.deepEqual(await io.readdir(joinPath(dir, "ns")), []);
      await rejectsWithCode(io.readdir(joinPath(dir, "none")), "TXTDB_NOT_FOUND");
    });

    withFixture("stat() of a missing path is undefined; of a path under a file, TXTDB_IO (ENOTDIR) in every runtime", async ({ io, dir }) => {
      assert.equal(await io.stat(joinPath(dir, "missing")), undefined);
      assert.equal(await io.stat(joinPath(dir, "missing", "deeper")), undefined);
      await (await io.open(joinPath(dir, "file"), { create: true })).close();
      await rejectsWithCode(io.stat(joinPath(dir, "file", "under")), "TXTDB_IO");
    });

    withFixture("two handles of one file conflict on exclusive locks, even in one process (IO-5)", async ({ io, dir }) => {
      const a = await io.open(joinPath(dir, "lock"), { create: true });
      const b = await io.open(joinPath(dir, "lock"));
      assert.equal(a.tryLock(0, 1, "exclusive"), true);
      assert.equal(b.tryLock(0, 1, "exclusive"), false);
      assert.equal(b.tryLock(0, 1, "shared"), false);
      assert.equal(b.testLock(0, 1, "shared"), "exclusive");
      assert.equal(b.tryLock(1, 1, "exclusive"), true, "a disjoint range is free");
      a.unlock(0, 1);
      assert.equal(b.tryLock(0, 1, "exclusive"), true);
      await a.close();
      await b.close();
    });

    withFixture("shared locks are compatible with each other, not with exclusive (IO-6)", async ({ io, dir }) => {
      const a = await io.open(joinPath(dir, "lock"), { create: true });
      const b = await io.open(joinPath(dir, "lock"));
      const c = await io.open(joinPath(dir, "lock"));
      assert.equal(a.tryLock(10, 5, "shared"), true);
      assert.equal(b.tryLock(12, 5, "shared"), true);
      assert.equal(c.tryLock(14, 1, "exclusive"), false);
      assert.equal(c.testLock(14, 1, "exclusive"), "shared");
      assert.equal(c.testLock(20, 1, "exclusive"), null);
      await a.close();
      await b.close();
      assert.equal(c.tryLock(14, 1, "exclusive"), true);
      await c.close();
    });

    withFixture("a handle converts its own lock's mode and never conflicts with itself (IO-6)", async ({ io, dir }) => {
      const a = await io.open(joinPath(dir, "lock"), { create: true });
      const b = await io.open(joinPath(dir, "lock"));
      assert.equal(a.tryLock(0, 10, "shared"), true);
      assert.equal(a.tryLock(0, 10, "exclusive"), true, "upgrade");
      assert.equal(b.tryLock(5, 1, "shared"), false);
      assert.equal(a.tryLock(0, 10, "shared"), true, "downgrade");
      assert.equal(b.tryLock(5, 1, "shared"), true);
      await a.close();
      await b.close();
    });

    withFixture("unlock() releases only the range given, splitting a larger lock", async ({ io, dir }) => {
      const a = await io.open(joinPath(dir, "lock"), { create: true });
      const b = await io.open(joinPath(dir, "lock"));
      assert.equal(a.tryLock(0, 10, "exclusive"), true);
      a.unlock(4, 2);
      assert.equal(b.tryLock(4, 2, "exclusive"), true);
      assert.equal(b.tryLock(3, 1, "exclusive"), false);
      assert.equal(b.tryLock(6, 1, "exclusive"), false);
      a.unlock(100, 5); // not held: fine
      await a.close();
      await b.close();
    });

    withFixture("a range of length 0 reaches to the end of the file and beyond", async ({ io, dir }) => {
      const a = await io.open(joinPath(dir, "lock"), { create: true });
      const b = await io.open(joinPath(dir, "lock"));
      assert.equal(a.tryLock(100, 0, "exclusive"), true);
      assert.equal(b.tryLock(1_000_000_000, 1, "shared"), false);
      assert.equal(b.tryLock(99, 1, "exclusive"), true);
      await a.close();
      await b.close();
    });

    withFixture("closing a handle releases its locks; closing another handle of the file keeps them (IO-5)", async ({ io, dir }) => {
      const a = await io.open(joinPath(dir, "lock"), { create: true });
      const other = await io.open(joinPath(dir, "lock"));
      const b = await io.open(joinPath(dir, "lock"));
      assert.equal(a.tryLock(0, 1, "exclusive"), true);
      await other.close();
      assert.equal(b.tryLock(0, 1, "exclusive"), false, "the lock survived closing an unrelated handle");
      await a.close();
      assert.equal(b.tryLock(0, 1, "exclusive"), true);
      await b.close();
    });

    withFixture("lock() waits without blocking the event loop and is granted on unlock (IO-7)", async ({ io, dir }) => {
      const a = await io.open(joinPath(dir, "lock"), { create: true });
      const b = await io.open(joinPath(dir, "lock"));
      assert.equal(a.tryLock(0, 1, "exclusive"), true);
      let granted = false;
      const waiting = b.lock(0, 1, "exclusive").then(() => (granted = true));
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      await new Promise((r) => setTimeout(r, 120));
      clearInterval(timer);
      assert.equal(granted, false);
      assert.ok(ticks >= 10, `the event loop ticked ${ticks} times during the wait`);
      a.unlock(0, 1);
      await waiting;
      assert.equal(a.tryLock(0, 1, "shared"), false, "b holds it now");
      await a.close();
      await b.close();
    });

    withFixture("aborting a lock() wait rejects with TXTDB_ABORTED and leaves no lock (IO-7)", async ({ io, dir }) => {
      const a = await io.open(joinPath(dir, "lock"), { create: true });
      const b = await io.open(joinPath(dir, "lock"));
      const c = await io.open(joinPath(dir, "lock"));
      assert.equal(a.tryLock(0, 1, "exclusive"), true);
      const ac = new AbortController();
      const waiting = b.lock(0, 1, "exclusive", { signal: ac.signal });
      await new Promise((r) => setTimeout(r, 20));
      const reason = new Error("stop");
      const t0 = performance.now();
      ac.abort(reason);
      const err = await rejectsWithCode(waiting, "TXTDB_ABORTED");
      assert.ok(performance.now() - t0 < 100, "the abort took effect promptly");
      assert.equal(err.cause, reason);
      a.unlock(0, 1);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(c.tryLock(0, 1, "exclusive"), true, "the cancelled waiter took nothing");
      await rejectsWithCode(b.lock(0, 1, "shared", { signal: AbortSignal.abort() }), "TXTDB_ABORTED");
      await a.close();
      await b.close();
      await c.close();
    });

    withFixture("closing a handle with a pending lock() rejects the wait with TXTDB_CLOSED", async ({ io, dir }) => {
      const a = await io.open(joinPath(dir, "lock"), { create: true });
      const b = await io.open(joinPath(dir, "lock"));
      assert.equal(a.tryLock(0, 1, "exclusive"), true);
      const waiting = b.lock(0, 1, "exclusive");
      const assertion = rejectsWithCode(waiting, "TXTDB_CLOSED");
      await new Promise((r) => setTimeout(r, 10));
      await b.close();
      await assertion;
      await a.close();
    });
  });
}
