/**
 * Tests of the durability probe reader (_durability.mjs), and of the probe
 * end to end on the raw floor (no dependencies needed; skipped without strace).
 *
 *   node --test bench/compare/_durability.test.mjs
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { durabilityLabel, parseTrace } from "./_durability.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));

test("parseTrace counts a sync that returned before each ack, across unfinished/resumed lines (DUR-1, DUR-2)", () => {
  const log = [
    '101 write(9, "@@GO@@", 6) = 6',
    "102 fdatasync(7 <unfinished ...>",
    '101 write(9, "x", 1) = 1',
    "102 <... fdatasync resumed>) = 0",
    '101 write(9, "@@ACK@@", 7) = 7',
    "101 sync_file_range(7, 0, 0, SYNC_FILE_RANGE_WRITE) = 0",
    '101 write(9, "@@ACK@@", 7) = 7', // no sync since the previous ack
    "101 fsync(8) = 0",
    "101 msync(0x7f00, 4096, MS_ASYNC) = 0", // not a barrier
    '101 write(9, "@@ACK@@", 7) = 7',
    "101 fdatasync(7) = -1 EIO (Input/output error)", // failed: not a sync
    '101 write(9, "@@ACK@@", 7) = 7',
    '101 write(9, "@@END@@", 7) = 7',
    "101 fsync(8) = 0", // after END: ignored
  ].join("\n");
  assert.deepEqual(parseTrace(log), { acks: 4, syncs: 2, acksAfterSync: 2, rangeSyncs: 1 });
});

test("parseTrace ignores everything before GO", () => {
  assert.deepEqual(parseTrace('1 fsync(3) = 0\n1 write(9, "@@ACK@@", 7) = 7\n'), { acks: 0, syncs: 0, acksAfterSync: 0, rangeSyncs: 0 });
});

test("durabilityLabel names per-commit, group, after-ack and no-sync behaviour", () => {
  assert.match(durabilityLabel({ measured: true, seqSyncsPerCommit: 1, seqAcksAfterSync: 1, concSyncsPerCommit: 1 }), /^fsync per commit \(before ack\)/);
  assert.match(durabilityLabel({ measured: true, seqSyncsPerCommit: 1, seqAcksAfterSync: 1, concSyncsPerCommit: 0.05 }), /^fsync per group \(before ack\)/);
  assert.match(durabilityLabel({ measured: true, seqSyncsPerCommit: 0.5, seqAcksAfterSync: 0, concSyncsPerCommit: 0.1 }), /^fsyncs, but not before the ack/);
  assert.match(durabilityLabel({ measured: true, seqSyncsPerCommit: 0, seqAcksAfterSync: 0, concSyncsPerCommit: 0 }), /^none/);
  assert.match(durabilityLabel({ measured: false }), /not measured/);
});

const strace = spawnSync("strace", ["-V"]).status === 0;

test("the probe sees the raw floor fdatasync before every ack", { skip: strace ? false : "strace not installed" }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-compare-test-"));
  try {
    const trace = path.join(dir, "trace.txt");
    const r = spawnSync("strace", ["-f", "-qq", "-s", "12", "-o", trace, "-e", "trace=fsync,fdatasync,msync,sync_file_range,write,pwrite64",
      process.execPath, path.join(here, "workload.mjs"), "--system", "floor", "--workload", "probe", "--commits", "50", "--callers", "1"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const t = parseTrace(fs.readFileSync(trace, "utf8"));
    assert.equal(t.acks, 50);
    assert.equal(t.acksAfterSync, 50);
    assert.equal(t.syncs, 50);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
