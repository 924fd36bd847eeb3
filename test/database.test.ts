/**
 * Tests of src/engine/database.ts through the public API: open / close,
 * the single-operation shortcuts, namespaces, stats, checkpoints and page
 * files, formats, check() and edited pages (contract 16, 17), durability.
 * Each test runs on memoryIO() and on a real temporary directory
 * (nativeIO()) unless it needs memoryIO's counters.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  type TxtDbWarning,
  joinPath, memoryIO, nativeIO, open, TxtDbError, type Database, type DatabaseOptions, type FileIO, type Key, type MemoryIO,
} from "../src/mod.ts";
import { codeOf, collect, errorOf } from "./_helpers/expect.ts";
import { jsonPageFormat } from "../src/codec/page_format_json.ts";
import { encodedKeyFromJson, encodeKey, keyToJson } from "../src/codec/key.ts";
import { encodeValue } from "../src/codec/value.ts";
import { Page, pageOfJson, pointValue } from "../src/engine/pages.ts";

// ---------------------------------------------------------------------------
// Helpers

type Kind = "memory" | "native";

interface Env {
  kind: Kind;
  io: FileIO;
  /** The database directory (not created yet). */
  dir: string;
  /** The MemoryIO, for counters and crash images; null on nativeIO. */
  mem: MemoryIO | null;
  open(options?: Omit<DatabaseOptions, "io">): Promise<Database>;
  cleanup(): void;
}

