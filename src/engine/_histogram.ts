/**
 * A fixed-size latency histogram: log-linear buckets (16 per power of two, so
 * a percentile is within ~4.5% of the true value) over [1 µs, 2³⁰ µs ≈ 18 min).
 * Memory is one Uint32Array of `bucketCount` however long the process runs;
 * values outside the range count in the first or last bucket.
 */

const subBucketsLog2 = 4;
const subBuckets = 1 << subBucketsLog2;
const powersMax = 30;
const bucketCount = powersMax * subBuckets;

export class Histogram {
  readonly #counts = new Uint32Array(bucketCount);
  #total = 0;
  #maxUs = 0;

  /** Records one observation, in microseconds. */
  record(us: number): void {
    this.#counts[bucketOf(us)]!++;
    this.#total++;
    if (us > this.#maxUs) this.#maxUs = us;
  }

  get count(): number {
    return this.#total;
  }

  /** The value at percentile p (0–100), in microseconds; 0 when empty. */
  percentile(p: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#total));
    let seen = 0;
    for (let b = 0; b < bucketCount; b++) {
      seen += this.#counts[b]!;
      if (seen >= rank) return Math.min(upperOf(b), this.#maxUs);
    }
    return this.#maxUs;
  }

  /** p50, p95, p99 and max, in microseconds rounded to 0.1 µs. */
  summary(): { count: number; p50Us: number; p95Us: number; p99Us: number; maxUs: number } {
    const r = (v: number): number => Math.round(v * 10) / 10;
    return { count: this.#total, p50Us: r(this.percentile(50)), p95Us: r(this.percentile(95)), p99Us: r(this.percentile(99)), maxUs: r(this.#maxUs) };
  }
}

function bucketOf(us: number): number {
  if (!(us >= 1)) return 0;
  const power = Math.min(powersMax - 1, Math.floor(Math.log2(us)));
  const base = 2 ** power;
  const sub = Math.min(subBuckets - 1, Math.floor(((us - base) / base) * subBuckets));
  return power * subBuckets + sub;
}

function upperOf(bucket: number): number {
  const power = Math.floor(bucket / subBuckets);
  const sub = bucket % subBuckets;
  const base = 2 ** power;
  return base + ((sub + 1) * base) / subBuckets;
}
