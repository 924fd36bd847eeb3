/**
 * Crash and recovery tests (DESIGN.md "Recovery policy", contract 4, 11, 12;
 * SEG-1…SEG-3, CP-3, GC-5). Random workloads run on memoryIO() behind a
 * FileIO wrapper that takes a crash image before and after every datasync
 * and syncDir; every image must reopen to exactly the state after some TSN
 * L at least as new as every acknowledged commit. Property tests print their
 * seed; replay one with TXTDB_SEED=<n>.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setImmediate } from "node:timers";
import fc from "fast-check";
import {
  dirname, joinPath, memoryIO, nativeIO, open, TxtDbError, type CrashOptions, type Database, type FileIO, type Key, type MemoryIO,
} from "../src/mod.ts";
import { codeOf, collect, errorOf, testSeed } from "./_helpers/expect.ts";
import { contentEnd } from "../src/engine/log_record.ts";
import { crc32c, crcHex } from "../src/engine/_crc32c.ts";
import { causedBy, CrashImages, dump, HookIO, keyId, Model, stage, type Image, type ModelOp, type Snapshot } from "./_helpers/crash.ts";
import { ErrSeq, errseqIO } from "./_helpers/sched_io.ts";

const seed = testSeed("recovery");

const dir = "/db";

// ---------------------------------------------------------------------------
// Random workloads

const namespaces = ["a", "b", "c"];
type WOp =
  | { kind: "put"; ns: number; k: number; v: number; big: boolean }
  | { kind: "del"; ns: number; k: number }
  | { kind: "multi"; writes: Array<{ ns: number; k: number; v: number | null }> }
  | { kind: "rmw" }
  | { kind: "drop"; ns: number; recreate: number[] };
interface Round {
  ops: WOp[];
  checkpoint: "none" | "await" | "concurrent";
}

const keyOf = (k: number): Key => (k % 3 === 0 ? k : k % 3 === 1 ? `k${k}` : ["c", k]);
const valueOf = (v: number, big: boolean): unknown => ({ v, at: new Date(v * 1000), n: BigInt(v), pad: big ? "p".repeat(700) : "" });

const wopArb: fc.Arbitrary<WOp> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("put" as const), ns: fc.nat(2), k: fc.nat(9), v: fc.nat(999), big: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("del" as const), ns: fc.nat(2), k: fc.nat(9) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("multi" as const),
      writes: fc.array(fc.record({ ns: fc.nat(2), k: fc.nat(9), v: fc.option(fc.nat(999), { nil: null }) }), { minLength: 1, maxLength: 5 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("rmw" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("drop" as const), ns: fc.nat(2), recreate: fc.array(fc.nat(9), { maxLength: 2 }) }) },
);
const roundsArb: fc.Arbitrary<Round[]> = fc.array(
  fc.record({ ops: fc.array(wopArb, { minLength: 1, maxLength: 6 }), checkpoint: fc.constantFrom("none" as const, "none" as const, "await" as const, "concurrent" as const) }),
  { minLength: 1, maxLength: 7 },
);

/** Runs one transaction of the workload; resolves with its TSN and ops, or null when it was rejected. */
async function runOp(db: Database, op: WOp): Promise<{ tsn: number; ops: ModelOp[] } | null> {
  const tx = await db.begin();
  const ops: ModelOp[] = [];
  const put = async (ns: string, key: Key, value: unknown): Promise<void> => {
    await tx.put(ns, key, value);
    ops.push({ kind: "put", ns, key, value });
  };
  const del = async (ns: string, key: Key): Promise<void> => {
    await tx.delete(ns, key);
    ops.push({ kind: "del", ns, key });
  };
  switch (op.kind) {
    case "put":
      await put(namespaces[op.ns]!, keyOf(op.k), valueOf(op.v, op.big));
      break;
    case "del":
      await del(namespaces[op.ns]!, keyOf(op.k));
      break;
    case "multi":
      for (const w of op.writes) {
        if (w.v === null) await del(namespaces[w.ns]!, keyOf(w.k));
        else await put(namespaces[w.ns]!, keyOf(w.k), valueOf(w.v, false));
      }
      break;
    case "rmw": {
      const n = ((await tx.get("a", "counter")) as { v: number } | undefined)?.v ?? 0;
      await put("a", "counter", { v: n + 1 });
      break;
    }
    case "drop":
      await tx.dropNamespace(namespaces[op.ns]!);
      ops.push({ kind: "drop", ns: namespaces[op.ns]! });
      for (const k of op.recreate) await put(namespaces[op.ns]!, keyOf(k), valueOf(k, false));
      break;
  }
  // LOG-3: a transaction's last write of a key wins; a drop comes first.
  const last = new Map<string, ModelOp>();
  const drops = ops.filter((o) => o.kind === "drop");
  for (const o of ops) if (o.kind !== "drop") last.set(`${o.ns}\0${keyId(o.key)}`, o);
  try {
    const { tsn } = await tx.commit();
    return { tsn, ops: [...drops, ...last.values()] };
  } catch (err) {
    if (err instanceof TxtDbError && err.code === "TXTDB_CONFLICT") return null;
    throw err;
  }
}

/**
 * Runs the workload on a fresh memoryIO, taking a crash image (in `mode`)
 * before and after every sync point. Returns the model of what committed and
 * the images.
 */
async function runWorkload(rounds: Round[], crash: (n: number) => CrashOptions, phases: ReadonlyArray<"before" | "after">): Promise<{ model: Model; images: Image[]; mem: MemoryIO }> {
  const mem = memoryIO();
  const model = new Model();
  const crashes = new CrashImages(mem, crash, phases);
  const db = await open(dir, { io: crashes.io, random: () => 0 });
  for (const round of rounds) {
    const running: Array<Promise<unknown>> = round.ops.map((op) =>
      runOp(db, op).then((r) => {
        if (r !== null && r.ops.length > 0) {
          model.commits.set(r.tsn, r.ops);
          crashes.ack(r.tsn);
        }
      }));
    if (round.checkpoint === "concurrent") running.push(db.checkpoint());
    await Promise.all(running);
    if (round.checkpoint === "await") await db.checkpoint();
  }
  await db.close();
  crashes.final();
  assert.equal(model.lastTsn, Math.max(0, ...model.commits.keys()), "TSNs are consecutive from 1 (contract 4)");
  return { model, images: crashes.images, mem };
}

/**
 * Opens a crash image and checks it against the model: the state after some
 * TSN L ≥ acked, check() ok, recovery idempotent (crash images taken during
 * and after recovery reopen to the same state), new commits take L + 1.
 */
