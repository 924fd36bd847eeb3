/**
 * A scan's position: the visible entries of a namespace in a range at a
 * snapshot, in key order (or reverse), as [encoded key, decoded value] rows —
 * page entries merged with the in-memory versions (Store, VER-2).
 *
 * Pages are read asynchronously (fill), a page's rows are taken
 * synchronously (next): a row costs no promise. Transaction.scan drives it
 * and merges in the transaction's own writes.
 *
 * - SC-1  Keys come strictly ascending (descending in reverse), each once:
 *         a restart resumes after the last key returned.
 * - SC-2  (ST-2) If a checkpoint swaps the manifest while the scan is
 *         suspended, the scan restarts after the last key it returned, on
 *         the new pages and versions: they are only consistent as a pair.
 *         next() checks before each row, fill() before each page, and a
 *         page read that raced the checkpoint (Store.racedCheckpoint)
 *         restarts too.
 * - SC-3  (PG-7) A page read for the scan alone (not admitted to the cache,
 *         PG-5) hands its values over (valueTakenAt) instead of copying them.
 *         Nothing of a used page stays reachable from the cursor while the
 *         next one is read.
 */
import { decodeValue } from "../codec/value.ts";
import { assertionFailed } from "../errors.ts";
import type { Manifest, NamespaceFiles } from "./manifest.ts";
import { entryIndex, pageIndexFor, valueAt, valueTakenAt, type Page } from "./pages.ts";
import type { EncRange, Store } from "./store.ts";
import { lowerBound, undecided, type NamespaceVersions } from "./versions.ts";

/** A scan's position (see the file's header). */
export class ScanCursor {
  /** The row next() found. */
  enc = "";
  value: unknown = undefined;
  readonly #store: Store;
  readonly #ns: string;
  readonly #range: EncRange;
  readonly #snapshot: number;
  readonly #reverse: boolean;
  /** The last key returned: a restart resumes after it. */
  #last: string | null = null;
  /** Set by a restart; what the chunks below were computed from. */
  #manifest: Manifest | null = null;
  #nsv: NamespaceVersions | undefined = undefined;
  #files: NamespaceFiles | undefined = undefined;
  #chunks: Array<{ index: number; keys: string[] }> = [];
  #chunk = 0;
  /** The current chunk's page (null: none), and its keys merged with the in-memory ones. */
  #page: Page | null = null;
  #owned = false;
  #merged: string[] = [];
  #at = 0;
  #done = false;

  constructor(store: Store, ns: string, range: EncRange, snapshot: number, reverse: boolean) {
    this.#store = store;
    this.#ns = ns;
    this.#range = range;
    this.#snapshot = snapshot;
    this.#reverse = reverse;
  }

