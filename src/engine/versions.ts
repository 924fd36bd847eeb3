/**
 * In-memory versions: for each namespace, the versions of the keys written
 * since the last checkpoint, and the TSNs at which the namespace was dropped.
 * Together with the page files (state as of the checkpoint TSN C) they give
 * the state at any snapshot S ≥ C.
 *
 * - VER-1  A key's versions are in ascending TSN order; the value text is
 *          undefined for a delete (a tombstone).
 * - VER-2  Visibility at snapshot S: the newest version with TSN ≤ S wins,
 *          unless a drop of the namespace with TSN ≤ S is newer still (a
 *          version written by the dropping transaction itself has the drop's
 *          TSN and survives it: the drop comes first, LOG-3). Without either,
 *          the page file decides.
 * - VER-3  The last TSN that wrote a key is the newest of its last version and
 *          the namespace's last drop: first-committer-wins compares it with
 *          the committer's snapshot.
 * - VER-4  prune(C) after a checkpoint at C removes the versions and drops
 *          with TSN ≤ C: the page files hold their effect, and no snapshot is
 *          older than C (a checkpoint never passes the oldest live snapshot).
 * - VER-5  A key's newest version is parsed once, at its first read, and
 *          kept parsed until a newer version supersedes it or a checkpoint
 *          prunes it; every read hands out a copy (valueFromJson, VAL-8),
 *          never the kept tree. Copying is ~10× cheaper than parsing the
 *          text again: a key written recently and read often
 *          (read-your-writes, an index entry and its row) costs a copy per
 *          read, as a cached page does (PG-4). Older versions, read only by
 *          older snapshots, are parsed per read and never kept, so at most
 *          one tree per key is held.
 * - VER-6  A key with one version maps to the version itself, not to an
 *          array of one (see Chain): a point read of a key written once
 *          since the checkpoint makes one memory load fewer.
 */
import { decodeValue, parseValueJson, valueFromJson, type JsonValue } from "../codec/value.ts";

export interface Version {
  readonly tsn: number;
  /** JSON text of the value; undefined for a delete. */
  readonly valueText: string | undefined;
  /** VER-5: the text parsed, from the first read on; engine state, never handed out. */
  json: JsonValue | undefined;
}

/** visible() when the in-memory versions do not know the key: the page files decide. */
export const undecided: unique symbol = Symbol("undecided");

export class NamespaceVersions {
  /** Each key's versions (VER-1): the version itself while it is the only one — most keys — else all of them (VER-6). */
  readonly #chains = new Map<string, Chain>();
  /** Keys in order, and keys added since the last sort. */
  #sorted: string[] = [];
  #unsorted: string[] = [];
  /** TSNs at which the namespace was dropped, ascending. */
  #drops: number[] = [];
  /** The newest TSN that wrote any key of the namespace or dropped it. */
  lastWriteTsn = 0;

  get size(): number {
    return this.#chains.size;
  }

  apply(enc: string, tsn: number, valueText: string | undefined): void {
    const version: Version = { tsn, valueText, json: undefined };
    const chain = this.#chains.get(enc);
    if (chain === undefined) {
      this.#chains.set(enc, version);
      this.#unsorted.push(enc);
    } else {
      newestOf(chain).json = undefined; // VER-5: one kept tree per key
      if (Array.isArray(chain)) chain.push(version);
      else this.#chains.set(enc, [chain, version]);
    }
    this.lastWriteTsn = tsn;
  }

  drop(tsn: number): void {
    this.#drops.push(tsn);
    this.lastWriteTsn = tsn;
  }

  /** VER-2: the value text at the snapshot, undefined if absent, or `undecided`. */
  visible(enc: string, snapshot: number): string | undefined | typeof undecided {
    const v = this.#visibleVersion(enc, snapshot);
    return v === undecided || v === undefined ? v : v.valueText;
  }

