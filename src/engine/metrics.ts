/**
 * Counters and latency histograms behind `db.stats()`. Memory is fixed:
 * a handful of numbers and one fixed-size histogram per operation.
 */
import { Histogram } from "./_histogram.ts";

export const operations = ["begin", "get", "scan", "commit", "batch", "datasync", "checkpoint"] as const;
export type Operation = (typeof operations)[number];

/** Reads are timed one in this many (a power of two). */
const readSampleEvery = 16;

export class Metrics {
  commits = 0;
  readOnlyCommits = 0;
  batches = 0;
  datasyncs = 0;
  conflicts = 0;
  rollbacks = 0;
  checkpoints = 0;
  recoveredRecords = 0;
  tornTailBytesDiscarded = 0;
  readonly latency = new Map<Operation, Histogram>(operations.map((op) => [op, new Histogram()]));

  #sampleCounter = 0;

  /**
   * Whether to time this call of a hot operation (reads): one in
   * `readSampleEvery`, so two clock reads do not cost every get.
   */
  sample(_op: Operation): boolean {
    return (++this.#sampleCounter & (readSampleEvery - 1)) === 0;
  }

  record(op: Operation, us: number): void {
    this.latency.get(op)!.record(us);
  }
}