  /** Takes the next row of the current chunk into `enc` and `value`; false when the chunk is used up (then fill()). */
  next(): boolean {
    const manifest = this.#manifest;
    const nsv = this.#nsv;
    const page = this.#page;
    while (this.#at < this.#merged.length) {
      if (this.#store.manifest !== manifest) {
        this.#manifest = null; // ST-2: fill() restarts after the last key returned
        return false;
      }
      const enc = this.#merged[this.#at++]!;
      const seen = nsv === undefined ? undecided : nsv.visible(enc, this.#snapshot);
      let value: unknown;
      if (seen !== undecided) value = seen === undefined ? undefined : decodeValue(seen);
      else if (page !== null) {
        const at = entryIndex(page, enc);
        value = at < 0 ? undefined : this.#owned ? valueTakenAt(page, at) : valueAt(page, at);
      }
      if (value === undefined) continue;
      const last = this.#last;
      if (last !== null && (this.#reverse ? enc >= last : enc <= last)) assertionFailed(`a scan would return key ${JSON.stringify(enc)} after ${JSON.stringify(last)}`); // SC-1
      this.#last = enc;
      this.enc = enc;
      this.value = value;
      return true;
    }
    return false;
  }

  /** Moves to the next chunk that has rows left (reading its page) and takes its first row, as next(); false at the end of the scan. */
  async fill(): Promise<boolean> {
    for (;;) {
      if (this.#done) return false;
      if (this.#manifest === null || this.#store.manifest !== this.#manifest) this.#restart();
      else if (this.#at >= this.#merged.length) this.#chunk++;
      if (this.#chunk >= this.#chunks.length) {
        this.#done = true;
        this.#page = null;
        return false;
      }
      const { index, keys } = this.#chunks[this.#chunk]!;
      const manifest = this.#manifest!;
      // Nothing of the used page stays reachable while the next one is read:
      // a scavenge then (they run between tasks) would copy it, and soon move it to the old heap.
      this.#page = null;
      this.#merged = [];
      this.#at = 0;
      let page: Page | null = null;
      let owned = false;
      if (index >= 0) {
        try {
          ({ page, owned } = await this.#store.pages.loadForScan(this.#files!, index)); // PG-5, PG-7
        } catch (err) {
          if (!(await this.#store.racedCheckpoint(err, manifest))) throw err;
          this.#manifest = null;
          continue;
        }
      }
      const remaining = this.#remaining();
      const merged = mergeUnique(page === null ? [] : inRange(page.keys, remaining), keys);
      if (this.#reverse) merged.reverse();
      this.#page = page;
      this.#owned = owned;
      this.#merged = merged;
      if (this.next()) return true;
      // None left in this chunk (next chunk), or a checkpoint swapped the manifest meanwhile (restart).
    }
  }

  /** The part of the range not returned yet. */
  #remaining(): EncRange {
    const last = this.#last;
    if (last === null) return this.#range;
    return this.#reverse ? { start: this.#range.start, end: last } : { start: last + "\0", end: this.#range.end };
  }

  #restart(): void {
    const store = this.#store;
    const remaining = this.#remaining();
    this.#manifest = store.manifest;
    this.#nsv = store.versions.get(this.#ns);
    const memKeys = this.#nsv === undefined ? [] : inRange(this.#nsv.sortedKeys(), remaining);
    this.#files = this.#manifest.namespaces.get(this.#ns);
    this.#chunks = this.#files === undefined || this.#files.pages.length === 0
      ? [{ index: -1, keys: memKeys }]
      : pageChunks(this.#files, remaining, memKeys);
    if (this.#reverse) this.#chunks.reverse();
    this.#chunk = 0;
    this.#page = null;
    this.#merged = [];
    this.#at = 0;
  }
}

/** Keys of a sorted array inside a range. */
function inRange(sorted: readonly string[], range: EncRange): string[] {
  const from = lowerBound(sorted, range.start);
  const to = range.end === null ? sorted.length : lowerBound(sorted, range.end);
  return from === 0 && to === sorted.length ? (sorted as string[]) : sorted.slice(from, to);
}

/** The pages a range touches, each with the in-memory keys that fall in its key range. */
function pageChunks(files: NamespaceFiles, range: EncRange, memKeys: readonly string[]): Array<{ index: number; keys: string[] }> {
  const first = pageIndexFor(files, range.start);
  const last = range.end === null ? files.pages.length - 1 : pageIndexFor(files, range.end);
  const chunks: Array<{ index: number; keys: string[] }> = [];
  let m = 0;
  for (let i = first; i <= last; i++) {
    const next = files.pages[i + 1]?.firstEnc;
    const keys: string[] = [];
    while (m < memKeys.length && (next === undefined || memKeys[m]! < next)) keys.push(memKeys[m++]!);
    chunks.push({ index: i, keys });
  }
  return chunks;
}

function mergeUnique(a: readonly string[], b: readonly string[]): string[] {
  if (b.length === 0) return a.slice();
  if (a.length === 0) return b.slice();
  const out: string[] = [];
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i], y = b[j];
    if (y === undefined || (x !== undefined && x < y)) out.push(a[i++]!);
    else if (x === undefined || y < x) out.push(b[j++]!);
    else {
      out.push(x);
      i++;
      j++;
    }
  }
  return out;
}
