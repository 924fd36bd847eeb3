/**
 * Verification, the suite tests itself (issue 5, part 5): each deliberately
 * broken engine variant (src/engine/_test_faults.ts) must be caught by the
 * properties aimed at it. A suite that cannot fail proves nothing.
 *
 * Fixed seeds keep these deterministic: each was checked to catch its
 * variant within the run count given (most on the first failing case).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { memoryIO, type MemoryIO } from "../src/mod.ts";
import { testFaults } from "../src/engine/_test_faults.ts";
import { crashEverywhere, corruptRecordProperty, durabilityPlanArb } from "./_helpers/durability.ts";
import { historyProperty } from "./_helpers/history_workload.ts";
import { interleavingProperty } from "./_helpers/interleaving.ts";
import { isolationProperty, type Target } from "./_helpers/isolation_commands.ts";
import { propertyFails } from "./_helpers/verify.ts";

type Switch = keyof typeof testFaults;

/** Runs `property` with the switch on (TF-2: always restored) and requires it to fail. */
async function caught(sw: Switch, property: fc.IAsyncPropertyWithHooks<any>, seed: number, runs: number): Promise<string> {
  assert.equal(testFaults[sw], false, `${sw} is off by default (TF-1)`);
  testFaults[sw] = true;
  let result: { failed: boolean; report: string };
  try {
    result = await propertyFails(property, seed, runs);
  } finally {
    testFaults[sw] = false;
  }
  assert.ok(result.failed, `the broken variant "${sw}" passed ${runs} runs from seed ${seed}: the suite cannot see it`);
  return result.report;
}

const inMemory: Target = {
  async fresh() {
    return { io: memoryIO(), dir: "/db", crash: (io) => (io as MemoryIO).crash(), cleanup: async () => {} };
  },
};

describe("broken engine variants are caught", () => {
  test("acknowledge before datasync: caught by the interleaving property (GC-1 events) and by crash images (D-1)", async () => {
    assert.match(await caught("ackBeforeDatasync", interleavingProperty(), 1, 50), /before the datasync covering it/);
    const crash = fc.asyncProperty(durabilityPlanArb, async (plan) => void (await crashEverywhere(plan, "drop", 1)));
    assert.match(await caught("ackBeforeDatasync", crash, 1, 20), /D-1 acknowledged commit/);
  });

  test("skip write–write validation: caught by the model, the interleavings and the SI history checker", async () => {
    assert.match(await caught("skipWriteWriteValidation", isolationProperty(inMemory, ["snapshot"]), 1, 100), /commit\(\)/);
    assert.match(await caught("skipWriteWriteValidation", interleavingProperty(), 1, 100), /first committer wins/);
    assert.match(await caught("skipWriteWriteValidation", historyProperty("snapshot"), 1, 100), /anomalies/);
  });

  test("replay past a corrupt middle record: caught by the damaged-record property", async () => {
    assert.match(await caught("replayPastCorruptRecord", corruptRecordProperty(), 1, 30), /byte \d+ of the line at \d+/);
  });

  test("every switch is off again, and the same properties pass on the real engine", async () => {
    for (const sw of Object.keys(testFaults) as Switch[]) assert.equal(testFaults[sw], false, sw);
    assert.deepEqual(await propertyFails(interleavingProperty(), 1, 50), { failed: false, report: "50 runs passed" });
    assert.deepEqual(await propertyFails(corruptRecordProperty(), 1, 30), { failed: false, report: "30 runs passed" });
  });
});