async function verifyImage(image: Image, model: Model, deep: boolean): Promise<void> {
  const where = `image ${image.label}`;
  const during: MemoryIO[] = [];
  let db: Database;
  try {
    db = await open(dir, { io: new HookIO(image.io, () => void during.push(image.io.crash())) });
  } catch (err) {
    assert.fail(`${where}: open rejected: ${String(err)}`);
  }
  const l = db.stats().lastTsn;
  assert.ok(l >= image.acked, `${where}: recovered TSN ${l} lost acknowledged commit ${image.acked}`);
  assert.ok(l <= model.lastTsn, `${where}: recovered TSN ${l} beyond the last commit ${model.lastTsn}`);
  const state = await dump(db);
  assert.deepEqual(state, model.stateAt(l), `${where}: state is not the state after TSN ${l}`);
  { const c = await db.check(); assert.deepEqual(c, { ok: true, problems: [] }, `${where}: check() ${JSON.stringify(c.problems)}`); }
  if (deep) {
    // crashed again after recovery's writes
    const again = await open(dir, { io: image.io.crash() });
    assert.equal(again.stats().lastTsn, l, `${where}: recovery is not idempotent`);
    assert.deepEqual(await dump(again), state, `${where}: recovery is not idempotent`);
    assert.deepEqual(await again.put("a", "new", 1), { tsn: l + 1 }, `${where}: the next commit takes TSN ${l + 1}`);
    await again.close();
    // crashed in the middle of recovery
    for (const [i, img] of during.entries()) {
      const d = await open(dir, { io: img }).catch((err: unknown) => assert.fail(`${where}: crash ${i} during recovery: open rejected: ${String(err)}`));
      assert.equal(d.stats().lastTsn, l, `${where}: crash ${i} during recovery`);
      assert.deepEqual(await dump(d), state, `${where}: crash ${i} during recovery`);
      await d.close();
    }
  }
  await db.close();
  if (deep) {
    const closed = await open(dir, { io: image.io.crash() });
    assert.deepEqual(await dump(closed), state, `${where}: after a clean close and a crash`);
    await closed.close();
  }
}

/** A memoryIO holding a database at `dir` with the row t/1 = "one", closed (its log retired, SEG-3). */
async function closedWithOneRow(): Promise<MemoryIO> {
  const mem = memoryIO();
  const db = await open(dir, { io: mem });
  await db.put("t", 1, "one");
  await db.close();
  return mem;
}

describe("crash at every sync point of random workloads (seeded)", () => {
  test('crash mode "drop": before and after every datasync and syncDir', async () => {
    await fc.assert(
      fc.asyncProperty(roundsArb, async (rounds) => {
        const { model, images } = await runWorkload(rounds, () => ({ mode: "drop" }), ["before", "after"]);
        for (const image of images) await verifyImage(image, model, true);
        assert.deepEqual((await open(dir, { io: images.at(-1)!.io }).then(async (d) => {
          const s = await dump(d);
          await d.close();
          return s;
        })), model.stateAt(model.lastTsn), "after close every commit is there");
      }),
      { seed, numRuns: 12, endOnFailure: true },
    );
  });

  for (const [mode, what, offset] of [["prefix", "unsynced appends keep a random prefix", 1], ["torn", "unsynced 512-byte sectors torn in any order", 2]] as const) {
    test(`crash mode "${mode}": ${what}`, async () => {
      await fc.assert(
        fc.asyncProperty(roundsArb, fc.integer({ min: 1, max: 1 << 30 }), async (rounds, crashSeed) => {
          const { model, images } = await runWorkload(rounds, (n) => ({ mode, seed: crashSeed + n }), ["before"]);
          for (const image of images) await verifyImage(image, model, false);
        }),
        { seed: seed + offset, numRuns: 15, endOnFailure: true },
      );
    });
  }

  test("a torn multi-record batch (the last, unacknowledged one) is a torn tail, not corruption", async () => {
    // 40 concurrent commits of ~300 bytes: one batch over many sectors.
    for (let crashSeed = 1; crashSeed <= 30; crashSeed++) {
      const mem = memoryIO();
      let image: MemoryIO | null = null;
      const io = new HookIO(mem, (p) => {
        if (p.phase === "before" && p.op === "datasync" && p.path.includes("/log/") && image === null && acked > 0) image = mem.crash({ mode: "torn", seed: crashSeed });
      });
      let acked = 0;
      const db = await open(dir, { io });
      acked = (await db.put("a", "first", 1)).tsn;
      await Promise.all(Array.from({ length: 40 }, (_, i) => db.put("a", i, "x".repeat(300))));
      await db.close();
      assert.ok(image !== null);
      const reopened = await open(dir, { io: image as MemoryIO }).catch((err: unknown) => assert.fail(`crash seed ${crashSeed}: ${String(err)}`));
      assert.equal(await reopened.get("a", "first"), 1);
      const n = reopened.stats().lastTsn;
      assert.equal((await collect((await reopened.begin()).scan("a"))).length, n, `crash seed ${crashSeed}: the state after TSN ${n}`);
      await reopened.close();
    }
  });
});

// ---------------------------------------------------------------------------

