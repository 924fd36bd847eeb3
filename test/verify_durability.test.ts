/**
 * Verification, durability (issue 5, part 4): random workloads on one or two
 * handles × every crash point (before and after each datasync and syncDir)
 * × each crash mode of memoryIO(); and the same workloads × an injected
 * fault (EIO, ENOSPC, short writes) at every call of datasync, write,
 * append, truncate, syncDir, rename, unlink. Each recovered database is
 * checked against D-1…D-8 (test/_helpers/durability.ts). test/recovery.test.ts
 * holds the hand-written cases; this is the systematic sweep.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { corruptRecordProperty, durabilityPlanArb, crashEverywhere, faultRun, faultScheduledProperty, type Fault } from "./_helpers/durability.ts";
import { baseSeed, replayCommand, verifyProperty, verifySeconds } from "./_helpers/verify.ts";

const file = "verify_durability";

describe("crash at every sync point of random workloads, one or two handles", () => {
  for (const mode of ["drop", "prefix", "torn"] as const) {
    const name = `crash mode "${mode}": every image recovers every acknowledged commit, a TSN prefix, no partial transaction, idempotently`;
    test(name, () => verifyProperty({ file, name, runs: mode === "drop" ? 10 : 6 }, fc.asyncProperty(durabilityPlanArb, fc.integer({ min: 1, max: 1 << 30 }), async (plan, crashSeed) => {
      await crashEverywhere(plan, mode, crashSeed);
    })));
  }
});

describe("an injected I/O fault at any call", () => {
  const faultArb: fc.Arbitrary<Fault> = fc.record({
    op: fc.constantFrom("datasync" as const, "datasync" as const, "write" as const, "append" as const, "truncate" as const, "syncDir" as const, "rename" as const, "unlink" as const),
    code: fc.constantFrom("EIO" as const, "ENOSPC" as const),
    skip: fc.nat(80),
    partialBytes: fc.nat(200),
  });
  const name = "random workload × random fault: acknowledged commits survive, fail-stop after a failed commit, reopen serves only durable data";
  test(name, () => verifyProperty({ file, name, runs: 40 }, fc.asyncProperty(durabilityPlanArb, faultArb, async (plan, fault) => {
    await faultRun(plan, fault);
  })));

  // This property found the errseq stranding SEG-8 now prevents (a handle that
  // opened the log after another's failed datasync appended behind bytes
  // never written), then a D-7 case: a handle whose rotation marker write
  // failed after the whole marker was in the file removed the new segment and
  // went on serving its unwritten commit (GC-5); the other handle, following
  // the marker to nothing, rejected a commit with TXTDB_IO and went on
  // committing (GC-5). Then a checkpoint installed without its marker, folded
  // over by the other handle (DB-5). Checking D-8 too, it found the reopen
  // serving records another handle's failed datasync had left clean in the
  // page cache, behind an empty segment its datasync covered alone (SEG-10).
  // Regression tests in recovery.test.ts.
  const two = "two handles, I/O in scheduler order, a fault at a datasync or log write of either: D-1…D-8 hold";
  test(two, () => verifyProperty({ file, name: two, runs: 40 }, faultScheduledProperty()));
  // Found by the long tier in Bun (run 843 of seed 1358737475): a lagging
  // handle followed `next` markers into a segment a checkpoint had removed
  // (LogResync); another catch-up then found nothing after the marker and
  // counted itself caught up (SEG-9), and the resync's reposition to the
  // start of the newest segment kept that count — so the handle appended its
  // commit at offset 0 of a segment holding the other handle's lines, and
  // the reopen found the log damaged. Replayed here at the counterexample's
  // path (fast-check regenerates it from seed and path; should the
  // arbitraries change, this is one more run of the property).
  test(`${two}: the counterexample of a resync that counted itself caught up`, () =>
    fc.assert(faultScheduledProperty(), {
      seed: 1358737475,
      path: "841:0:3:1:2:2:2:2:1:1:1:1:1:1:2:4:4:4:4:4:5:6:6:6:7:7:8:10:10:10:10:11:11:11:11:6:10:10:12:10:12",
      numRuns: 1,
      endOnFailure: true,
    }));

  // Systematic: a workload × a fault at every call of every operation, until the calls run out.
  // Bounded tier: one workload; long tier: workload after workload until the budget is spent.
  const sweep = "workload × a fault at every call of every operation (EIO; ENOSPC with a short write)";
  test(sweep, async () => {
    console.log(`${file} › ${sweep}: seed=${baseSeed}`);
    const deadline = verifySeconds === null ? -Infinity : Date.now() + verifySeconds * 1000;
    let workloads = 0;
    do {
      const [plan] = fc.sample(durabilityPlanArb.filter((p) => p.rounds.length >= 3), { seed: baseSeed + workloads, numRuns: 1 });
      const fired: Record<string, number> = {};
      for (const op of ["datasync", "write", "append", "truncate", "syncDir", "rename", "unlink"] as const) {
        for (let skip = 0; skip < 400; skip++) {
          const fault: Fault = { op, code: op === "write" || op === "append" ? "ENOSPC" : "EIO", skip, partialBytes: (skip * 37) % 150 };
          let hit: boolean;
          try {
            hit = await faultRun(plan!, fault);
          } catch (err) {
            console.error(`REPLAY: ${replayCommand(file, sweep, baseSeed + workloads)}`);
            throw err;
          }
          if (!hit) break;
          fired[op] = skip + 1;
        }
      }
      if (workloads === 0) {
        console.log(`${file} › ${sweep}: faults injected per operation ${JSON.stringify(fired)}`);
        assert.ok((fired["datasync"] ?? 0) > 3 && (fired["write"] ?? 0) + (fired["append"] ?? 0) > 3, "the sweep reached the log's writes and datasyncs");
      }
      workloads++;
    } while (Date.now() < deadline);
    if (verifySeconds !== null) console.log(`${file} › ${sweep}: ${workloads} workloads swept`);
  });
});

describe("damaged log records", () => {
  const name = "a damaged line a later line attests is TXTDB_CORRUPT naming its file and offset, never skipped";
  test(name, () => verifyProperty({ file, name, runs: 60 }, corruptRecordProperty()));
});
