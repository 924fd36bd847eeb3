import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MemoryIO, memoryIO } from "../src/io/memory_io.ts";
import { fileIOConformance, rejectsWithCode } from "./file_io_conformance.ts";

fileIOConformance("memoryIO", async () => {
  const io = memoryIO();
  await io.mkdir("/db");
  return { io, dir: "/db", cleanup: async () => {} };
});

const enc = new TextEncoder();
const dec = new TextDecoder();

async function writeFile(io: MemoryIO, path: string, content: string, sync: boolean): Promise<void> {
  const f = await io.open(path, { create: true });
  await f.write(0, enc.encode(content));
  if (sync) await f.datasync();
  await f.close();
}

async function read(io: MemoryIO, path: string): Promise<string | undefined> {
  if ((await io.stat(path)) === undefined) return undefined;
  return dec.decode(await io.readFile(path));
}

describe("memoryIO().crash()", () => {
  test("keeps datasync'd bytes and drops bytes written after the last datasync (MEM-1)", async () => {
    const io = memoryIO();
    const f = await io.open("/log", { create: true });
    await f.append(enc.encode("one\n"));
    await f.datasync();
    await f.append(enc.encode("two\n"));
    await f.write(0, enc.encode("ONE"));
    await io.syncDir("/");
    const after = io.crash();
    assert.equal(await read(after, "/log"), "one\n");
    assert.equal(await read(io, "/log"), "ONE\ntwo\n", "the original is untouched");
  });

  test("MEM-7: mapShared() gives every handle of a file one buffer, grows the file to its length, and a crash image starts without it", async () => {
    const io = memoryIO();
    const a = await io.open("/lock", { create: true });
    const b = await io.open("/lock");
    const ma = new BigInt64Array(a.mapShared!(4096)!, 0, 1);
    const mb = new BigInt64Array(b.mapShared!(4096)!, 0, 1);
    Atomics.add(ma, 0, 5n);
    assert.equal(Atomics.load(mb, 0), 5n, "a store through one handle's mapping is seen through the other's");
    assert.equal(await a.size(), 4096);
    await a.close();
    const c = await io.open("/lock");
    assert.equal(new BigInt64Array(c.mapShared!(4096)!, 0, 1)[0], 5n, "the mapping outlives a closed handle, as the page cache does");
    await c.datasync();
    await io.syncDir("/");
    const after = io.crash();
    const d = await after.open("/lock");
    assert.equal(new BigInt64Array(d.mapShared!(4096)!, 0, 1)[0], 0n, "every process that mapped it died in the crash");
    await Promise.all([b.close(), c.close(), d.close()]);
    const unmapped = memoryIO({ mapShared: false });
    const e = await unmapped.open("/lock", { create: true });
    assert.equal(e.mapShared!(4096), null, "memoryIO({ mapShared: false }) shares no memory");
    const f = await unmapped.crash().open("/lock", { create: true });
    assert.equal(f.mapShared!(4096), null, "nor do its crash images");
    await Promise.all([e.close(), f.close()]);
  });

  test("a file whose directory entry was never synced vanishes, even if its data was (MEM-2)", async () => {
    const io = memoryIO();
    await writeFile(io, "/synced", "a", true);
    await io.syncDir("/");
    await writeFile(io, "/unsynced-entry", "b", true);
    const after = io.crash();
    assert.equal(await read(after, "/synced"), "a");
    assert.equal(await after.stat("/unsynced-entry"), undefined);
  });

  test("a rename without syncDir is undone; with syncDir it is kept (MEM-2)", async () => {
    const io = memoryIO();
    await writeFile(io, "/manifest", "v1", true);
    await io.syncDir("/");
    await writeFile(io, "/manifest.tmp", "v2", true);
    await io.rename("/manifest.tmp", "/manifest");
    assert.equal(await read(io.crash(), "/manifest"), "v1");
    await io.syncDir("/");
    const after = io.crash();
    assert.equal(await read(after, "/manifest"), "v2");
    assert.equal(await after.stat("/manifest.tmp"), undefined);
  });

  test("a directory must be linked durably in its parent, and its entries synced", async () => {
    const io = memoryIO();
    await io.mkdir("/a/b");
    await writeFile(io, "/a/b/f", "x", true);
    await io.syncDir("/a/b");
    assert.equal(await io.crash().stat("/a"), undefined, "/a was never synced into /");
    await io.syncDir("/");
    assert.equal(await io.crash().stat("/a/b"), undefined, "/a/b was never synced into /a");
    await io.syncDir("/a");
    assert.equal(await read(io.crash(), "/a/b/f"), "x");
  });

  test("an unlink without syncDir is undone", async () => {
    const io = memoryIO();
    await writeFile(io, "/f", "keep", true);
    await io.syncDir("/");
    await io.unlink("/f");
    assert.equal(await read(io.crash(), "/f"), "keep");
  });

  test("truncate is durable only after datasync", async () => {
    const io = memoryIO();
    await writeFile(io, "/f", "abcdef", true);
    await io.syncDir("/");
    const f = await io.open("/f");
    await f.truncate(2);
    assert.equal(await read(io.crash(), "/f"), "abcdef");
    await f.datasync();
    assert.equal(await read(io.crash(), "/f"), "ab");
  });

  test("crash() can be called many times; images are independent and the original stays usable (MEM-3)", async () => {
    const io = memoryIO();
    await writeFile(io, "/f", "base", true);
    await io.syncDir("/");
    const a = io.crash();
    const b = io.crash();
    await writeFile(a, "/f", "AAAA", true);
    assert.equal(await read(b, "/f"), "base");
    assert.equal(await read(io, "/f"), "base");
    await writeFile(io, "/g", "more", true);
    await io.syncDir("/");
    assert.equal(await read(io.crash(), "/g"), "more");
    assert.equal(await a.stat("/g"), undefined);
    const again = a.crash();
    assert.equal(await read(again, "/f"), "AAAA");
  });

  test("a crash releases every lock and closes every handle", async () => {
    const io = memoryIO();
    const f = await io.open("/lock", { create: true });
    await io.syncDir("/");
    assert.equal(f.tryLock(0, 1, "exclusive"), true);
    const after = io.crash();
    const g = await after.open("/lock");
    assert.equal(g.tryLock(0, 1, "exclusive"), true);
  });

  test("mode \"prefix\" keeps a seeded random prefix of unsynced appended bytes (MEM-4)", async () => {
    const io = memoryIO();
    const f = await io.open("/log", { create: true });
    await f.append(enc.encode("durable|"));
    await f.datasync();
    await io.syncDir("/");
    await f.append(enc.encode("0123456789".repeat(10)));
    const lengths = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const content = (await read(io.crash({ mode: "prefix", seed }), "/log"))!;
      assert.ok(content.startsWith("durable|"));
      assert.ok(("durable|" + "0123456789".repeat(10)).startsWith(content), "a prefix of what was written");
      lengths.add(content.length);
      assert.equal(await read(io.crash({ mode: "prefix", seed }), "/log"), content, "the same seed replays");
    }
    assert.ok(lengths.size > 10, `prefixes vary with the seed (${lengths.size} lengths)`);
  });

  test("mode \"torn\" tears unsynced writes at 512-byte sectors, never synced ones (MEM-4)", async () => {
    const io = memoryIO();
    const f = await io.open("/page", { create: true });
    await f.write(0, new Uint8Array(2048).fill(1));
    await f.datasync();
    await io.syncDir("/");
    await f.write(0, new Uint8Array(4096).fill(2));
    const seen = new Set<string>();
    for (let seed = 1; seed <= 60; seed++) {
      const image = await io.crash({ mode: "torn", seed }).readFile("/page");
      assert.ok(image.length >= 2048 && image.length <= 4096);
      for (let s = 0; s < image.length; s += 512) {
        const sector = image.subarray(s, s + 512);
        const v = sector[0]!;
        assert.ok(sector.every((x) => x === v), "a sector is never split");
        assert.ok(s < 2048 ? v === 1 || v === 2 : v === 0 || v === 2, `sector ${s} holds old or new bytes, got ${v}`);
        seen.add(`${s}:${v}`);
      }
    }
    assert.ok(seen.has("0:1") && seen.has("0:2") && seen.has("2048:0") && seen.has("2048:2"), "both outcomes occur");
  });

  test("injectFault fails the n-th datasync with EIO, as TXTDB_IO with the OS code in cause (MEM-6)", async () => {
    const io = memoryIO();
    io.injectFault({ op: "datasync", code: "EIO", skip: 2 });
    const f = await io.open("/log", { create: true });
    await f.datasync();
    await f.datasync();
    const err = await rejectsWithCode(f.datasync(), "TXTDB_IO");
    assert.equal((err.cause as { code?: string }).code, "EIO");
    assert.equal(err.file, "/log");
    await f.datasync(); // times: 1 — the next one succeeds
  });

  test("after a failed datasync, the dirty bytes are lost even though a later datasync succeeds (MEM-5)", async () => {
    const io = memoryIO();
    const f = await io.open("/log", { create: true });
    await f.append(enc.encode("acked\n"));
    await f.datasync();
    await io.syncDir("/");
    await f.append(enc.encode("dirty\n"));
    io.injectFault({ op: "datasync", code: "EIO" });
    await rejectsWithCode(f.datasync(), "TXTDB_IO");
    await f.append(enc.encode("later\n"));
    await f.datasync(); // "succeeds", as Linux's does after dropping the dirty pages
    assert.equal(await read(io, "/log"), "acked\ndirty\nlater\n", "reads still see the lost bytes");
    assert.equal(await read(io.crash(), "/log"), "acked\n\0\0\0\0\0\0later\n", "the crash image does not");
  });

  test("an ENOSPC write fault can leave a short write (MEM-6)", async () => {
    const io = memoryIO();
    const f = await io.open("/log", { create: true });
    io.injectFault({ op: "append", code: "ENOSPC", partialBytes: 3, path: "/log" });
    const err = await rejectsWithCode(f.append(enc.encode("abcdef")), "TXTDB_IO");
    assert.equal((err.cause as { code?: string }).code, "ENOSPC");
    assert.match(err.message, /disk is full/);
    assert.equal(await read(io, "/log"), "abc");
  });

  test("a fault can target one path and fail several calls", async () => {
    const io = memoryIO();
    io.injectFault({ op: "open", code: "EACCES", path: /secret/, times: 2 });
    await (await io.open("/public", { create: true })).close();
    await rejectsWithCode(io.open("/secret", { create: true }), "TXTDB_IO");
    await rejectsWithCode(io.open("/secret", { create: true }), "TXTDB_IO");
    await (await io.open("/secret", { create: true })).close();
    io.injectFault({ op: "rename", code: "EIO" });
    io.clearFaults();
    await io.rename("/secret", "/s2");
  });

  test("counters count datasyncs and syncDirs", async () => {
    const io = memoryIO();
    const f = await io.open("/f", { create: true });
    await f.datasync();
    await f.datasync();
    await io.syncDir("/");
    assert.equal(io.counters.datasyncs, 2);
    assert.equal(io.counters.syncDirs, 1);
  });
});