function makeEnv(kind: Kind): Env {
  if (kind === "memory") {
    const mem = memoryIO();
    return { kind, io: mem, dir: "/db", mem, open: (o = {}) => open("/db", { ...o, io: mem }), cleanup: () => {} };
  }
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-database-"));
  const dir = path.join(base, "db");
  const io = nativeIO();
  return { kind, io, dir, mem: null, open: (o = {}) => open(dir, { ...o, io }), cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
}

/** Registers one test per kind of FileIO. */
function both(name: string, fn: (env: Env) => Promise<void>): void {
  for (const kind of ["memory", "native"] as const) {
    test(`${name} [${kind}IO]`, async () => {
      const env = makeEnv(kind);
      try {
        await fn(env);
      } finally {
        env.cleanup();
      }
    });
  }
}

function memoryOnly(name: string, fn: (env: Env & { mem: MemoryIO }) => Promise<void>): void {
  test(`${name} [memoryIO]`, async () => {
    const env = makeEnv("memory");
    await fn(env as Env & { mem: MemoryIO });
  });
}

/** Every namespace and its rows, in order. */
async function dump(db: Database): Promise<Array<[string, Array<[Key, unknown]>]>> {
  const tx = await db.begin({ readOnly: true });
  try {
    const out: Array<[string, Array<[Key, unknown]>]> = [];
    for (const ns of await db.namespaces()) out.push([ns, await collect(tx.scan(ns))]);
    return out;
  } finally {
    await tx.rollback();
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Page files of a namespace folder: name → bytes, read through the FileIO. */
async function pageFiles(io: FileIO, dir: string, folder: string): Promise<Map<string, Uint8Array>> {
  const root = joinPath(dir, "pages", folder);
  const out = new Map<string, Uint8Array>();
  if ((await io.stat(root)) === undefined) return out;
  for (const name of await io.readdir(root)) if (!name.startsWith(".")) out.set(name, await io.readFile(joinPath(root, name))); // not the base copies (page_base.ts)
  return out;
}

async function overwrite(io: FileIO, file: string, bytes: Uint8Array): Promise<void> {
  const f = await io.open(file);
  try {
    await f.truncate(0);
    await f.write(0, bytes);
    await f.datasync();
  } finally {
    await f.close();
  }
}

/** CRC-32C (Castagnoli), bitwise: an independent implementation for hand-made manifests. */
function crc32c(bytes: Uint8Array): string {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  }
  return ((c ^ 0xffffffff) >>> 0).toString(16).padStart(8, "0");
}

async function rewriteManifest(io: FileIO, dir: string, edit: (m: Record<string, unknown>) => void): Promise<void> {
  const file = joinPath(dir, "manifest.json");
  const m = JSON.parse(decoder.decode(await io.readFile(file))) as Record<string, unknown>;
  delete m["crc"];
  edit(m);
  const crc = crc32c(encoder.encode(JSON.stringify(m)));
  await overwrite(io, file, encoder.encode(JSON.stringify({ ...m, crc }, null, 2) + "\n"));
}

const sampleValues: Array<[Key, unknown]> = [
  ["plain", { name: "alice", n: 1 }],
  ["types", { d: new Date(1_700_000_000_000), b: 12345678901234567890n, bytes: new Uint8Array([0, 1, 255]), u: undefined, nan: Number.NaN, negz: -0, inf: -Infinity }],
  ["collections", { m: new Map<unknown, unknown>([["z", 1], [2, "two"]]), s: new Set(["b", "a"]), arr: [1, undefined, "x"] }],
  ["text", "line1\nline2 \"quoted\" ✓"],
  [["composite", 1], null],
  [42, [true, false]],
  [7n, "bigint key"],
  [new Date(0), "date key"],
  [new Uint8Array([9, 8]), "bytes key"],
];

async function putSamples(db: Database, ns: string): Promise<void> {
  await db.transaction(async (tx) => {
    for (const [k, v] of sampleValues) await tx.put(ns, k, v);
  });
}

// ---------------------------------------------------------------------------

describe("open and close", () => {
  both("open creates the database: manifest.json, lock, log/ and pages/", async (env) => {
    const db = await env.open();
    const names = await env.io.readdir(env.dir);
    for (const n of ["lock", "log", "manifest.json"]) assert.ok(names.includes(n), `${n} in ${names.join(",")}`);
    const manifest = JSON.parse(decoder.decode(await env.io.readFile(joinPath(env.dir, "manifest.json")))) as Record<string, unknown>;
    assert.equal(manifest["format"], "json");
    assert.equal(manifest["checkpointTsn"], 0);
    assert.equal(db.stats().lastTsn, 0);
    assert.deepEqual(await db.namespaces(), []);
    await db.close();
  });

  both("close() is idempotent; afterwards every operation rejects with TXTDB_CLOSED (contract 9)", async (env) => {
    const db = await env.open();
    await db.put("n", "k", 1);
    await Promise.all([db.close(), db.close()]);
    await db.close();
    const closed: Array<[string, () => unknown]> = [
      ["begin", () => db.begin()],
      ["begin readOnly", () => db.begin({ readOnly: true })],
      ["get", () => db.get("n", "k")],
      ["put", () => db.put("n", "k", 2)],
      ["delete", () => db.delete("n", "k")],
      ["transaction", () => db.transaction(async () => 1)],
      ["namespaces", () => db.namespaces()],
      ["dropNamespace", () => db.dropNamespace("n")],
      ["renameNamespace", () => db.renameNamespace("n", "m")],
      ["checkpoint", () => db.checkpoint()],
      ["check", () => db.check()],
    ];
    for (const [what, fn] of closed) assert.equal(await codeOf(fn), "TXTDB_CLOSED", what);
    assert.equal(db.stats().lastTsn, 1, "stats() still answers");
    const again = await env.open();
    assert.equal(await again.get("n", "k"), 1);
    await again.close();
  });

  both("`await using` closes the database at the end of the scope", async (env) => {
    let handle: Database | null = null;
    {
      await using db = await env.open();
      handle = db;
      await db.put("n", "k", "v");
    }
    assert.equal(await codeOf(() => handle!.begin()), "TXTDB_CLOSED");
    await using again = await env.open();
    assert.equal(await again.get("n", "k"), "v");
  });

  both("close() waits for in-flight commits; all of them are durable after reopen", async (env) => {
    const db = await env.open();
    const commits = Promise.allSettled(Array.from({ length: 20 }, (_, i) => db.put("n", i, i * 10)));
    await db.close();
    const outcomes = (await commits).map((r) => (r.status === "fulfilled" ? r.value.tsn : (r.reason as TxtDbError).code));
    assert.deepEqual(outcomes.sort((a, b) => Number(a) - Number(b)), Array.from({ length: 20 }, (_, i) => i + 1));
    const again = await env.open();
    assert.deepEqual(await dump(again), [["n", Array.from({ length: 20 }, (_, i) => [i, i * 10])]]);
    await again.close();
  });

  both("a transaction begun before close() cannot commit after it: TXTDB_CLOSED, nothing written", async (env) => {
    const db = await env.open();
    const tx = await db.begin();
    await tx.put("n", "late", 1);
    await db.close();
    assert.equal(await codeOf(() => tx.commit()), "TXTDB_CLOSED");
    const again = await env.open();
    assert.equal(await again.get("n", "late"), undefined);
    assert.equal(again.stats().lastTsn, 0);
    await again.close();
  });

  both("a transaction left open across close() never reads past its snapshot", async (env) => {
    const db = await env.open();
    await db.put("n", "k", "old");
    const tx = await db.begin();
    await db.put("n", "k", "new");
    await db.close();
    const got = await tx.get("n", "k").then((v) => v, (e: unknown) => (e instanceof TxtDbError ? e.code : e));
    assert.ok(got === "old" || got === "TXTDB_CLOSED", `read ${String(got)} at snapshot ${tx.snapshotTsn}`);
  });

  both("two handles on one database see each other's commits and conflict like two processes (DB-4)", async (env) => {
    const a = await env.open();
    await a.put("n", "k", 1);
    const b = await env.open();
    assert.equal(await b.get("n", "k"), 1, "b catches up at open");
    await b.put("n", "k", 2);
    assert.equal(await a.get("n", "k"), 2, "a catches up at begin()");
    const ta = await a.begin();
    const tb = await b.begin();
    await ta.put("n", "k", 3);
    await tb.put("n", "k", 4);
    await ta.commit();
    assert.equal(await codeOf(() => tb.commit()), "TXTDB_CONFLICT", "first committer wins across handles");
    await a.checkpoint();
    assert.equal(await b.get("n", "k"), 3, "b reads through a's checkpoint");
    await a.close();
    await b.put("n", "k", 5);
    await b.close();
    const again = await env.open();
    assert.equal(await again.get("n", "k"), 5);
    await again.close();
  });

  both("invalid options reject with TXTDB_INVALID_ARGUMENT before touching the directory", async (env) => {
    const bad: Array<Omit<DatabaseOptions, "io">> = [
      { isolation: "repeatable" as never },
      { durability: "none" as never },
      { cacheBytes: -1 },
      { cacheBytes: 1.5 },
      { format: "csv" as never },
      { checkpointLogBytes: 0 },
    ];
    for (const o of bad) assert.equal(await codeOf(() => env.open(o)), "TXTDB_INVALID_ARGUMENT", JSON.stringify(o));
    assert.equal(await codeOf(() => open("", { io: env.io })), "TXTDB_INVALID_ARGUMENT");
    assert.equal(await env.io.stat(env.dir), undefined, "nothing created");
  });
});

// ---------------------------------------------------------------------------

describe("shortcuts and namespaces", () => {
  both("db.get / put / delete are one transaction each, with consecutive TSNs", async (env) => {
    const db = await env.open();
    assert.equal(await db.get("n", "k"), undefined);
    assert.deepEqual(await db.put("n", "k", { v: 1 }), { tsn: 1 });
    assert.deepEqual(await db.get("n", "k"), { v: 1 });
    assert.deepEqual(await db.put("n", "k", { v: 2 }), { tsn: 2 });
    assert.deepEqual(await db.delete("n", "k"), { tsn: 3 });
    assert.equal(await db.get("n", "k"), undefined);
    assert.deepEqual(await db.delete("n", "k"), { tsn: 4 });
    assert.equal(db.stats().openTransactions, 0);
    await db.close();
  });

  both("namespaces() lists the non-empty namespaces, sorted, at every stage", async (env) => {
    const db = await env.open();
    assert.deepEqual(await db.namespaces(), []);
    for (const ns of ["zeta", "alpha", "Mid", "beta"]) await db.put(ns, 1, ns);
    await db.put("empty", 1, 1);
    await db.delete("empty", 1);
    await db.delete("never", 1);
    const expected = ["Mid", "alpha", "beta", "zeta"];
    assert.deepEqual(await db.namespaces(), expected);
    await db.checkpoint();
    assert.deepEqual(await db.namespaces(), expected);
    await db.close();
    const again = await env.open();
    assert.deepEqual(await again.namespaces(), expected);
    await again.close();
  });

  both("dropNamespace() removes every row of one namespace as one transaction", async (env) => {
    const db = await env.open();
    await db.transaction(async (tx) => {
      for (let i = 0; i < 50; i++) await tx.put("gone", i, i);
      await tx.put("kept", "k", "v");
    });
    await db.checkpoint();
    await db.put("gone", 100, "after checkpoint");
    const reader = await db.begin();
    assert.deepEqual(await db.dropNamespace("gone"), { tsn: 3 });
    assert.equal((await collect(reader.scan("gone"))).length, 51, "an older snapshot still sees the rows");
    await reader.rollback();
    assert.deepEqual(await db.namespaces(), ["kept"]);
    assert.equal(await db.get("gone", 1), undefined);
    await db.checkpoint();
    assert.equal(await db.get("gone", 100), undefined);
    await db.close();
    const again = await env.open();
    assert.deepEqual(await dump(again), [["kept", [["k", "v"]]]]);
    await again.close();
  });

  both("drop then recreate a namespace in one transaction keeps only the new rows", async (env) => {
    const db = await env.open();
    await db.transaction(async (tx) => {
      for (let i = 0; i < 5; i++) await tx.put("ns", i, "old");
    });
    await db.checkpoint();
    await db.transaction(async (tx) => {
      await tx.dropNamespace("ns");
      await tx.put("ns", 3, "new");
      await tx.put("ns", 9, "new");
    });
    assert.deepEqual(await dump(db), [["ns", [[3, "new"], [9, "new"]]]]);
    await db.checkpoint();
    assert.deepEqual(await dump(db), [["ns", [[3, "new"], [9, "new"]]]]);
    await db.close();
    const again = await env.open();
    assert.deepEqual(await dump(again), [["ns", [[3, "new"], [9, "new"]]]]);
    await again.close();
  });

  both("dropNamespace() conflicts with a concurrent write to that namespace, both orders", async (env) => {
    const db = await env.open();
    await db.put("ns", "a", 1);
    // a write commits first, then the drop
    let tx = await db.begin();
    await tx.dropNamespace("ns");
    await db.put("ns", "b", 2);
    assert.equal(await codeOf(() => tx.commit()), "TXTDB_CONFLICT");
    assert.deepEqual(await db.namespaces(), ["ns"]);
    // the drop commits first, then the write
    tx = await db.begin();
    await tx.put("ns", "c", 3);
    await db.dropNamespace("ns");
    assert.equal(await codeOf(() => tx.commit()), "TXTDB_CONFLICT");
    assert.deepEqual(await db.namespaces(), []);
    // a write to another namespace does not conflict
    tx = await db.begin();
    await tx.put("other", "x", 1);
    await db.dropNamespace("ns");
    assert.equal(await codeOf(() => tx.commit()), "resolved");
    await db.close();
  });

  both("renameNamespace() moves every row, with its key and value types", async (env) => {
    const db = await env.open();
    await putSamples(db, "from");
    await db.checkpoint();
    await db.put("from", "after checkpoint", 1);
    const before = (await dump(db))[0]![1];
    const { tsn } = await db.renameNamespace("from", "to");
    assert.equal(tsn, 3);
    assert.deepEqual(await dump(db), [["to", before]]);
    await db.close();
    const again = await env.open();
    assert.deepEqual(await dump(again), [["to", before]]);
    await again.close();
  });

  both("renameNamespace() to a non-empty namespace is TXTDB_EXISTS and changes nothing", async (env) => {
    const db = await env.open();
    await db.put("a", 1, "a");
    await db.put("b", 1, "b");
    assert.equal(await codeOf(() => db.renameNamespace("a", "b")), "TXTDB_EXISTS");
    assert.equal(await codeOf(() => db.renameNamespace("a", "a")), "TXTDB_INVALID_ARGUMENT");
    assert.deepEqual(await dump(db), [["a", [[1, "a"]]], ["b", [[1, "b"]]]]);
    assert.equal(db.stats().lastTsn, 2);
    assert.equal(db.stats().openTransactions, 0);
    // an emptied namespace is a valid target
    await db.delete("b", 1);
    await db.renameNamespace("a", "b");
    assert.deepEqual(await dump(db), [["b", [[1, "a"]]]]);
    await db.close();
  });
});

// ---------------------------------------------------------------------------

describe("stats()", () => {
  memoryOnly("64 concurrent single-put commits share datasyncs: datasyncsPerCommit ≤ 0.05", async (env) => {
    const db = await env.open();
    const before = env.mem.counters.datasyncs;
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => db.put("n", i, i)));
    assert.deepEqual(results.map((r) => r.tsn).sort((a, b) => a - b), Array.from({ length: 64 }, (_, i) => i + 1));
    const s = db.stats();
    assert.equal(s.commits, 64);
    assert.ok(s.datasyncsPerCommit <= 0.05, `datasyncsPerCommit ${s.datasyncsPerCommit} (${s.datasyncs} datasyncs, ${s.batches} batches)`);
    assert.equal(s.datasyncs, env.mem.counters.datasyncs - before, "stats count the real datasyncs");
    assert.ok(s.batches <= s.datasyncs, `batches ${s.batches}`);
    await db.close();
  });

  both("counters and latency percentiles", async (env) => {
    const db = await env.open();
    await db.put("n", "a", 1);
    await db.put("n", "b", 2);
    const tx = await db.begin();
    await tx.put("n", "a", 3);
    await db.put("n", "a", 4);
    await tx.commit().catch(() => {});
    const ro = await db.begin();
    await ro.rollback();
    for (let i = 0; i < 40; i++) await db.get("n", "a");
    await db.checkpoint();
    const s = db.stats();
    assert.equal(s.commits, 3);
    assert.equal(s.conflicts, 1);
    assert.equal(s.lastTsn, 3);
    assert.equal(s.checkpointTsn, 3);
    assert.equal(s.checkpoints, 1);
    assert.equal(s.openTransactions, 0);
    assert.equal(s.writeFailure, null);
    assert.equal(s.datasyncs, 3);
    assert.equal(s.batches, 3);
    assert.ok(s.rollbacks >= 1);
    assert.ok(s.cache.hitRate >= 0 && s.cache.hitRate <= 1);
    for (const op of ["commit", "batch", "datasync", "checkpoint", "get"] as const) {
      const l = s.latency[op];
      assert.ok(l !== undefined, `latency.${op}`);
      assert.ok(l.count >= 1, `latency.${op}.count ${l.count}`);
      assert.ok(l.p50Us >= 0 && l.p50Us <= l.p95Us && l.p95Us <= l.p99Us && l.p99Us <= l.maxUs, `latency.${op} ${JSON.stringify(l)}`);
    }
    assert.equal(s.latency.commit.count, 3);
    await db.close();
  });

  both('durability "relaxed": commits wait for no datasync; one runs in the background at most every second (GC-1)', async (env) => {
    let clockMs = 0;
    const db = await env.open({ durability: "relaxed", now: () => clockMs });
    const before = env.mem?.counters.datasyncs ?? 0;
    await Promise.all(Array.from({ length: 10 }, (_, i) => db.put("n", i, i)));
    for (let i = 0; i < 5; i++) await db.put("n", "k", i);
    await new Promise((r) => setTimeout(r, 20)); // let the background datasync finish
    assert.equal(db.stats().datasyncs, 1, "one background datasync for 15 commits within the same second");
    if (env.mem !== null) assert.equal(env.mem.counters.datasyncs - before, 1);
    clockMs = 1000;
    await db.put("n", "k", 5);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(db.stats().datasyncs, 2, "a second later, another");
    assert.equal(db.stats().commits, 16);
    await db.close();
    const again = await env.open({ durability: "relaxed" });
    assert.equal(await again.get("n", "k"), 5);
    await again.close();
  });

  memoryOnly("a commit submitted at any moment while a batch finishes is flushed (no lost wake-up)", async (env) => {
    const db = await env.open();
    const stuck: number[] = [];
    for (let ticks = 0; ticks < 40; ticks++) {
      const first = db.put("n", "first", ticks);
      for (let i = 0; i < ticks; i++) await Promise.resolve();
      const tx = await db.begin();
      await tx.put("n", "second", ticks);
      const second = tx.commit();
      const settled = await Promise.race([second.then(() => true, () => true), new Promise<boolean>((r) => setTimeout(() => r(false), 200))]);
      if (!settled) stuck.push(ticks);
      await first;
    }
    assert.deepEqual(stuck, [], `commit() never settled when submitted after these many microtask ticks`);
    await db.close();
  });
});

