/**
 * Page files and the page cache.
 *
 * A namespace's rows as of the checkpoint TSN live in page files under
 * `pages/<folder>/`, each an ordered run of entries in the database's format
 * (src/codec/page_format.ts). Pages load lazily, when a read needs them, into
 * a cache bounded by `cacheBytes` (least recently used goes first).
 *
 * - PG-1  A page is served only if its file's CRC-32C matches the manifest;
 *         otherwise the read rejects with TXTDB_EDITED naming the file
 *         (contract 16): unedited data is never served from an unvalidated file.
 * - PG-2  A loaded page's keys are strictly ascending and inside the page's
 *         range; otherwise TXTDB_CORRUPT.
 * - PG-3  The cache holds at most `cacheBytes` of pages (estimated as twice
 *         the file size), except a single page larger than the bound.
 * - PG-4  A page keeps its values in their JSON form, as the file decodes
 *         to: a point read copies one (VAL-8) instead of parsing text, and
 *         loading a page stringifies nothing. A page a checkpoint wrote holds
 *         the values' text until its first point read converts it whole.
 * - PG-5  Scans resist the cache: a page a scan reads goes into it only if
 *         its namespace takes at most a quarter of the cache (PostgreSQL's
 *         rule for sequential scans) and the page fits without evicting
 *         another. A big scan then neither flushes the pages point reads
 *         keep hot nor promotes every page it reads to the old heap — which,
 *         scanning 4× the cache, doubled the process's peak memory.
 * - PG-6  A page read for a point read keeps its text and answers that read
 *         by the format's findEntry (PAGE-4): a binary search that decodes
 *         the few entries it visits, not the ~300 of a page — the first read
 *         of a cold process decodes a fortieth of what it did. The page's
 *         second point read, or anything that needs its keys, decodes it
 *         whole (PG-2's checks run then); so do a format without findEntry,
 *         text findEntry does not recognise, and a search that finds no
 *         entry: a key is reported missing only after PG-2's checks. Its
 *         checksum matched (PG-1), so the text is what a checkpoint wrote;
 *         were it damaged out of order, its checksum recomputed by hand, the
 *         first read of a key the page holds could still answer from the
 *         line that holds it before the second read reports TXTDB_CORRUPT.
 * - PG-7  A page a scan reads and does not admit (PG-5) is the scan's alone:
 *         its values go to the caller as the file decoded to (revived where
 *         tagged), not copied as a cached page's must be (VAL-8) — each
 *         entry is handed out once. Scanning 4× the cache, a row then
 *         allocates about a third less.
 */
import { ErrorCode, TxtDbError, assert } from "../errors.ts";
import { parseJson } from "../codec/json.ts";
import { encodedKeyFromJson } from "../codec/key.ts";
import type { PageFormat } from "../codec/page_format.ts";
import { decodeValue, valueFromJson, valueFromOwnedJson, type JsonValue } from "../codec/value.ts";
import type { FileIO, ReadFileOptions } from "../io/file_io.ts";
import { joinPath } from "../io/path.ts";
import { crc32c, crcHex } from "./_crc32c.ts";
import { pagesDirName } from "./_defaults.ts";
import type { Manifest, NamespaceFiles, PageRef } from "./manifest.ts";
import { lowerBound } from "./versions.ts";

/** PG-5: a scan fills the cache only for a namespace of at most 1/scanShareMax of it. */
const scanShareMax = 4;
const decoder = new TextDecoder();
/** A point read waits on its page with nothing else to do (NIO-5). */
const pointRead: ReadFileOptions = { inline: true };

/**
 * A page in memory: parallel arrays in key order. `keys` and `keyJson`
 * always describe every entry: a page read for a point read (PG-6) holds only
 * its text until one of them is asked for, or its second point read, and
 * then decodes itself whole. Every entry index comes from `keys`, so `json`
 * and `texts` are read only of a decoded page.
 */
