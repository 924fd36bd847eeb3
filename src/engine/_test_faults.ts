/**
 * Deliberate engine faults, for the verification suite only (test/verify_*).
 *
 * A suite that cannot fail proves nothing: test/verify_mutants.test.ts turns
 * each switch on, runs the verification properties, and requires that they
 * catch the broken engine. Each switch is read at exactly one place in the
 * engine, on a line marked `TEST-FAULT`.
 *
 * - TF-1  Every switch is false by default and nothing in the engine or the
 *         public API (src/mod.ts) sets one: a database never runs broken
 *         unless a test imports this file and flips a switch.
 * - TF-2  A test that flips a switch restores it in a `finally`.
 */
export const testFaults = {
  /** group_commit.ts: acknowledge a commit once appended, before the datasync covering it (breaks GC-1). */
  ackBeforeDatasync: false,
  /** group_commit.ts: skip first-committer-wins on written keys (breaks GC-3 for write–write conflicts). */
  skipWriteWriteValidation: false,
  /** log.ts: replay past a bad line and the TSN gap it leaves, instead of TXTDB_CORRUPT (breaks SEG-2). */
  replayPastCorruptRecord: false,
};