// ---------------------------------------------------------------------------

describe("checkpoints and page files", () => {
  both("checkpoint() then reopen gives the same data", async (env) => {
    const db = await env.open();
    await putSamples(db, "samples");
    for (let i = 0; i < 30; i++) await db.put("counter", i % 7, i);
    await db.delete("counter", 3);
    const expected = await dump(db);
    assert.deepEqual(await db.checkpoint(), { tsn: 32 });
    assert.deepEqual(await dump(db), expected);
    await db.put("samples", "after", 1);
    const final = await dump(db);
    await db.close();
    const again = await env.open();
    assert.deepEqual(await dump(again), final);
    assert.equal(await again.get("samples", "after"), 1);
    for (const [k, v] of sampleValues) assert.deepEqual(await again.get("samples", k), v, `samples ${String(k)}`);
    assert.equal(again.stats().lastTsn, 33);
    const { ok, problems } = await again.check();
    assert.deepEqual({ ok, problems }, { ok: true, problems: [] });
    await again.close();
  });

  both("page files are JSON with one entry per line, keys in key order, read through the FileIO", async (env) => {
    const db = await env.open();
    await putSamples(db, "samples");
    await db.checkpoint();
    const files = await pageFiles(env.io, env.dir, "samples");
    assert.equal(files.size, 1);
    const [name, bytes] = [...files][0]!;
    assert.match(name, /^\d+\.json$/);
    const text = decoder.decode(bytes);
    const page = JSON.parse(text) as { txtdb: string; namespace: string; entries: unknown[] };
    assert.equal(page.txtdb, "page");
    assert.equal(page.namespace, "samples");
    assert.equal(page.entries.length, sampleValues.length);
    const lines = text.split("\n");
    assert.equal(lines.at(-1), "", "ends with a newline");
    const entryLines = lines.slice(1, -2);
    assert.equal(entryLines.length, sampleValues.length, "one line per entry");
    for (const [i, line] of entryLines.entries()) {
      const entry = JSON.parse(line.endsWith(",") ? line.slice(0, -1) : line) as unknown[];
      assert.equal(entry.length, 2, `line ${i} is one [key, value] pair`);
      assert.deepEqual(entry, page.entries[i]);
    }
    assert.ok(text.includes('"alice"'), "values are readable");
    // rows come out of the page in key order, with their types
    const tx = await db.begin();
    const keys = (await collect(tx.scan("samples"))).map(([k]) => k);
    await tx.rollback();
    assert.deepEqual(keys, [new Uint8Array([9, 8]), "collections", "plain", "text", "types", 42, 7n, new Date(0), ["composite", 1]]);
    await db.close();
  });

  both("a namespace past 64 KiB splits into pages; a one-row change then rewrites exactly one page", async (env) => {
    const db = await env.open();
    const row = (i: number, tag = "a"): { i: number; body: string } => ({ i, body: tag.repeat(1000) });
    await db.transaction(async (tx) => {
      for (let i = 0; i < 300; i++) await tx.put("big", i, row(i));
    });
    await db.checkpoint();
    const before = await pageFiles(env.io, env.dir, "big");
    assert.ok(before.size >= 5, `${before.size} pages for ~300 KB`);
    for (const [name, bytes] of before) assert.ok(bytes.length <= 64 * 1024, `${name} is ${bytes.length} bytes`);
    await db.put("big", 150, row(150, "b")); // same size
    await db.checkpoint();
    const after = await pageFiles(env.io, env.dir, "big");
    assert.deepEqual([...after.keys()], [...before.keys()], "same page files");
    const changed = [...after].filter(([name, bytes]) => !Buffer.from(bytes).equals(Buffer.from(before.get(name)!)));
    assert.equal(changed.length, 1, `changed: ${changed.map(([n]) => n).join(", ")}`);
    assert.ok(decoder.decode(changed[0]![1]).includes("b".repeat(1000)));
    await db.close();
    const again = await env.open();
    const rows = await collect((await again.begin()).scan("big"));
    assert.equal(rows.length, 300);
    assert.deepEqual(rows[150], [150, row(150, "b")]);
    assert.deepEqual(rows[299], [299, row(299)]);
    await again.close();
  });

  both("page files stay within 64 KiB whatever the size of keys and the script of values (CP-2)", async (env) => {
    const db = await env.open();
    await db.transaction(async (tx) => {
      for (let i = 0; i < 100; i++) await tx.put("longkeys", "k".repeat(1500) + String(i).padStart(3, "0"), "v".repeat(500));
      for (let i = 0; i < 100; i++) await tx.put("cjk", i, "中".repeat(1000));
    });
    await db.checkpoint();
    for (const ns of ["longkeys", "cjk"]) {
      const files = await pageFiles(env.io, env.dir, ns);
      for (const [name, bytes] of files) assert.ok(bytes.length <= 64 * 1024, `${ns}/${name} is ${bytes.length} bytes`);
      assert.ok(files.size > 1);
    }
    await db.close();
  });

  both("check() is ok on a healthy database", async (env) => {
    const db = await env.open();
    assert.deepEqual(await db.check(), { ok: true, problems: [] });
    await putSamples(db, "a");
    for (let i = 0; i < 200; i++) await db.put("b", i, "x".repeat(500));
    assert.deepEqual(await db.check(), { ok: true, problems: [] });
    await db.checkpoint();
    await db.put("a", "more", 1);
    assert.deepEqual(await db.check(), { ok: true, problems: [] });
    await db.close();
    const again = await env.open();
    assert.deepEqual(await again.check(), { ok: true, problems: [] });
    await again.close();
  });

  both("an edited page file: open succeeds, check() names it, reads that need it reject with TXTDB_EDITED (contract 16)", async (env) => {
    const db = await env.open();
    await db.transaction(async (tx) => {
      for (let i = 0; i < 200; i++) await tx.put("big", i, { i, pad: "p".repeat(1000) });
      await tx.put("small", "k", "v");
    });
    await db.close();
    const files = await pageFiles(env.io, env.dir, "big");
    assert.ok(files.size >= 2);
    const [name, original] = [...files].at(-1)!; // the page with the highest keys
    const file = joinPath(env.dir, "pages", "big", name);
    const edited = decoder.decode(original).replace('"i":199', '"i":-1');
    assert.notEqual(edited, decoder.decode(original));
    await overwrite(env.io, file, encoder.encode(edited));

    const db2 = await env.open();
    const check = await db2.check();
    assert.equal(check.ok, false);
    assert.equal(check.problems.length, 1, check.problems.join("\n"));
    assert.ok(check.problems[0]!.includes(file), check.problems[0]);
    const err = await errorOf(() => db2.get("big", 199));
    assert.equal(err.code, "TXTDB_EDITED");
    assert.equal(err.file, file);
    assert.match(err.message, new RegExp(name.replace(".", "\\.")));
    assert.equal(await codeOf(() => collect((async function* () {
      const tx = await db2.begin();
      yield* tx.scan("big");
    })())), "TXTDB_EDITED");
    assert.deepEqual(await db2.get("big", 0), { i: 0, pad: "p".repeat(1000) }, "other pages still serve");
    assert.equal(await db2.get("small", "k"), "v", "other namespaces still serve");
    // restoring the file makes it readable again
    await overwrite(env.io, file, original);
    assert.deepEqual(await db2.get("big", 199), { i: 199, pad: "p".repeat(1000) });
    assert.deepEqual(await db2.check(), { ok: true, problems: [] });
    await db2.close();
  });
});

