/**
 * Verification, isolation (issue 5, part 1): random command sequences with
 * several transactions open at once run on the engine and on the reference
 * model of snapshot isolation / serializable (test/_helpers/si_model.ts);
 * every return value and every commit outcome must be equal — on memoryIO()
 * and on a real directory. See test/_helpers/verify.ts for tiers and replay.
 */
import { describe, test } from "node:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { memoryIO, nativeIO, type MemoryIO } from "../src/mod.ts";
import { isolationProperty, type Target } from "./_helpers/isolation_commands.ts";
import { verifyProperty } from "./_helpers/verify.ts";

const file = "verify_isolation";

const inMemory: Target = {
  async fresh() {
    return { io: memoryIO(), dir: "/db", crash: (io) => (io as MemoryIO).crash(), cleanup: async () => {} };
  },
};

const onDisk: Target = {
  async fresh() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "txtdb-verify-"));
    return { io: nativeIO(), dir, crash: null, cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  },
};

describe("engine = reference model on random command sequences", () => {
  for (const [label, isolations] of [
    ["snapshot isolation", ["snapshot"]],
    ["serializable", ["serializable"]],
    ["both isolation levels mixed", ["snapshot", "serializable"]],
  ] as const) {
    const name = `memoryIO, ${label}: every get, scan, commit outcome and TSN equals the model's`;
    test(name, () => verifyProperty({ file, name, runs: 150 }, isolationProperty(inMemory, isolations)));
  }
  const two = "memoryIO, two handles (as two processes), both isolation levels: every get, scan, commit outcome and TSN equals the model's";
  test(two, () => verifyProperty({ file, name: two, runs: 100 }, isolationProperty(inMemory, ["snapshot", "serializable"], 40, 2)));
  const name = "real directory, two handles, both isolation levels: every get, scan, commit outcome and TSN equals the model's";
  test(name, () => verifyProperty({ file, name, runs: 25 }, isolationProperty(onDisk, ["snapshot", "serializable"], 30, 2)));
});