  /** VER-2, VER-5: the value at the snapshot, decoded (a fresh value), undefined if absent, or `undecided`. */
  visibleValue(enc: string, snapshot: number): unknown {
    const v = this.#visibleVersion(enc, snapshot);
    if (v === undecided) return undecided;
    if (v === undefined || v.valueText === undefined) return undefined;
    if (v.json === undefined) {
      if (v !== newestOf(this.#chains.get(enc)!)) return decodeValue(v.valueText); // an older version: not kept
      v.json = parseValueJson(v.valueText);
    }
    return valueFromJson(v.json);
  }

  /** VER-2: the version visible at the snapshot (its text undefined for a delete), undefined after a drop, or `undecided`. */
  #visibleVersion(enc: string, snapshot: number): Version | undefined | typeof undecided {
    const drop = this.#drops.length === 0 ? 0 : this.#lastDropAtOrBefore(snapshot);
    const chain = this.#chains.get(enc);
    if (chain !== undefined && !Array.isArray(chain)) {
      if (chain.tsn <= snapshot && chain.tsn >= drop) return chain;
    } else if (chain !== undefined) {
      for (let i = chain.length - 1; i >= 0; i--) {
        const v = chain[i]!;
        if (v.tsn > snapshot) continue;
        if (v.tsn >= drop) return v;
        break;
      }
    }
    return drop > 0 ? undefined : undecided;
  }

  /** VER-3. */
  lastTsnOf(enc: string): number {
    const chain = this.#chains.get(enc);
    return Math.max(chain === undefined ? 0 : newestOf(chain).tsn, this.#drops.at(-1) ?? 0);
  }

  /** The newest drop with TSN ≤ snapshot, or 0. */
  #lastDropAtOrBefore(snapshot: number): number {
    for (let i = this.#drops.length - 1; i >= 0; i--) if (this.#drops[i]! <= snapshot) return this.#drops[i]!;
    return 0;
  }

  /** Whether a drop with TSN in (after, through] exists. */
  droppedBetween(after: number, through: number): number {
    for (let i = this.#drops.length - 1; i >= 0; i--) {
      const d = this.#drops[i]!;
      if (d <= through && d > after) return d;
    }
    return 0;
  }

  /** Every key with versions, in key order. */
  sortedKeys(): string[] {
    if (this.#unsorted.length > 0) {
      const added = this.#unsorted.sort();
      this.#unsorted = [];
      this.#sorted = mergeSorted(this.#sorted, added);
    }
    return this.#sorted;
  }

  /** The newest version with TSN ≤ through, for a checkpoint at `through`. */
  versionAt(enc: string, through: number): Version | undefined {
    const chain = this.#chains.get(enc);
    if (chain === undefined) return undefined;
    const versions = versionsOf(chain);
    for (let i = versions.length - 1; i >= 0; i--) if (versions[i]!.tsn <= through) return versions[i];
    return undefined;
  }

  /** VER-4: forgets what a checkpoint at C folded into the page files. */
  prune(c: number): void {
    let removedKeys = false;
    for (const [enc, chain] of this.#chains) {
      if (Array.isArray(chain)) {
        const keep = (chain as readonly Version[]).filter((v) => v.tsn > c);
        if (keep.length === chain.length) continue;
        if (keep.length > 0) {
          this.#chains.set(enc, chainOf(keep));
          continue;
        }
      } else if (chain.tsn > c) {
        continue; // most keys have one version (VER-6): no array to make for them
      }
      this.#chains.delete(enc);
      removedKeys = true;
    }
    this.#drops = this.#drops.filter((d) => d > c);
    if (removedKeys) {
      this.#sorted = this.sortedKeys().filter((k) => this.#chains.has(k));
    }
  }

  /** Removes every version and drop with TSN ≥ `tsn` (records that were cut from the log). */
  truncateFrom(tsn: number): void {
    for (const [enc, chain] of this.#chains) {
      const versions = versionsOf(chain);
      const keep = versions.filter((v) => v.tsn < tsn);
      if (keep.length === versions.length) continue;
      if (keep.length === 0) this.#chains.delete(enc);
      else this.#chains.set(enc, chainOf(keep));
    }
    this.#drops = this.#drops.filter((d) => d < tsn);
    this.#sorted = this.sortedKeys().filter((k) => this.#chains.has(k));
    this.lastWriteTsn = Math.max(0, ...[...this.#chains.values()].map((c) => newestOf(c).tsn), ...this.#drops);
  }

  /** Whether anything here is at or below C (a checkpoint at C has work to do). */
  hasVersionsThrough(c: number): boolean {
    if (this.#drops.length > 0 && this.#drops[0]! <= c) return true;
    for (const chain of this.#chains.values()) if (versionsOf(chain)[0]!.tsn <= c) return true;
    return false;
  }
}

/** VER-6: a key's versions as the map holds them: its only version itself, or two and more in an array. */
type Chain = Version | Version[];

function versionsOf(chain: Chain): readonly Version[] {
  return Array.isArray(chain) ? chain : [chain];
}

function chainOf(versions: Version[]): Chain {
  return versions.length === 1 ? versions[0]! : versions;
}

function newestOf(chain: Chain): Version {
  return Array.isArray(chain) ? chain.at(-1)! : chain;
}

function mergeSorted(a: string[], b: string[]): string[] {
  if (a.length === 0) return b;
  const out = new Array<string>(a.length + b.length);
  let i = 0, j = 0, k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i]! < b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}

/** Index of the first element ≥ key in a sorted array (lower bound). */
export function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