// ---------------------------------------------------------------------------

describe("the page cache (PG-3, PG-5, PG-6)", () => {
  test("PG-6: a page read for a point read answers that read from its text; its second read, or its keys, decode it whole", () => {
    const rows = Array.from({ length: 100 }, (_, i) => ({ key: i * 2, value: { i, tags: ["a", i] } }));
    const entries = rows.map((r) => ({ key: keyToJson(r.key), valueText: encodeValue(r.value) }));
    const text = jsonPageFormat.encode("n", entries);
    let decodes = 0;
    const unread = (t: string): Page => Page.unread(t, jsonPageFormat, (whole) => {
      decodes++;
      const decoded = jsonPageFormat.decode(whole, "page").entries;
      return pageOfJson(decoded.map(([k]) => encodedKeyFromJson(k)), decoded.map(([k]) => k), decoded.map(([, v]) => v), 1);
    }, 1);

    const page = unread(text);
    assert.deepEqual(pointValue(page, encodeKey(84)), { i: 42, tags: ["a", 42] });
    assert.equal(decodes, 0, "the first point read decodes only what the search visits");
    assert.deepEqual(pointValue(page, encodeKey(14)), { i: 7, tags: ["a", 7] });
    assert.equal(decodes, 1, "the second decodes the page whole");
    assert.equal(pointValue(page, encodeKey(15)), undefined);
    assert.equal(decodes, 1);

    const missed = unread(text);
    assert.equal(pointValue(missed, encodeKey(15)), undefined);
    assert.equal(decodes, 2, "a key the search does not find is reported missing by the page decoded whole");
    assert.equal(missed.keys.length, 100);
    assert.equal(decodes, 2);

    assert.equal(unread(text).keys.length, 100, "its keys decode it whole");
    assert.equal(decodes, 3);

    // Text laid out otherwise (a checksum would not let it through, PG-1): decoded whole at once, same answer.
    const pretty = unread(JSON.stringify(JSON.parse(text), null, 2));
    assert.deepEqual(pointValue(pretty, encodeKey(84)), { i: 42, tags: ["a", 42] });
    assert.equal(decodes, 4);
  });

  both("PG-6 on a page damaged out of order with its checksum recomputed: a key it holds is read from its line once, then TXTDB_CORRUPT; a miss is TXTDB_CORRUPT at once", async (env) => {
    let db = await env.open();
    await db.transaction(async (tx) => {
      for (let i = 0; i < 100; i++) await tx.put("n", i, { i });
    });
    await db.close();
    const [name, original] = [...(await pageFiles(env.io, env.dir, "n"))][0]!;
    const file = joinPath(env.dir, "pages", "n", name);
    const lines = decoder.decode(original).split("\n");
    assert.equal(lines.length, 103, "one page: header, 100 entries, footer, and the final newline");
    [lines[96], lines[97]] = [lines[97]!, lines[96]!]; // entries 95 and 96 swap: keys out of order, far from key 10's search
    const damaged = encoder.encode(lines.join("\n"));
    await overwrite(env.io, file, damaged);
    await rewriteManifest(env.io, env.dir, (m) => {
      ((m["namespaces"] as Record<string, { pages: Array<{ crc: string }> }>)["n"]!.pages[0]!).crc = crc32c(damaged);
    });

    db = await env.open();
    assert.deepEqual(await db.get("n", 10), { i: 10 }, "the first read answers from the line that holds the key");
    assert.equal(await codeOf(() => db.get("n", 20)), "TXTDB_CORRUPT", "the second decodes the page whole, and PG-2 refuses it");
    await db.close();
    db = await env.open();
    assert.equal(await codeOf(() => db.get("n", 1000)), "TXTDB_CORRUPT", "a key the page does not hold is never reported missing from the text alone");
    await db.close();
  });

  memoryOnly("a scan of a namespace bigger than a quarter of the cache bypasses it; the hot pages of point reads stay; a small namespace's scan fills it", async (env) => {
    const row = (i: number): { i: number; text: string } => ({ i, text: "x".repeat(400) });
    let db = await env.open();
    await db.transaction(async (tx) => {
      for (let i = 0; i < 2000; i++) await tx.put("big", i, row(i)); // ~1 MB of pages: 8× a quarter of the cache below
      for (let i = 0; i < 20; i++) await tx.put("small", i, row(i));
    });
    await db.close();
    db = await env.open({ cacheBytes: 512 << 10 });
    assert.deepEqual((await db.get("big", 7)), row(7)); // one hot page, by a point read
    const hot = db.stats().cache;
    assert.equal(hot.pages, 1);
    const scanAll = async (ns: string): Promise<number> => {
      const tx = await db.begin({ readOnly: true });
      let n = 0;
      for await (const _ of tx.scan(ns)) n++;
      await tx.rollback();
      return n;
    };
    assert.equal(await scanAll("big"), 2000);
    const afterBig = db.stats().cache;
    assert.equal(afterBig.pages, 1, "the big scan admitted nothing and evicted nothing");
    assert.ok(afterBig.misses > hot.misses + 10, "it read its pages from the files");
    await db.get("big", 7);
    assert.equal(db.stats().cache.hits, afterBig.hits + 1, "the point read's page is still cached");
    assert.equal(await scanAll("small"), 20);
    const afterSmall = db.stats().cache;
    assert.ok(afterSmall.pages > 1, "the small namespace's pages were admitted");
    assert.equal(await scanAll("small"), 20);
    assert.equal(db.stats().cache.misses, afterSmall.misses, "a second scan of it reads no file");
    await db.close();
  });

  both("PG-7: a scan hands over the values of pages it reads for itself; no value a caller changes reaches another read (JSON, YAML, XML)", async (env) => {
    const row = (i: number): { i: number; tags: string[]; nested: { n: number }; text: string } => ({ i, tags: ["a"], nested: { n: i }, text: "x".repeat(300) });
    for (const format of ["json", "yaml", "xml"] as const) {
      const dir = `${format}`;
      const at = (o: DatabaseOptions = {}): Promise<Database> => open(joinPath(env.dir, dir), { ...o, io: env.io, format });
      let db = await at();
      await db.transaction(async (tx) => {
        for (let i = 0; i < 1500; i++) await tx.put("big", i, row(i)); // past a quarter of the cache below: its pages are the scan's own
        for (let i = 0; i < 10; i++) await tx.put("small", i, row(i)); // cached by its scan
      });
      await db.close();
      db = await at({ cacheBytes: 256 << 10 });
      const scanAndSpoil = async (ns: string): Promise<number> => {
        const tx = await db.begin({ readOnly: true });
        let n = 0;
        for await (const [k, v] of tx.scan(ns)) {
          assert.deepEqual(v, row(k as number));
          assert.equal(Object.getPrototypeOf(v), Object.prototype, `${format}: a value is an ordinary object (VAL-1)`);
          const value = v as ReturnType<typeof row>;
          value.tags.push("spoiled");
          value.nested.n = -1;
          value.text = "spoiled";
          n++;
        }
        await tx.rollback();
        return n;
      };
      for (const [ns, rows] of [["big", 1500], ["small", 10]] as const) {
        const before = db.stats().cache;
        assert.equal(await scanAndSpoil(ns), rows);
        const between = db.stats().cache;
        assert.equal(await scanAndSpoil(ns), rows, `${format}: a second scan of ${ns} sees nothing of what the first one's caller changed`);
        const after = db.stats().cache;
        if (ns === "big") {
          assert.equal(after.pages, before.pages, `${format}: the big scans admitted no page: each read its pages for itself`);
          assert.ok(after.misses - between.misses > 5, `${format}: the second big scan read its pages again`);
        } else {
          assert.ok(between.pages > before.pages, `${format}: the small scan cached its pages`);
          assert.equal(after.misses, between.misses, `${format}: the second small scan read them from the cache`);
        }
        assert.deepEqual(await db.get(ns, 7), row(7));
      }
      await db.close();
    }
  });

  both("ST-2: a scan suspended while a checkpoint folds its snapshot into new pages resumes after the last key it returned, on the new pages", async (env) => {
    const row = (i: number, v: number): { i: number; v: number; text: string } => ({ i, v, text: "y".repeat(200) });
    const db = await env.open({ cacheBytes: 128 << 10 });
    for (const reverse of [false, true]) {
      const ns = reverse ? "backward" : "forward";
      await db.transaction(async (tx) => {
        for (let i = 0; i < 900; i++) await tx.put(ns, i, row(i, 0));
      });
      const base = (await db.checkpoint()).tsn;
      // After the checkpoint, in memory only: every third row changed, every seventh deleted, new rows past the end.
      const expected = new Map<number, number>(Array.from({ length: 900 }, (_, i) => [i, 0]));
      await db.transaction(async (tx) => {
        for (let i = 0; i < 900; i += 3) {
          await tx.put(ns, i, row(i, 1));
          expected.set(i, 1);
        }
        for (let i = 1; i < 900; i += 7) {
          await tx.delete(ns, i);
          expected.delete(i);
        }
        for (let i = 900; i < 960; i++) {
          await tx.put(ns, i, row(i, 2));
          expected.set(i, 2);
        }
      });
      const order = [...expected].sort(([a], [b]) => (reverse ? b - a : a - b));
      const tx = await db.begin({ readOnly: true });
      const seen: Array<[number, number]> = [];
      let folded = base;
      for await (const [k, v] of tx.scan(ns, { reverse })) {
        seen.push([k as number, (v as { v: number }).v]);
        if (seen.length === 300) {
          // A change after the snapshot, and a checkpoint that folds everything up to the snapshot while the scan waits.
          await db.put(ns, order[400]![0], row(order[400]![0], 9));
          folded = (await db.checkpoint()).tsn;
        }
      }
      await tx.rollback();
      assert.ok(folded > base && folded === tx.snapshotTsn, `the checkpoint folded the scan's snapshot into new pages meanwhile (${base} → ${folded})`);
      assert.deepEqual(seen, order, "each row of the snapshot once, in order, with its value at the snapshot");
    }
    await db.close();
  });
});