export class Page {
  #keys: readonly string[];
  #keyJson: readonly JsonValue[];
  /** PG-4: the values' JSON form, or null while only their text is known (or the page's, PG-6); never handed out (copies are). */
  json: readonly JsonValue[] | null;
  /** PG-4: the values' JSON text, until `json` is made from it. */
  texts: readonly string[] | null;
  /** PG-4: entry index by key, made at the first point read of a decoded page. */
  byKey: Map<string, number> | null = null;
  /** Estimated memory (PG-3); fixed for the page's life, as the cache counts it. */
  readonly bytes: number;
  /** PG-6: the file's text and how to decode it whole, until it is. */
  #unread: { readonly text: string; readonly format: PageFormat; readonly decode: (text: string) => Page; searched: boolean } | null = null;

  constructor(keys: readonly string[], keyJson: readonly JsonValue[], json: readonly JsonValue[] | null, texts: readonly string[] | null, bytes: number) {
    this.#keys = keys;
    this.#keyJson = keyJson;
    this.json = json;
    this.texts = texts;
    this.bytes = bytes;
  }

  /** PG-6: a page known by its text alone (findEntry needs the format to have it). */
  static unread(text: string, format: PageFormat, decode: (text: string) => Page, bytes: number): Page {
    const page = new Page([], [], null, null, bytes);
    page.#unread = { text, format, decode, searched: false };
    return page;
  }

  get keys(): readonly string[] {
    if (this.#unread !== null) this.#decodeWhole();
    return this.#keys;
  }

  get keyJson(): readonly JsonValue[] {
    if (this.#unread !== null) this.#decodeWhole();
    return this.#keyJson;
  }

  /**
   * PG-6: the entry of `enc`, from the text alone, at the first point read
   * of an unread page. Undefined otherwise — and when the text is not as the
   * format writes it, or holds no entry for `enc`: the caller then asks the
   * page's keys, which decode it whole, so a key is reported missing only
   * after PG-2's checks, which refuse a text damaged out of order.
   */
  findUnread(enc: string): readonly [JsonValue, JsonValue] | undefined {
    const unread = this.#unread;
    if (unread === null || unread.searched) return undefined;
    unread.searched = true;
    try {
      return unread.format.findEntry!(unread.text, (key) => compareEncoded(encodedKeyFromJson(key), enc)) ?? undefined;
    } catch (err) {
      if (!(err instanceof TxtDbError)) throw err;
      return undefined; // a key that is no key: decoding whole reports it (PG-2)
    }
  }

  #decodeWhole(): void {
    const whole = this.#unread!.decode(this.#unread!.text); // throws before anything changes
    this.#unread = null;
    this.#keys = whole.#keys;
    this.#keyJson = whole.#keyJson;
    this.json = whole.json;
    this.texts = whole.texts;
  }
}

/** A page of values in their JSON form (PG-4). */
export function pageOfJson(keys: readonly string[], keyJson: readonly JsonValue[], json: readonly JsonValue[], bytes: number): Page {
  return new Page(keys, keyJson, json, null, bytes);
}

/** A page of values as JSON text (PG-4: a checkpoint has the text at hand). */
export function pageOfTexts(keys: readonly string[], keyJson: readonly JsonValue[], texts: readonly string[], bytes: number): Page {
  return new Page(keys, keyJson, null, texts, bytes);
}

/** Entry `i`'s value as JSON text. */
export function valueTextAt(page: Page, i: number): string {
  assert(page.json !== null || page.texts !== null, "an entry index of a page not decoded (take it from page.keys)");
  return page.texts !== null ? page.texts[i]! : JSON.stringify(page.json![i]);
}

/** Entry `i`'s value, decoded: a fresh value (VAL-6). */
export function valueAt(page: Page, i: number): unknown {
  assert(page.json !== null || page.texts !== null, "an entry index of a page not decoded (take it from page.keys)");
  return page.json !== null ? valueFromJson(page.json[i]!) : decodeValue(page.texts![i]!);
}

/**
 * Entry `i`'s value, handed over (PG-7): the caller holds the only
 * reference to the page and takes each entry at most once, so a value in
 * JSON form goes as it is where VAL-8 allows, instead of copied.
 */
export function valueTakenAt(page: Page, i: number): unknown {
  assert(page.json !== null || page.texts !== null, "an entry index of a page not decoded (take it from page.keys)");
  return page.json !== null ? valueFromOwnedJson(page.json[i]!) : decodeValue(page.texts![i]!);
}

export interface CacheStats {
  bytes: number;
  pages: number;
  hits: number;
  misses: number;
}

export class PageStore {
  readonly #io: FileIO;
  readonly #root: string;
  readonly #format: PageFormat;
  readonly #cacheBytesMax: number;
  /**
   * PG-3: pages by the manifest entry they were read for (a checkpoint keeps
   * the entries of unchanged pages, so their cache survives it). Eviction is
   * CLOCK: a hit only sets `used`; eviction gives used pages a second chance.
   */
  readonly #cache = new Map<PageRef, { page: Page; used: boolean }>();
  readonly stats: CacheStats = { bytes: 0, pages: 0, hits: 0, misses: 0 };
  /**
   * Pages served from their base copy while an edit of their file is being
   * adopted (src/engine/edits.ts): the content as of the checkpoint TSN,
   * which the file no longer holds. Never evicted; removed by unpin().
   */
  readonly #pinned = new Map<PageRef, Page>();