describe("the log's torn tail and damaged records (contract 11, 12)", () => {
  test("torn tail on a real directory: cutting the last record at every byte offset (truncated, or followed by padding) loses only it", async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-recovery-"));
    try {
      const live = path.join(base, "live");
      const pristine = path.join(base, "pristine");
      const work = path.join(base, "work");
      const io = nativeIO();
      const db = await open(live, { io });
      const n = 6;
      for (let i = 1; i <= n; i++) assert.deepEqual(await db.put("t", i, { i, text: `record ${i} ✓` }), { tsn: i });
      // Copy while open: close() would checkpoint and retire the log.
      fs.cpSync(live, pristine, { recursive: true });
      await db.close();
      const logDir = path.join(pristine, "log");
      const segments = fs.readdirSync(logDir);
      assert.equal(segments.length, 1);
      const file = fs.readFileSync(path.join(logDir, segments[0]!));
      const padding = file.subarray(contentEnd(file));
      assert.ok(padding.length > 0 && padding.every((b) => b === 0x20), "the segment ends in padding spaces (SEG-7)");
      const bytes = file.subarray(0, contentEnd(file));
      const text = new TextDecoder().decode(bytes);
      const lines = text.split("\n");
      assert.equal(lines.length, n + 1, "one newline-terminated line per commit (contract 11)");
      assert.equal(lines.at(-1), "");
      for (const [i, line] of lines.slice(0, -1).entries()) assert.equal((JSON.parse(line) as { tsn: number }).tsn, i + 1);
      const lastStart = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
      for (let at = 2 * lastStart; at < 2 * bytes.length; at++) {
        const cut = at >> 1;
        const padded = (at & 1) === 1; // the record's end overwritten by padding instead of the file cut short
        const where = `cut at ${cut}${padded ? " (padded)" : ""}`;
        fs.rmSync(work, { recursive: true, force: true });
        fs.cpSync(pristine, work, { recursive: true });
        const segmentPath = path.join(work, "log", segments[0]!);
        if (padded) {
          const fd = fs.openSync(segmentPath, "r+");
          fs.writeSync(fd, new Uint8Array(bytes.length - cut).fill(0x20), 0, bytes.length - cut, cut);
          fs.closeSync(fd);
        } else {
          fs.truncateSync(segmentPath, cut);
        }
        const d = await open(work, { io }).catch((err: unknown) => assert.fail(`${where}: open rejected: ${String(err)}`));
        assert.equal(d.stats().lastTsn, n - 1, where);
        assert.equal(d.stats().tornTailBytesDiscarded, contentEnd(bytes.subarray(0, cut)) - Math.min(lastStart, cut), where);
        const rows = await collect((await d.begin()).scan("t"));
        assert.deepEqual(rows, Array.from({ length: n - 1 }, (_, i) => [i + 1, { i: i + 1, text: `record ${i + 1} ✓` }]), where);
        assert.deepEqual(await d.check(), { ok: true, problems: [] }, `${where}: check() after the torn tail (contract 12)`);
        assert.deepEqual(await d.put("t", "next", 1), { tsn: n }, `${where}: the next commit reuses TSN ${n}`);
        await d.close();
        const again = await open(work, { io });
        assert.equal(await again.get("t", "next"), 1);
        assert.equal(again.stats().lastTsn, n);
        await again.close();
      }
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  test("a damaged record before the last one is TXTDB_CORRUPT with file and offset, at every byte of it", async () => {
    const mem = memoryIO();
    const db = await open(dir, { io: mem });
    const n = 5;
    for (let i = 1; i <= n; i++) await db.put("t", i, { i }); // one batch each
    const image = mem.crash();
    await db.close();
    const [segment] = await image.readdir(joinPath(dir, "log"));
    const file = joinPath(dir, "log", segment!);
    const file_ = await image.readFile(file);
    const bytes = file_.subarray(0, contentEnd(file_)); // the lines, without the padding after them (SEG-7)
    const starts = [0];
    for (let i = 0; i < bytes.length - 1; i++) if (bytes[i] === 0x0a) starts.push(i + 1);
    assert.equal(starts.length, n);
    const wrong: string[] = [];
    for (let r = 0; r < n - 1; r++) {
      for (let at = starts[r]!; at < starts[r + 1]!; at++) {
        const copy = image.crash();
        const f = await copy.open(file);
        await f.write(at, new Uint8Array([bytes[at]! ^ 0x01]));
        await f.close();
        const got = await open(dir, { io: copy }).then(
          async (d) => {
            const s = `opened with TSN ${d.stats().lastTsn}`;
            await d.close();
            return s;
          },
          (err: unknown) => (err instanceof TxtDbError ? `${err.code} ${String(err.file)} @${String(err.offset)}` : String(err)),
        );
        const expected = `TXTDB_CORRUPT ${file} @${starts[r]!}`;
        if (got !== expected) wrong.push(`record ${r + 1}, byte ${at - starts[r]!} (${JSON.stringify(String.fromCharCode(bytes[at]!))}): ${got}`);
      }
    }
    assert.deepEqual(wrong, [], `expected TXTDB_CORRUPT naming the record:\n${wrong.join("\n")}`);
  });

  test("a damaged manifest is TXTDB_CORRUPT naming it; an unparseable page file is reported, never skipped", async () => {
    const mem = await closedWithOneRow();
    const manifest = joinPath(dir, "manifest.json");
    const good = await mem.readFile(manifest);
    const f = await mem.open(manifest);
    await f.write(10, new TextEncoder().encode("X"));
    await f.close();
    const err = await errorOf(() => open(dir, { io: mem }));
    assert.equal(err.code, "TXTDB_CORRUPT");
    assert.equal(err.file, manifest);
    const g = await mem.open(manifest);
    await g.write(0, good);
    await g.close();
    const d = await open(dir, { io: mem });
    assert.equal(await d.get("t", 1), "one");
    await d.close();
  });

  test("the manifest's checksum holds however it is indented; a changed value or an invalid page key is TXTDB_CORRUPT", async () => {
    const mem = memoryIO();
    const db = await open(dir, { io: mem });
    await db.transaction(async (tx) => {
      for (let i = 0; i < 100; i++) await tx.put("t", `k${i}`, "x".repeat(2000)); // several pages
    });
    await db.close();
    const manifest = joinPath(dir, "manifest.json");
    const good = new TextDecoder().decode(await mem.readFile(manifest));
    const rewrite = async (text: string): Promise<void> => {
      const f = await mem.open(manifest);
      await f.truncate(0);
      await f.write(0, new TextEncoder().encode(text));
      await f.close();
    };
    const firsts = [...good.matchAll(/"first": "(k\d+)"/g)].map((m) => m[1]!);
    assert.ok(firsts.length >= 2, "the namespace spans several pages");
    // Re-indented by hand: opens, and reads see every row.
    await rewrite(good.replace(/\n {2}/g, "\n\t").replace(/": /g, '":  '));
    const d = await open(dir, { io: mem });
    assert.equal(await d.get("t", "k42"), "x".repeat(2000));
    await d.close();
    // The same JSON written differently (an escape the writer would not use): still the same manifest.
    assert.match(good, /"dir": "t"/);
    await rewrite(good.replace(/"dir": "t"/, '"dir": "\\u0074"'));
    const e = await open(dir, { io: mem });
    assert.equal(await e.get("t", "k0"), "x".repeat(2000));
    await e.close();
    // A changed number is caught.
    await rewrite(good.replace(/"entries": (\d+)/, (_, n: string) => `"entries": ${Number(n) + 1}`));
    assert.equal(await codeOf(() => open(dir, { io: mem })), "TXTDB_CORRUPT");
    // A page's first key that is no key at all, under a recomputed checksum: CORRUPT naming the manifest when a read needs it.
    const body = JSON.parse(good) as { crc?: string; namespaces: { t: { pages: Array<{ first: unknown }> } } };
    delete body.crc;
    body.namespaces.t.pages[1]!.first = { $bad: 1 };
    const crc = crcHex(crc32c(new TextEncoder().encode(JSON.stringify(body))));
    await rewrite(JSON.stringify({ ...body, crc }, null, 2) + "\n");
    const f = await open(dir, { io: mem });
    const err = await errorOf(() => f.get("t", "k42"));
    assert.equal(err.code, "TXTDB_CORRUPT");
    assert.equal(err.file, manifest);
    await f.close().catch(() => {});
    await rewrite(good);
  });
});

// ---------------------------------------------------------------------------

describe("I/O errors (GC-5)", () => {
  test("an EIO removing a log segment a checkpoint covers: check() stays ok, live and after a crash (contract 12)", async () => {
    // Found by test/verify_durability.test.ts: the segment left behind made
    // check() report a TSN gap below the checkpoint.
    const mem = memoryIO();
    const db = await open(dir, { io: mem });
    for (let i = 1; i <= 3; i++) await db.put("t", i, i);
    await db.checkpoint(); // the next append starts a new segment
    await db.put("t", 4, 4);
    await db.put("t", 5, 5);
    mem.injectFault({ op: "unlink", code: "EIO", path: /\/log\/0+1\.jsonl$/ });
    await db.checkpoint();
    mem.clearFaults();
    await db.put("t", 6, 6); // the checkpoint above rotates: a new segment
    await db.checkpoint(); // removes the segment of TSN 4-5; the one of TSN 1-3 stays behind it
    await db.put("t", 7, 7);
    assert.ok((await mem.readdir(joinPath(dir, "log"))).includes("0000000000000001.jsonl"), "the covered segment is still there");
    assert.deepEqual(await db.check(), { ok: true, problems: [] }, "live");
    const image = mem.crash();
    await db.close();
    const d = await open(dir, { io: image });
    assert.deepEqual(await d.check(), { ok: true, problems: [] }, "after a crash");
    assert.equal(await d.get("t", 6), 6);
    await d.close();
  });

  test("an EIO syncing a new page folder's entry: a later checkpoint makes the folder durable before naming its pages", async () => {
    // Found by test/verify_durability.test.ts: the retry found the folder
    // existing and skipped the parent's syncDir, so a power loss dropped the
    // folder while the manifest named pages in it.
    const mem = memoryIO();
    const db = await open(dir, { io: mem });
    await db.put("fresh", "k", 1);
    mem.injectFault({ op: "syncDir", code: "EIO", path: /\/db\/pages$/ });
    assert.equal(await codeOf(() => db.checkpoint()), "TXTDB_IO");
    mem.clearFaults();
    await db.checkpoint();
    const image = mem.crash();
    const d = await open(dir, { io: image });
    assert.equal(await d.get("fresh", "k"), 1);
    assert.deepEqual(await d.check(), { ok: true, problems: [] });
    await d.close();
    await db.close();
  });

  test("EIO on the log datasync: that commit and later ones reject with TXTDB_IO, reads still work", async () => {
    const mem = memoryIO();
    const db = await open(dir, { io: mem });
    await db.put("t", "a", 1);
    mem.injectFault({ op: "datasync", code: "EIO", path: /\/log\// });
    const err = await errorOf(() => db.put("t", "b", 2));
    assert.equal(err.code, "TXTDB_IO");
    assert.ok(causedBy(err, "EIO"), "the OS error is the cause");
    assert.equal(await codeOf(() => db.put("t", "c", 3)), "TXTDB_IO");
    assert.equal(await codeOf(() => db.transaction(async (tx) => tx.put("t", "d", 4))), "TXTDB_IO");
    assert.equal(await codeOf(() => db.delete("t", "a")), "TXTDB_IO");
    assert.notEqual(db.stats().writeFailure, null);
    assert.equal(await db.get("t", "a"), 1);
    assert.equal(await db.get("t", "b"), undefined, "an unacknowledged commit is never visible");
    assert.equal(db.stats().lastTsn, 1);
    const ro = await db.begin();
    assert.deepEqual(await collect(ro.scan("t")), [["a", 1]]);
    assert.deepEqual(await ro.commit(), { tsn: 1 }, "read-only transactions still commit");
    const image = mem.crash();
    await db.close();
    const d = await open(dir, { io: image });
    assert.deepEqual(await dump(d), [["t", [['"a"', 1]]]]);
    assert.deepEqual(await d.check(), { ok: true, problems: [] });
    await d.close();
  });

  test("after an EIO on the log datasync, a reopened database claims nothing that is not durable", async () => {
    const mem = memoryIO();
    const db = await open(dir, { io: mem });
    await db.put("t", "a", 1);
    mem.injectFault({ op: "datasync", code: "EIO", path: /\/log\// });
    assert.equal(await codeOf(() => db.put("t", "b", 2)), "TXTDB_IO");
    await db.close();
    // the same machine, no power loss: the failed record may still sit in the page cache
    const reopened = await open(dir, { io: mem }).catch((err: unknown) => assert.fail(`reopen rejected: ${String(err)}`));
    const seen = await dump(reopened);
    const durable = await open(dir, { io: mem.crash() });
    assert.deepEqual(seen, await dump(durable), "what the reopened database serves is what survives a power loss");
    await durable.close();
    // and an acknowledged commit made after the reopen survives a power loss
    const { tsn } = await reopened.put("t", "c", 3);
    const afterCrash = await open(dir, { io: mem.crash() }).catch((err: unknown) => assert.fail(`open after the crash rejected: ${String(err)}`));
    assert.equal(await afterCrash.get("t", "c"), 3, `acknowledged commit ${tsn} lost`);
    assert.equal(await afterCrash.get("t", "a"), 1);
    await afterCrash.close();
    await reopened.close();
  });

  test("SEG-8: a handle opened after another's failed datasync re-writes the unattested tail: its acknowledged commit never sits behind a hole", async () => {
    const mem = memoryIO();
    const a = await open(dir, { io: mem });
    const b = await open(dir, { io: mem }); // open: a's records are not cut (GC-5), they stay in the log
    await a.put("t", 1, "one");
    mem.injectFault({ op: "datasync", code: "EIO", path: /log\/\d+\.jsonl$/ });
    assert.equal(await codeOf(() => a.put("t", 2, "two")), "TXTDB_IO"); // its bytes are lost to a crash (MEM-5)
    const c = await open(dir, { io: mem }); // a descriptor opened after the failure: no error reaches it
    assert.deepEqual(await c.put("t", 3, "three"), { tsn: 3 });
    const image = mem.crash();
    const d = await open(dir, { io: image }).catch((err: unknown) => assert.fail(`the image does not open: ${String(err)}`));
    assert.equal(await d.get("t", 3), "three", "the acknowledged commit survives");
    assert.equal(await d.get("t", 1), "one");
    assert.deepEqual(await d.check(), { ok: true, problems: [] });
    await d.close();
    for (const db of [c, b]) await db.close();
    await a.close().catch(() => {});
  });

  // SEG-10 and SEG-1 (errseqIO gives Linux's errseq between handles). The
  // first was found by the two-handle fault property in
  // test/verify_durability.test.ts once it checked D-8.

  test("SEG-10: a reopen after another handle's failed log datasync serves only what is durable; a power loss right after it keeps that state", async () => {
    // Was: the failed records stayed in the log (another handle was open,
    // GC-5) and in the page cache, clean; the segment after the rotation was
    // empty, so the reopen's datasync carried nothing of them.
    const mem = memoryIO();
    const errseq = new ErrSeq();
    const a = await open(dir, { io: errseqIO(mem, errseq) });
    const b = await open(dir, { io: errseqIO(mem, errseq) }); // open: a's records are not cut (GC-5)
    await a.put("t", 1, "one");
    await new Promise((resolve) => setImmediate(resolve)); // a's spare hold goes after a turn with no commit (GC-9)
    await b.checkpoint(); // b's next append starts a new segment
    mem.injectFault({ op: "datasync", code: "EIO", path: /log\/\d+\.jsonl$/ });
    assert.equal(await codeOf(() => a.put("t", 2, "two")), "TXTDB_IO"); // lost to a power loss (MEM-5), still read from the page cache
    mem.clearFaults();
    // b had the segment open when a's datasync failed: errseq fails the datasync of its rotation, the `next` marker in the file
    assert.equal(await codeOf(() => b.put("t", 3, "three")), "TXTDB_IO");
    await a.close();
    await b.close();
    assert.equal((await mem.readFile(joinPath(dir, "log", "0000000000000003.jsonl"))).length, 0, "the last segment is empty");
    const reopened = await open(dir, { io: mem }); // another process: errseq tells it nothing
    const served = await dump(reopened);
    const durable = await open(dir, { io: mem.crash() }).catch((err: unknown) => assert.fail(`the image does not open: ${String(err)}`));
    assert.deepEqual(await dump(durable), served, "D-8: a power loss right after the reopen keeps what it served");
    await durable.close();
    const { tsn } = await reopened.put("t", 4, "four");
    const later = await open(dir, { io: mem.crash() }).catch((err: unknown) => assert.fail(`the image does not open: ${String(err)}`));
    assert.equal(await later.get("t", 4), "four", `acknowledged commit ${tsn} lost`);
    assert.deepEqual(await later.check(), { ok: true, problems: [] });
    await later.close();
    await reopened.close();
  });

  test("SEG-10: open rejects with TXTDB_IO when the datasync of the log's unattested tail fails", async () => {
    const mem = memoryIO();
    const db = await open(dir, { io: mem });
    await db.put("t", 1, "one");
    await db.checkpoint(); // the next append starts a new segment
    const first = /log\/0+1\.jsonl$/;
    mem.injectFault({ op: "datasync", code: "EIO", path: first }); // the rotation's: the `next` marker is in the file, not durable
    assert.equal(await codeOf(() => db.put("t", 2, "two")), "TXTDB_IO");
    mem.clearFaults();
    await db.close();
    mem.injectFault({ op: "datasync", code: "EIO", path: first });
    const err = await errorOf(() => open(dir, { io: mem }));
    assert.equal(err.code, "TXTDB_IO");
    assert.ok(causedBy(err, "EIO"), "the OS error is the cause");
    mem.clearFaults();
    for (const io of [mem, mem.crash()]) {
      const d = await open(dir, { io });
      assert.deepEqual(await dump(d), [["t", [["1", "one"]]]]);
      assert.deepEqual(await d.check(), { ok: true, problems: [] });
      await d.close();
    }
  });

  test("SEG-10: a clean reopen (the log retired at close) does no datasync; one with lines in the log does one", async () => {
    const mem = await closedWithOneRow(); // its close checkpointed and retired the log (SEG-3)
    let before = mem.counters.datasyncs;
    const again = await open(dir, { io: mem });
    assert.equal(mem.counters.datasyncs - before, 0, "a clean reopen does no datasync (reopen time is a benchmark target)");
    assert.equal(await again.get("t", 1), "one");
    await again.put("t", 2, "two");
    before = mem.counters.datasyncs;
    const other = await open(dir, { io: mem }); // `again` is open: its line is in the log, unattested
    assert.equal(mem.counters.datasyncs - before, 1, "the unattested tail: one datasync");
    assert.equal(await other.get("t", 2), "two");
    await other.close();
    await again.close();
  });

  test("SEG-3: a handle that wrote nothing leaves the lone empty segment at close, for the next open to use; one that wrote leaves no log", async () => {
    const mem = await closedWithOneRow(); // it wrote: its close removed every segment
    const logDir = `${dir}/log`;
    assert.deepEqual(await mem.readdir(logDir), [], "a handle that wrote leaves no log to replay");
    const reader = await open(dir, { io: mem }); // makes a segment named after the next TSN
    const made = await mem.readdir(logDir);
    assert.equal(made.length, 1);
    assert.equal(await reader.get("t", 1), "one");
    await reader.close();
    assert.deepEqual(await mem.readdir(logDir), made, "kept: empty, and the only one");
    const writer = await open(dir, { io: mem });
    assert.deepEqual(await mem.readdir(logDir), made, "the next open made no other");
    assert.deepEqual(await writer.put("t", 2, "two"), { tsn: 2 });
    const lost = await open(dir, { io: mem.crash() }); // acknowledged: its first line synced the kept segment's name (SEG-11)
    assert.deepEqual([await lost.get("t", 1), await lost.get("t", 2)], ["one", "two"]);
    await lost.close();
    await writer.close();
    assert.deepEqual(await mem.readdir(logDir), [], "it wrote: its close removed the segment");
    const again = await open(dir, { io: mem });
    assert.deepEqual([await again.get("t", 1), await again.get("t", 2)], ["one", "two"]);
    await again.close();
  });

  test("SEG-3: the kept empty segment is replaced when its name is no longer the next TSN (manifest and pages restored from a backup)", async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-restore-"));
    try {
      const live = path.join(base, "db");
      const backup = path.join(base, "backup");
      const segments = (): string[] => fs.readdirSync(path.join(live, "log"));
      let db = await open(live);
      for (let i = 1; i <= 10; i++) await db.put("t", i, i);
      await db.close();
      fs.cpSync(live, backup, { recursive: true }); // checkpoint at 10, as git would hold it
      db = await open(live);
      for (let i = 11; i <= 20; i++) await db.put("t", i, i);
      await db.close();
      db = await open(live); // reads only: its close keeps the segment it made, named 21
      assert.equal(await db.get("t", 20), 20);
      await db.close();
      assert.deepEqual(segments(), ["0000000000000021.jsonl"]);
      // `git checkout -- manifest.json pages/`: log/ is left as it is.
      fs.rmSync(path.join(live, "pages"), { recursive: true });
      fs.cpSync(path.join(backup, "pages"), path.join(live, "pages"), { recursive: true });
      fs.copyFileSync(path.join(backup, "manifest.json"), path.join(live, "manifest.json"));
      db = await open(live);
      assert.deepEqual(segments(), ["0000000000000011.jsonl"], "the segment is named after the TSN its first record will have");
      assert.deepEqual(await db.put("t", 11, "again"), { tsn: 11 });
      await db.checkpoint();
      assert.deepEqual(await db.put("t", 12, "again"), { tsn: 12 }); // rotates: the new segment sorts after the old one
      assert.deepEqual((await db.check()).problems, []);
      await db.close();
      db = await open(live);
      assert.deepEqual([await db.get("t", 10), await db.get("t", 11), await db.get("t", 12), await db.get("t", 13)], [10, "again", "again", undefined]);
      await db.close();
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  test("DB-6, SEG-11: a reopen syncs no folder; the first commit syncs the log folder, the database folder and its parent, once", async () => {
    const mem = await closedWithOneRow();
    let before = mem.counters.syncDirs;
    const again = await open(dir, { io: mem });
    assert.equal(mem.counters.syncDirs - before, 0, "not even for the log's new first segment (the log was retired at close)");
    assert.equal(await again.get("t", 1), "one");
    // A power cut now may take the empty segment's name: nothing is lost, and open makes another.
    const cutEarly = await open(dir, { io: mem.crash() });
    assert.equal(await cutEarly.get("t", 1), "one");
    await cutEarly.close();
    before = mem.counters.syncDirs;
    await again.put("t", 2, "two");
    assert.equal(mem.counters.syncDirs - before, 3, "the first line: the log folder (the segment's name), the database folder and its parent");
    before = mem.counters.syncDirs;
    await again.put("t", 3, "three");
    assert.equal(mem.counters.syncDirs - before, 0, "once per handle");
    // Acknowledged, so durable, name and all.
    const cut = await open(dir, { io: mem.crash() });
    assert.deepEqual([await cut.get("t", 2), await cut.get("t", 3)], ["two", "three"]);
    await cut.close();
    await again.close();
  });

  test("SEG-11: a handle that commits into the segment another handle's open made (name not yet synced) keeps its commit after a crash", async () => {
    const mem = await closedWithOneRow(); // the log retired: the next open makes a segment and syncs nothing
    const a = await open(dir, { io: mem }); // makes it, and writes nothing
    const b = await open(dir, { io: mem });
    await b.put("t", 2, "two"); // B's first line: B syncs the log folder first
    const after = await open(dir, { io: mem.crash() });
    assert.equal(await after.get("t", 2), "two");
    await after.close();
    await b.close();
    await a.close();
  });

  test("SEG-11: a database copied into place without syncs keeps every commit acknowledged after its reopen", async () => {
    const mem = await closedWithOneRow();
    // cp -r: every file's bytes durable, no directory entry of the copy synced.
    const copy = "/restored/db";
    const copyTree = async (from: string, to: string): Promise<void> => {
      await mem.mkdir(to);
      for (const name of await mem.readdir(from)) {
        const st = (await mem.stat(`${from}/${name}`))!;
        if (st.isDirectory) {
          await copyTree(`${from}/${name}`, `${to}/${name}`);
          continue;
        }
        const f = await mem.open(`${to}/${name}`, { create: true });
        await f.write(0, await mem.readFile(`${from}/${name}`));
        await f.datasync();
        await f.close();
      }
    };
    await mem.mkdir("/restored");
    await mem.syncDir("/"); // the folder restored into was there before
    await copyTree(dir, copy);
    const restored = await open(copy, { io: mem });
    const { tsn } = await restored.put("t", 2, "two");
    const image = mem.crash();
    const after = await open(copy, { io: image }).catch((err: unknown) => assert.fail(`the copy is gone after a power loss: ${String(err)}`));
    assert.equal(await after.get("t", 2), "two", `acknowledged commit ${tsn} lost with the copy's folders`);
    // Rows copied in page files are the copy's to make durable (`sync` after cp -r): txtdb never wrote them.
    await after.close();
    await restored.close();
  });

  test("SEG-1: a handle following a `next` marker re-writes the old segment's unattested tail before its datasync: its commits never sit behind a hole", async () => {
    // Was: z opened the second segment after a's datasync of it failed, so
    // errseq told z nothing; z's datasync before following the marker carried
    // nothing of a's record (clean in the page cache), and z's acknowledged
    // commit in the third segment sat behind the hole: the image was TXTDB_CORRUPT.
    const mem = memoryIO();
    const errseq = new ErrSeq();
    const v = await open(dir, { io: errseqIO(mem, errseq) });
    const a = await open(dir, { io: errseqIO(mem, errseq) });
    const z = await open(dir, { io: errseqIO(mem, errseq) }); // reads nothing until its commit below
    await v.put("t", 1, "one");
    await v.checkpoint();
    await v.put("t", 2, "two"); // the second segment
    await v.checkpoint(); // v's next append starts a third one
    mem.injectFault({ op: "datasync", code: "EIO", path: /log\/0+2\.jsonl$/ });
    assert.equal(await codeOf(() => a.put("t", 3, "three")), "TXTDB_IO"); // clean in the page cache, lost to a power loss (MEM-5)
    mem.clearFaults();
    assert.equal(await codeOf(() => v.put("t", 4, "v's")), "TXTDB_IO"); // errseq fails its rotation's datasync: the marker is in the file
    assert.deepEqual(await z.put("t", 4, "z's"), { tsn: 4 }); // z follows both markers
    const image = mem.crash();
    const d = await open(dir, { io: image }).catch((err: unknown) => assert.fail(`the image does not open: ${String(err)}`));
    assert.equal(await d.get("t", 4), "z's", "the acknowledged commit survives");
    assert.deepEqual(await d.check(), { ok: true, problems: [] });
    await d.close();
    for (const db of [z, v, a]) await db.close().catch(() => {});
  });

  test('GC-5, SEG-8: under "relaxed", a failed background datasync stops the handle: no later line attests the bytes it lost', async () => {
    // Was: the failure was ignored; the next background datasync succeeded
    // (errseq reports a failure once) without the lost bytes, and the next
    // line attested them: a power loss left a log that opened as TXTDB_CORRUPT.
    const mem = memoryIO();
    let clockMs = 0;
    const db = await open(dir, { io: mem, durability: "relaxed", now: () => clockMs });
    const backgroundSync = (): Promise<void> => new Promise((r) => setTimeout(r, 20));
    await db.put("t", 1, "one");
    await backgroundSync();
    mem.injectFault({ op: "datasync", code: "EIO", path: /log\/\d+\.jsonl$/ });
    clockMs += 2000;
    await db.put("t", 2, "two"); // acknowledged ("relaxed"); its background datasync fails
    await backgroundSync();
    for (const k of [3, 4]) {
      clockMs += 2000;
      assert.equal(await codeOf(() => db.put("t", k, k)), "TXTDB_IO", `commit ${k} after the failed datasync`);
      await backgroundSync();
    }
    const d = await open(dir, { io: mem.crash() }).catch((err: unknown) => assert.fail(`the image does not open: ${String(err)}`));
    assert.equal(await d.get("t", 1), "one");
    assert.deepEqual(await d.check(), { ok: true, problems: [] });
    await d.close();
    await db.close();
  });

  // The next four were found by the two-handle fault property in
  // test/verify_durability.test.ts (a fault in one handle, the other open).

  test("GC-5: an append that fails while another handle is open is never served by its handle; its TSN goes to the next commit", async () => {
    // Was: the failing handle marked its batch durable, though nothing of it
    // was written — it served the commit, and kept serving it when the other
    // handle's commit took the same TSN.
    const mem = memoryIO();
    const a = await open(dir, { io: mem });
    const b = await open(dir, { io: mem });
    await a.put("t", 1, "one");
    mem.injectFault({ op: "write", code: "EIO", path: /log\/\d+\.jsonl$/ }); // nothing written
    assert.equal(await codeOf(() => a.put("t", 2, "a's")), "TXTDB_IO");
    mem.clearFaults();
    assert.equal(await a.get("t", 2), undefined, "never written, never served");
    assert.deepEqual(await b.put("t", 2, "b's"), { tsn: 2 });
    assert.equal(await a.get("t", 2), "b's", "the failed handle reads the log as it is");
    assert.equal(await codeOf(() => a.put("t", 3, "three")), "TXTDB_IO");
    await b.checkpoint();
    await a.close();
    await b.close();
    const d = await open(dir, { io: mem.crash() });
    assert.deepEqual(await dump(d), [["t", [["1", "one"], ["2", "b's"]]]]);
    assert.deepEqual(await d.check(), { ok: true, problems: [] });
    await d.close();
  });

  test("SEG-1, SEG-6: a rotation whose `next` marker write fails after the whole marker is in the file keeps the new segment", async () => {
    // Was: the rotating handle removed the new segment; the other followed the
    // marker to nothing, resynced until it gave up with TXTDB_IO, and then
    // appended behind the marker, in the retired segment.
    const mem = memoryIO();
    const a = await open(dir, { io: mem });
    const b = await open(dir, { io: mem });
    await a.put("t", 1, "one");
    await a.checkpoint(); // a's next append starts a new segment
    mem.injectFault({ op: "write", code: "EIO", path: /log\/0+1\.jsonl$/, partialBytes: 1 << 20 }); // all written, then EIO
    assert.equal(await codeOf(() => a.put("t", 2, "a's")), "TXTDB_IO");
    mem.clearFaults();
    assert.deepEqual(await b.put("t", 2, "b's"), { tsn: 2 });
    assert.ok((await mem.readdir(joinPath(dir, "log"))).includes("0000000000000002.jsonl"));
    assert.equal(await a.get("t", 2), "b's");
    await a.close();
    await b.close();
    const d = await open(dir, { io: mem.crash() });
    assert.deepEqual(await dump(d), [["t", [["1", "one"], ["2", "b's"]]]]);
    assert.deepEqual(await d.check(), { ok: true, problems: [] });
    await d.close();
  });

  test("DB-5: a checkpoint installed whose marker never reached the log is announced and adopted by the next checkpointer", async () => {
    // Was: the other handle checkpointed from the manifest the installed one
    // replaced, read a page that checkpoint had rewritten: TXTDB_EDITED.
    const mem = memoryIO();
    const a = await open(dir, { io: mem });
    const b = await open(dir, { io: mem });
    await a.put("t", 1, "one");
    await a.checkpoint();
    assert.equal(await b.get("t", 1), "one"); // b adopts that checkpoint
    await a.put("t", 2, "two");
    mem.injectFault({ op: "write", code: "ENOSPC", path: /log\/\d+\.jsonl$/, partialBytes: 3 }); // the checkpoint's marker
    assert.equal(await codeOf(() => a.checkpoint()), "TXTDB_IO");
    mem.clearFaults();
    await b.put("t", 1, "uno");
    await b.checkpoint();
    assert.equal(await b.get("t", 1), "uno");
    assert.equal(b.stats().checkpointTsn, 3);
    await a.close().catch(() => {});
    await b.close();
    const d = await open(dir, { io: mem.crash() });
    assert.deepEqual(await dump(d), [["t", [["1", "uno"], ["2", "two"]]]]);
    assert.deepEqual(await d.check(), { ok: true, problems: [] });
    await d.close();
  });

  test("GC-5: a commit rejected with TXTDB_IO because catching up under the writer lock failed stops its handle too", async () => {
    const mem = memoryIO();
    const a = await open(dir, { io: mem });
    const b = await open(dir, { io: mem });
    const tx = await b.begin();
    await tx.put("t", "b", 1);
    await a.put("t", "a", 1); // b's commit must read it first (GC-2)
    mem.injectFault({ op: "read", code: "EIO", path: /log\/\d+\.jsonl$/ });
    assert.equal(await codeOf(() => tx.commit()), "TXTDB_IO");
    mem.clearFaults();
    assert.equal(await codeOf(() => b.put("t", "c", 1)), "TXTDB_IO", "fail-stop: nothing later is acknowledged");
    assert.deepEqual(await a.put("t", "d", 1), { tsn: 2 });
    await a.close();
    await b.close();
  });

  test("a short write (ENOSPC) to the log: TXTDB_IO, and reopen cuts the partial line", async () => {
    const mem = memoryIO();
    const db = await open(dir, { io: mem });
    await db.put("t", "a", 1);
    mem.injectFault({ op: "write", code: "ENOSPC", path: /\/log\//, partialBytes: 7 });
    const err = await errorOf(() => db.put("t", "b", 2));
    assert.equal(err.code, "TXTDB_IO");
    assert.ok(causedBy(err, "ENOSPC"));
    assert.equal(await codeOf(() => db.put("t", "c", 3)), "TXTDB_IO");
    await db.close();
    for (const io of [mem.crash(), mem]) {
      const d = await open(dir, { io });
      assert.deepEqual(await dump(d), [["t", [['"a"', 1]]]]);
      assert.deepEqual(await d.check(), { ok: true, problems: [] });
      assert.deepEqual(await d.put("t", "d", 4), { tsn: 2 });
      await d.close();
    }
  });
});

// ---------------------------------------------------------------------------

describe("crash during a checkpoint (CP-3)", () => {
  async function populated(io: FileIO): Promise<{ db: Database; expected: Snapshot }> {
    const db = await open(dir, { io, cacheBytes: 0 });
    await db.transaction(async (tx) => {
      for (let i = 0; i < 120; i++) await tx.put("big", i, { i, pad: "q".repeat(1000) }); // several pages
      for (let i = 0; i < 5; i++) await tx.put("dropped", i, i);
      await tx.put("small", "k", "v");
    });
    await db.checkpoint();
    await db.transaction(async (tx) => {
      await tx.put("big", 5, "changed");
      await tx.put("big", 1000, "appended");
      await tx.delete("big", 60);
      await tx.put("new", ["x", 1], new Map([["m", 1]]));
    });
    await db.dropNamespace("dropped");
    await db.renameNamespace("small", "renamed");
    return { db, expected: await dump(db) };
  }

  test("a crash image at every sync point of a checkpoint (and of close) reopens to the same data", async () => {
    const mem = memoryIO();
    const images: Array<{ io: MemoryIO; label: string }> = [];
    let recording = false;
    const io = new HookIO(mem, (p) => {
      if (recording) images.push({ io: mem.crash(), label: `${p.phase} ${p.op} ${p.path}` });
    });
    const { db, expected } = await populated(io);
    recording = true;
    await db.checkpoint();
    await db.close();
    assert.ok(images.length >= 10, `${images.length} sync points`);
    for (const image of images) {
      const d = await open(dir, { io: image.io }).catch((err: unknown) => assert.fail(`${image.label}: ${String(err)}`));
      assert.deepEqual(await dump(d), expected, image.label);
      assert.deepEqual(await d.check(), { ok: true, problems: [] }, image.label);
      await d.close();
      const again = await open(dir, { io: image.io.crash() });
      assert.deepEqual(await dump(again), expected, `${image.label}, reopened twice`);
      await again.close();
    }
  });

  // After manifest.next is durable the page files no longer match the live
  // handle's manifest: the handle fails stop, and reopening completes the
  // checkpoint (DB-5, CP-3).
  for (const [what, rule] of [
    ["an EIO renaming a page into place (after manifest.next is durable)", { op: "rename", code: "EIO", path: /\/new\/.*\.tmp$/ }],
    ["an EIO installing manifest.next", { op: "rename", code: "EIO", path: /manifest\.next$/ }],
  ] as const) {
    test(`${what}: checkpoint rejects with TXTDB_IO, the handle then refuses work with TXTDB_IO, reopen completes the checkpoint (DB-5)`, async () => {
      const mem = memoryIO();
      const { db, expected } = await populated(mem);
      mem.injectFault({ ...rule });
      assert.equal(await codeOf(() => db.checkpoint()), "TXTDB_IO");
      mem.clearFaults();
      const crashed = mem.crash();
      assert.equal(await codeOf(() => db.get("big", 7)), "TXTDB_IO");
      assert.equal(await codeOf(() => db.put("after", 1, "x")), "TXTDB_IO");
      assert.equal(await codeOf(() => db.begin()), "TXTDB_IO");
      await db.close();
      for (const [label, io] of [["crash image taken after the failure", crashed], ["same io after close", mem], ["crash after close", mem.crash()]] as const) {
        await stage(label, async () => {
          const d = await open(dir, { io });
          assert.deepEqual(await dump(d), expected);
          assert.deepEqual(await d.check(), { ok: true, problems: [] });
          await d.close();
        });
      }
    });
  }

  for (const [what, rule] of [
    ["an EIO on a page datasync", { op: "datasync", code: "EIO", path: /\.tmp$/ }],
    ["an EIO on writing manifest.next", { op: "datasync", code: "EIO", path: /manifest\.next$/ }],
  ] as const) {
    test(`${what}: checkpoint rejects with TXTDB_IO; reads, commits and the next checkpoint work; reopen gives the same data`, async () => {
      const mem = memoryIO();
      const { db, expected } = await populated(mem);
      // page caches are cold: every read goes to the files
      mem.injectFault({ ...rule });
      assert.equal(await codeOf(() => db.checkpoint()), "TXTDB_IO");
      mem.clearFaults();
      const crashed = mem.crash();
      await stage("reads after the failed checkpoint", async () => {
        assert.deepEqual(await dump(db), expected);
        for (let i = 0; i < 120; i += 7) assert.notEqual(await db.get("big", i), undefined, `get big ${i}`);
        assert.equal(await db.get("renamed", "k"), "v");
      });
      await db.put("after", 1, "x");
      const withAfter = await stage("reads after a commit", () => dump(db));
      await stage("the next checkpoint", async () => {
        await db.checkpoint();
        assert.deepEqual(await dump(db), withAfter);
      });
      await db.close();
      for (const [label, io] of [["crash image taken after the failure", crashed], ["same io after close", mem], ["crash after close", mem.crash()]] as const) {
        await stage(label, async () => {
          const d = await open(dir, { io });
          assert.deepEqual(await dump(d), label === "crash image taken after the failure" ? expected : withAfter);
          assert.deepEqual(await d.check(), { ok: true, problems: [] });
          await d.close();
        });
      }
    });
  }

  test("DB-7: leftover .tmp page files are ignored, then removed by the first checkpoint (at the latest at close); data and check() are unaffected", async () => {
    const mem = memoryIO();
    const db = await open(dir, { io: mem });
    await db.transaction(async (tx) => {
      for (let i = 0; i < 10; i++) await tx.put("ns", i, i);
    });
    await db.close();
    const folder = joinPath(dir, "pages", "ns");
    const [page] = (await mem.readdir(folder)).filter((f) => f.endsWith(".json"));
    assert.ok(page !== undefined);
    for (const name of [`${page}.tmp`, "999999.json.tmp"]) {
      const f = await mem.open(joinPath(folder, name), { create: true });
      await f.write(0, new TextEncoder().encode('{"txtdb":"page","namespace":"ns","entries":[\n["evil",1]\n]}\n'));
      await f.datasync();
      await f.close();
    }
    await mem.syncDir(folder);
    // a torn manifest.next (an intent that never became durable) goes too
    const next = await mem.open(joinPath(dir, "manifest.next"), { create: true });
    await next.write(0, new TextEncoder().encode('{"txtdb":"manif'));
    await next.datasync();
    await next.close();
    await mem.syncDir(dir);
    for (const [io, how] of [[mem.crash(), "close"], [mem, "checkpoint"]] as const) {
      const d = await open(dir, { io });
      assert.equal((await io.stat(joinPath(dir, "manifest.next"))), undefined);
      assert.equal((await io.readdir(folder)).filter((f) => f.endsWith(".tmp")).length, 2, "open lists no page folder (DB-7)");
      assert.deepEqual(await dump(d), [["ns", Array.from({ length: 10 }, (_, i): [string, unknown] => [String(i), i]).sort(([a], [b]) => (a < b ? -1 : 1))]]);
      assert.deepEqual(await d.check(), { ok: true, problems: [] });
      if (how === "checkpoint") {
        await d.checkpoint();
        assert.deepEqual((await io.readdir(folder)).filter((f) => f.endsWith(".tmp")), []);
        // removal is durable: a crash right after it does not bring them back
        assert.deepEqual((await (io as MemoryIO).crash().readdir(folder)).filter((f) => f.endsWith(".tmp")), []);
      }
      await d.close();
      assert.deepEqual((await (io as MemoryIO).crash().readdir(folder)).filter((f) => f.endsWith(".tmp")), []);
    }
  });

  test("DB-7: page files the manifest no longer names (a crash before their unlink) and empty folders of gone namespaces are removed by the first checkpoint", async () => {
    const mem = memoryIO();
    const db = await open(dir, { io: mem });
    await db.transaction(async (tx) => {
      for (let i = 0; i < 10; i++) await tx.put("ns", i, i);
    });
    await db.close();
    const folder = joinPath(dir, "pages", "ns");
    const orphan = await mem.open(joinPath(folder, "000099.json"), { create: true });
    await orphan.write(0, new TextEncoder().encode('{"txtdb":"page","namespace":"ns","entries":[\n["deleted row",1]\n]}\n'));
    await orphan.datasync();
    await orphan.close();
    await mem.syncDir(folder);
    await mem.mkdir(joinPath(dir, "pages", "gone"));
    await mem.syncDir(joinPath(dir, "pages"));
    const d = await open(dir, { io: mem });
    assert.equal(await d.get("ns", 3), 3);
    assert.deepEqual(await d.check(), { ok: true, problems: [] });
    await d.put("ns", 11, 11);
    await d.checkpoint();
    assert.equal(await mem.stat(joinPath(folder, "000099.json")), undefined);
    assert.equal(await mem.stat(joinPath(dir, "pages", "gone")), undefined);
    assert.equal(await mem.crash().stat(joinPath(folder, "000099.json")), undefined, "durably");
    assert.deepEqual(await dump(d), [["ns", [...Array.from({ length: 10 }, (_, i): [string, unknown] => [String(i), i]), ["11", 11]].sort(([a], [b]) => (a < b ? -1 : 1))]]);
    await d.close();
  });

  test("DB-7 removes nothing while another handle holds the checkpoint lock or a manifest.next is there, and a failed removal stops no checkpoint", async () => {
    const mem = memoryIO();
    const db = await open(dir, { io: mem });
    await db.put("ns", 1, 1);
    await db.close();
    const folder = joinPath(dir, "pages", "ns");
    const leftover = joinPath(folder, "999999.json.tmp");
    const plant = async (path: string, text: string): Promise<void> => {
      const f = await mem.open(path, { create: true });
      await f.write(0, new TextEncoder().encode(text));
      await f.datasync();
      await f.close();
      await mem.syncDir(dirname(path));
    };
    await plant(leftover, "a checkpoint in progress elsewhere");
    // Another handle checkpointing (its lock held): this handle's checkpoints and close leave the file alone.
    const a = await open(dir, { io: mem });
    const lock = await mem.open(joinPath(dir, "lock"));
    assert.equal(lock.tryLock(1, 1, "exclusive"), true, "the checkpoint lock (byte 1), as another checkpointer holds it");
    await a.put("ns", 2, 2);
    await a.checkpoint();
    await a.close();
    assert.notEqual(await mem.stat(leftover), undefined);
    lock.unlock(1, 1);
    await lock.close();
    // A manifest.next (here torn: one this handle cannot read) may name files: nothing goes while it is there.
    const c = await open(dir, { io: mem });
    assert.equal(await c.get("ns", 2), 2);
    await plant(joinPath(dir, "manifest.next"), '{"txtdb":"manif');
    await c.put("ns", 3, 3);
    await c.checkpoint(); // writes its own manifest.next and installs it
    assert.notEqual(await mem.stat(leftover), undefined, "not in the checkpoint that found a manifest.next");
    // A failed unlink: the checkpoint completes, and the next one removes the file.
    mem.injectFault({ op: "unlink", code: "EIO", path: leftover });
    await c.put("ns", 4, 4);
    assert.equal((await c.checkpoint()).tsn, 4);
    assert.notEqual(await mem.stat(leftover), undefined);
    await c.put("ns", 5, 5);
    await c.checkpoint();
    assert.equal(await mem.stat(leftover), undefined);
    await c.close();
  });
});