describe("page format (contract 17)", () => {
  both('opening a "yaml" database with { format: "json" } is TXTDB_FORMAT naming the manifest', async (env) => {
    const db = await env.open();
    await db.put("n", "k", 1);
    await db.close();
    await rewriteManifest(env.io, env.dir, (m) => (m["format"] = "yaml"));
    const err = await errorOf(() => env.open({ format: "json" }));
    assert.equal(err.code, "TXTDB_FORMAT");
    assert.equal(err.file, joinPath(env.dir, "manifest.json"));
  });

  both("a database keeps the format it was created with: opened without a format it reads and writes that format", async (env) => {
    for (const format of ["yaml", "xml"] as const) {
      const dir = joinPath(env.dir, format);
      const db = await open(dir, { io: env.io, format });
      await db.put("n", "k", { v: 1 });
      await db.close();
      const again = await open(dir, { io: env.io });
      assert.deepEqual(await again.get("n", "k"), { v: 1 });
      await again.put("n", "k2", 2);
      await again.close();
      const [folder] = await env.io.readdir(joinPath(dir, "pages"));
      assert.deepEqual(await env.io.readdir(joinPath(dir, "pages", folder!)), [`.000001.${format}.orig.gz`, `000001.${format}`]);
      assert.equal(await codeOf(() => open(dir, { io: env.io, format: "json" })), "TXTDB_FORMAT");
    }
  });
});