  constructor(io: FileIO, databaseDir: string, format: PageFormat, cacheBytesMax: number) {
    this.#io = io;
    this.#root = joinPath(databaseDir, pagesDirName);
    this.#format = format;
    this.#cacheBytesMax = cacheBytesMax;
  }

  get root(): string {
    return this.#root;
  }

  get format(): PageFormat {
    return this.#format;
  }

  path(ns: NamespaceFiles, file: string): string {
    return joinPath(this.#root, ns.dir, file);
  }

  /** The page if it is in the cache (counted as a hit), else undefined. */
  cached(ns: NamespaceFiles, index: number): Page | undefined {
    const pinned = this.#pinned.get(ns.pages[index]!);
    if (pinned !== undefined) return pinned;
    const slot = this.#cache.get(ns.pages[index]!);
    if (slot === undefined) return undefined;
    this.stats.hits++;
    slot.used = true;
    return slot.page;
  }

  /** Loads a page for a point read through the cache (PG-1…PG-3, PG-6). */
  async load(ns: NamespaceFiles, index: number): Promise<Page> {
    const cached = this.cached(ns, index);
    if (cached !== undefined) return cached;
    this.stats.misses++;
    const page = await this.#readUnread(ns, index);
    this.admit(ns.pages[index]!, page);
    return page;
  }

  /**
   * A page for a scan (PG-5): from the cache, else read — and admitted only
   * when the whole namespace is small beside the cache and the page fits
   * without evicting another. `owned`: the page was read for this scan and
   * is held nowhere else (PG-7: its values may be taken, valueTakenAt).
   */
  async loadForScan(ns: NamespaceFiles, index: number): Promise<{ page: Page; owned: boolean }> {
    const cached = this.cached(ns, index);
    if (cached !== undefined) return { page: cached, owned: false };
    this.stats.misses++;
    const page = await this.read(ns, index);
    if (!this.#scanAdmits(ns) || this.stats.bytes + page.bytes > this.#cacheBytesMax) return { page, owned: true };
    this.admit(ns.pages[index]!, page);
    return { page, owned: false };
  }

  /** PG-5: whether a scan of `ns` may fill the cache: its pages, estimated as PG-3 does, take at most a quarter of it. */
  #scanAdmits(ns: NamespaceFiles): boolean {
    let bytes = 0;
    for (const ref of ns.pages) bytes += pageBytes(ref.bytes, ref.entries);
    return bytes <= this.#cacheBytesMax / scanShareMax;
  }

  /** Reads and validates a page file without the cache; `options`: as FileIO.readFile (a point read asks for inline). */
  async read(ns: NamespaceFiles, index: number, options: ReadFileOptions = {}): Promise<Page> {
    const ref = ns.pages[index]!;
    const path = this.path(ns, ref.file);
    return this.decode(await this.#readChecked(path, ref, options), path, ref, ns.pages[index + 1]);
  }

  /** PG-6: a page for a point read, known by its text until it is decoded whole (a format without findEntry: decoded at once). */
  async #readUnread(ns: NamespaceFiles, index: number): Promise<Page> {
    if (this.#format.findEntry === undefined) return this.read(ns, index, pointRead);
    const ref = ns.pages[index]!;
    const path = this.path(ns, ref.file);
    const next = ns.pages[index + 1];
    const bytes = await this.#readChecked(path, ref, pointRead);
    const fileBytes = bytes.length; // the closure keeps the text, not the bytes
    const decode = (text: string): Page => this.#decodeText(text, fileBytes, path, ref, next);
    return Page.unread(decoder.decode(bytes), this.#format, decode, pageBytes(fileBytes, ref.entries));
  }

  /** A page file's bytes, its checksum checked against the manifest (PG-1). */
  async #readChecked(path: string, ref: PageRef, options: ReadFileOptions): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = await this.#io.readFile(path, options);
    } catch (err) {
      if (err instanceof TxtDbError && err.code === ErrorCode.NOT_FOUND) {
        throw new TxtDbError(ErrorCode.EDITED, `page file '${path}' is missing: restore it (git checkout, backup) — txtdb will not guess its rows.`, { file: path, cause: err });
      }
      throw err;
    }
    if (crcHex(crc32c(bytes)) !== ref.crc) throw editedError(path);
    return bytes;
  }

  decode(bytes: Uint8Array, path: string, ref: PageRef, next: PageRef | undefined): Page {
    return this.#decodeText(decoder.decode(bytes), bytes.length, path, ref, next);
  }

  #decodeText(text: string, fileBytes: number, path: string, ref: PageRef, next: PageRef | undefined): Page {
    const decoded = this.#format.decode(text, path);
    const corrupt = (i: number, why: string, cause?: unknown): TxtDbError =>
      new TxtDbError(ErrorCode.CORRUPT, `page file '${path}': entry ${i} ${why}`, { file: path, offset: utf8Length(text.slice(0, this.#format.entryOffset(text, i))), cause });
    const keys: string[] = [];
    const keyJson: JsonValue[] = [];
    const values: JsonValue[] = [];
    const entries = decoded.entries;
    for (let i = 0; i < entries.length; i++) {
      const [kj, vj] = entries[i]!;
      let enc: string;
      try {
        enc = encodedKeyFromJson(kj);
      } catch (err) {
        throw corrupt(i, `has an invalid key (${(err as Error).message})`, err);
      }
      const previous = keys.at(-1);
      if (previous !== undefined && previous >= enc) throw corrupt(i, "is out of key order or repeats a key");
      if (enc < ref.firstEnc || (next !== undefined && enc >= next.firstEnc)) throw corrupt(i, "lies outside the page's key range");
      keys.push(enc);
      keyJson.push(kj);
      values.push(vj);
    }
    return pageOfJson(keys, keyJson, values, pageBytes(fileBytes, keys.length));
  }

  /** Serves `page` for `ref` until unpin(ref), whatever its file holds. */
  pin(ref: PageRef, page: Page): void {
    this.#pinned.set(ref, page);
  }

  unpin(ref: PageRef): void {
    this.#pinned.delete(ref);
  }

  /** Puts a page in the cache (a checkpoint admits the pages it just wrote). */
  admit(ref: PageRef, page: Page): void {
    if (this.#cache.has(ref)) return;
    this.#cache.set(ref, { page, used: false });
    this.stats.bytes += page.bytes;
    this.stats.pages++;
    while (this.stats.bytes > this.#cacheBytesMax && this.#cache.size > 1) {
      const [oldest, slot] = this.#cache.entries().next().value!;
      this.#cache.delete(oldest);
      if (slot.used) {
        slot.used = false;
        this.#cache.set(oldest, slot);
      } else {
        this.stats.bytes -= slot.page.bytes;
        this.stats.pages--;
      }
    }
  }

  /** Drops the pages a new manifest no longer names (after a checkpoint). */
  retain(manifest: Manifest): void {
    const named = new Set<PageRef>();
    for (const files of manifest.namespaces.values()) for (const ref of files.pages) named.add(ref);
    for (const [ref, slot] of this.#cache) {
      if (named.has(ref)) continue;
      this.#cache.delete(ref);
      this.stats.bytes -= slot.page.bytes;
      this.stats.pages--;
    }
  }
}

/** The page whose range holds `enc`: the last page whose first key is ≤ enc. */
export function pageIndexFor(ns: NamespaceFiles, enc: string): number {
  let lo = 0, hi = ns.pages.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (ns.pages[mid]!.firstEnc <= enc) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The index of `enc` in a page, or -1. */
export function entryIndex(page: Page, enc: string): number {
  const at = lowerBound(page.keys, enc);
  return page.keys[at] === enc ? at : -1;
}

/**
 * The decoded value of `enc` in a page, or undefined: a point read (PG-4),
 * which first converts a page that holds text.
 */
export function pointValue(page: Page, enc: string): unknown {
  const unread = page.findUnread(enc); // PG-6
  if (unread !== undefined) return valueFromJson(unread[1]);
  if (page.byKey === null) {
    page.byKey = new Map(page.keys.map((k, i) => [k, i]));
    if (page.json === null) page.json = page.texts!.map((t) => parseJson(t) as JsonValue);
    page.texts = null;
  }
  const at = page.byKey.get(enc);
  return at === undefined ? undefined : valueFromJson(page.json![at]!);
}

export function editedError(path: string): TxtDbError {
  return new TxtDbError(ErrorCode.EDITED, `page file '${path}' was changed outside txtdb (its checksum no longer matches the manifest). ` +
    "Reads that need it are refused until the edit is adopted (db.adoptEdits()) or the file is restored (git checkout).", { file: path });
}

/** Characters kept as they are in a namespace's folder name; others are %-escaped. */
const safeChar = /[A-Za-z0-9_\-]/;
const windowsReserved = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i;
const folderCharsMax = 96;

/**
 * A folder name for a namespace that is safe on every file system: %-escaped
 * beyond [A-Za-z0-9_-] (so "." never leads), shortened with a checksum when
 * long, and distinct from `taken` ignoring case (macOS and Windows fold case).
 */
export function folderFor(name: string, taken: ReadonlySet<string>): string {
  let base = "";
  for (const byte of new TextEncoder().encode(name)) {
    const ch = String.fromCharCode(byte);
    base += byte < 0x80 && safeChar.test(ch) ? ch : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  if (windowsReserved.test(base)) base = "_" + base;
  if (base.length > folderCharsMax) base = base.slice(0, folderCharsMax - 9) + "~" + crcHex(crc32c(new TextEncoder().encode(name)));
  const lower = new Set([...taken].map((t) => t.toLowerCase()));
  let candidate = base;
  for (let n = 2; lower.has(candidate.toLowerCase()); n++) candidate = `${base}~${n}`;
  return candidate;
}

/** The order of encoded keys (PG-2): -1, 0 or 1. */
function compareEncoded(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** PG-3: a page's estimated memory: twice its file, and 64 bytes an entry. */
export function pageBytes(fileBytes: number, entries: number): number {
  return fileBytes * 2 + entries * 64;
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}