describe("long-lived snapshots (issue 4: stats and the warning hook)", () => {
  both("a snapshot held open holds checkpoints back; stats() says by how much; onWarning fires once", async (env) => {
    const warnings: TxtDbWarning[] = [];
    const db = await env.open({ snapshotLagWarnTsn: 5, onWarning: (w) => warnings.push(w) });
    await db.put("n", 0, 0);
    const reader = await db.begin({ readOnly: true }); // snapshot 1
    for (let i = 1; i <= 10; i++) await db.put("n", i, i);
    assert.equal(db.stats().oldestSnapshotTsn, 1);
    assert.equal(db.stats().checkpointHeldBackTsn, 10);
    await db.checkpoint();
    assert.equal(db.stats().checkpointTsn, 1, "the checkpoint stopped at the open snapshot");
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.code, "TXTDB_SNAPSHOT_LAG");
    assert.equal(warnings[0]!.oldestSnapshotTsn, 1);
    assert.equal(warnings[0]!.lastTsn, 11);
    await db.put("n", 11, 11);
    await db.checkpoint();
    assert.equal(warnings.length, 1, "once per handle");
    assert.equal(await reader.get("n", 5), undefined, "the snapshot still reads as of TSN 1");
    await reader.rollback();
    assert.equal(db.stats().checkpointHeldBackTsn, 0);
    await db.checkpoint();
    assert.equal(db.stats().checkpointTsn, 12);
    await db.close();
  });
});
