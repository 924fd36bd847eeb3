/**
 * Checkpoint: fold the committed versions up to TSN C into the page files.
 *
 * C is the newest TSN no live snapshot is older than, so after the fold the
 * pages at C plus the versions above C still answer every live snapshot.
 *
 * Steps, each durable before the next (MAN-1):
 *   1. for every page that changes: write `<page>.tmp`, datasync, and its
 *      base copy's .tmp (page_base.ts, BASE-2); syncDir the namespace
 *      folders (new folders: syncDir pages/ too);
 *   2. write manifest.next (checkpoint TSN C, the new page map), datasync,
 *      syncDir — from here on the checkpoint will complete, at open if need be;
 *   3. rename every `<page>.tmp` over its page (and its base copy), syncDir the folders;
 *   4. rename manifest.next over manifest.json, syncDir;
 *   5. unlink pages no longer named, swap the in-memory manifest and cache,
 *      prune the versions ≤ C, and let log segments wholly ≤ C go.
 *
 * - CP-1  A checkpoint never blocks readers or committers: pages are built
 *         from immutable inputs (versions ≤ C do not change) and swapped in
 *         one synchronous step.
 * - CP-2  A page whose rows did not change is not rewritten: a one-row change
 *         rewrites one page of at most pageBytesMax (split when larger).
 * - CP-3  Crash anywhere: before step 2 is durable, the old manifest stands
 *         and the .tmp files are garbage (a later checkpoint removes them,
 *         DB-7); after it, open (or the next checkpoint) redoes 3 and 4.
 */
import { decodeKey, keyToJson } from "../codec/key.ts";
import type { PageEntry } from "../codec/page_format.ts";
import { utf8Length, type JsonValue } from "../codec/value.ts";
import type { FileIO } from "../io/file_io.ts";
import { ensureDirDurable } from "../io/durable_dir.ts";
import { joinPath } from "../io/path.ts";
import { crc32c, crcHex } from "./_crc32c.ts";
import { baseCompressionsAheadMax, manifestNextFileName, pageBytesMax, tempSuffix } from "./_defaults.ts";
import { installManifestNext, writeManifestNext, type Manifest, type NamespaceFiles, type PageRef } from "./manifest.ts";
import { basePath, compressBase, installBase, writeBaseTemp } from "./page_base.ts";
import { folderFor, pageBytes, pageIndexFor, pageOfTexts, valueTextAt, type Page, type PageStore } from "./pages.ts";
import type { Store } from "./store.ts";
import { undecided, type NamespaceVersions } from "./versions.ts";

interface Entry {
  enc: string;
  key: JsonValue;
  valueText: string;
}

interface WrittenPage {
  readonly dir: string;
  readonly ref: PageRef;
  readonly page: Page;
  readonly text: Uint8Array;
}

export interface CheckpointResult {
  tsn: number;
  pagesWritten: number;
  pagesRemoved: number;
}

const encoder = new TextEncoder();

/** Folds versions ≤ c into the page files (see the file header). */
export async function checkpoint(io: FileIO, dir: string, store: Store, c: number): Promise<CheckpointResult> {
  const old = store.manifest;
  let nextPageId = old.nextPageId;
  const newPageId = (): string => String(nextPageId++).padStart(6, "0") + store.pages.format.extension;
  const namespaces = new Map(old.namespaces);
  const written: WrittenPage[] = [];
  const removed: string[] = [];
  const newFolders: string[] = [];

  for (const [ns, nsv] of store.versions) {
    if (!nsv.hasVersionsThrough(c)) continue;
    let files = namespaces.get(ns);
    if (files === undefined) {
      const taken = new Set([...namespaces.values()].map((f) => f.dir));
      files = { dir: folderFor(ns, taken), pages: [] };
      newFolders.push(files.dir);
    }
    const folded = await foldNamespace(store.pages, ns, files, nsv, old.checkpointTsn, c, newPageId);
    written.push(...folded.written);
    removed.push(...folded.removed.map((file) => joinPath(store.pages.root, files.dir, file)));
    if (folded.pages.length === 0) namespaces.delete(ns);
    else namespaces.set(ns, { dir: files.dir, pages: folded.pages });
  }

  const manifest: Manifest = { format: old.format, checkpointTsn: c, nextPageId, namespaces };
  const pagesRoot = store.pages.root;
  const touched = [...new Set(written.map((w) => w.dir))];
  try {
    // Step 1.
    for (const folder of newFolders) await ensureDirDurable(io, joinPath(pagesRoot, folder));
    // Base copies are compressed a few pages ahead, while pages are written and synced.
    const compressed: Array<Promise<Uint8Array>> = [];
    const compress = (i: number): void => {
      if (i >= written.length) return;
      compressed[i] = compressBase(written[i]!.text);
      compressed[i]!.catch(() => {}); // awaited below; never an unhandled rejection if step 1 fails first
    };
    for (let i = 0; i < baseCompressionsAheadMax; i++) compress(i);
    for (const [i, w] of written.entries()) {
      await writeFresh(io, joinPath(pagesRoot, w.dir, w.ref.file + tempSuffix), w.text);
      const gz = await compressed[i]!;
      compress(i + baseCompressionsAheadMax);
      await writeBaseTemp(io, joinPath(pagesRoot, w.dir, w.ref.file), gz);
    }
    for (const folder of touched) await io.syncDir(joinPath(pagesRoot, folder));
    // Step 2.
    await io.unlink(joinPath(dir, manifestNextFileName)).catch(() => {});
    await writeManifestNext(io, dir, manifest);
  } catch (err) {
    // CP-3: the intent never became durable; leave nothing for a later checkpoint to trip on.
    await io.unlink(joinPath(dir, manifestNextFileName)).catch(() => {});
    for (const w of written) {
      await io.unlink(joinPath(pagesRoot, w.dir, w.ref.file + tempSuffix)).catch(() => {});
      await io.unlink(basePath(joinPath(pagesRoot, w.dir, w.ref.file)) + tempSuffix).catch(() => {});
    }
    throw err;
  }
  try {
    // Step 3.
    for (const w of written) {
      const path = joinPath(pagesRoot, w.dir, w.ref.file);
      await io.rename(path + tempSuffix, path);
      await installBase(io, path);
    }
    for (const folder of touched) await io.syncDir(joinPath(pagesRoot, folder));
    // Step 4.
    await installManifestNext(io, dir);
  } catch (err) {
    throw new CheckpointIncomplete(err);
  }
  // Step 5 (CP-1: the swap is synchronous).
  store.manifest = manifest;
  store.pages.retain(manifest);
  for (const w of written) store.pages.admit(w.ref, w.page);
  for (const nsv of store.versions.values()) nsv.prune(c);
  for (const [ns, nsv] of store.versions) if (nsv.size === 0 && nsv.lastWriteTsn <= c) store.versions.delete(ns);
  await removeFiles(io, removed, old, manifest, pagesRoot);
  return { tsn: c, pagesWritten: written.length, pagesRemoved: removed.length };
}

/**
 * A checkpoint failed after its intent (manifest.next) was durable: the page
 * files no longer match the in-memory manifest. Open completes it (CP-3).
 */
export class CheckpointIncomplete extends Error {
  constructor(cause: unknown) {
    super(`checkpoint incomplete: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** Writes a file from scratch (never reusing one a failed attempt left) and makes its bytes durable. */
async function writeFresh(io: FileIO, path: string, bytes: Uint8Array): Promise<void> {
  await io.unlink(path).catch(() => {});
  const f = await io.open(path, { create: true, exclusive: true });
  try {
    await f.write(0, bytes);
    await f.datasync();
  } finally {
    await f.close();
  }
}

/** Removes replaced pages, and the folders of namespaces that are gone. */
async function removeFiles(io: FileIO, removed: string[], old: Manifest, manifest: Manifest, pagesRoot: string): Promise<void> {
  for (const path of removed) {
    await io.unlink(path).catch(() => {});
    await io.unlink(basePath(path)).catch(() => {});
  }
  for (const [ns, files] of old.namespaces) {
    if (manifest.namespaces.has(ns)) continue;
    const folder = joinPath(pagesRoot, files.dir);
    if ((await io.readdir(folder).catch(() => ["?"])).length === 0) await io.rmdir(folder).catch(() => {});
  }
  for (const folder of new Set(removed.map((p) => p.slice(0, p.lastIndexOf("/"))))) await io.syncDir(folder).catch(() => {});
}

interface Folded {
  pages: PageRef[];
  written: WrittenPage[];
  removed: string[];
}

/** The new pages of one namespace at C (CP-2). */
async function foldNamespace(
  pages: PageStore, ns: string, files: NamespaceFiles, nsv: NamespaceVersions,
  oldC: number, c: number, newPageId: () => string,
): Promise<Folded> {
  const dropped = nsv.droppedBetween(oldC, c) > 0;
  const changed = nsv.sortedKeys().filter((enc) => nsv.versionAt(enc, c) !== undefined);
  const valueAt = (enc: string): string | undefined => {
    const v = nsv.visible(enc, c);
    return v === undecided ? undefined : v;
  };
  if (dropped || files.pages.length === 0) {
    // Rebuild from the versions alone: the old pages are gone (dropped) or there are none.
    const entries = changed.flatMap((enc) => entryOf(enc, valueAt(enc)));
    const out = buildPages(pages, ns, files.dir, entries, { first: null, firstEnc: "" }, newPageId, files.pages[0]?.file);
    const kept = new Set(out.map((w) => w.ref.file));
    return { pages: out.map((w) => w.ref), written: out, removed: files.pages.map((p) => p.file).filter((f) => !kept.has(f)) };
  }
  // Group the changed keys by the page that holds them.
  const byPage = new Map<number, string[]>();
  for (const enc of changed) {
    const i = pageIndexFor(files, enc);
    const list = byPage.get(i) ?? [];
    list.push(enc);
    byPage.set(i, list);
  }
  const result: PageRef[] = [];
  const written: WrittenPage[] = [];
  const removed: string[] = [];
  for (let i = 0; i < files.pages.length; i++) {
    const ref = files.pages[i]!;
    const keys = byPage.get(i);
    if (keys === undefined) {
      result.push(ref);
      continue;
    }
    // From disk, checksum verified: an edit made by hand is refused (TXTDB_EDITED), never overwritten (contract 16).
    const page = await pages.read(files, i);
    const entries = mergeEntries(page, keys, valueAt);
    const out = buildPages(pages, ns, files.dir, entries, ref, newPageId, ref.file);
    if (out.length === 0) removed.push(ref.file);
    written.push(...out);
    result.push(...out.map((w) => w.ref));
  }
  // The first page always covers the lowest keys.
  if (result.length > 0 && result[0]!.first !== null) result[0] = { ...result[0]!, first: null, firstEnc: "" };
  return { pages: result, written, removed };
}

function entryOf(enc: string, valueText: string | undefined): Entry[] {
  return valueText === undefined ? [] : [{ enc, key: keyToJson(decodeKey(enc)), valueText }];
}

/** A page's entries with the changed keys applied, in key order. */
function mergeEntries(page: Page, changed: string[], valueAt: (enc: string) => string | undefined): Entry[] {
  const out: Entry[] = [];
  let c = 0;
  for (let i = 0; i < page.keys.length || c < changed.length;) {
    const p = page.keys[i];
    const k = changed[c];
    if (k === undefined || (p !== undefined && p < k)) {
      out.push({ enc: p!, key: page.keyJson[i]!, valueText: valueTextAt(page, i) });
      i++;
    } else {
      out.push(...entryOf(k, valueAt(k)));
      c++;
      if (p === k) i++;
    }
  }
  return out;
}

/**
 * Cuts entries into pages of at most pageBytesMax (CP-2). The first keeps
 * `file` (a stable name, so git sees an edit, not a rename) and its lower bound.
 */
function buildPages(
  pages: PageStore, ns: string, dir: string, entries: Entry[], bound: { first: JsonValue | null; firstEnc: string },
  newPageId: () => string, file: string | undefined,
): WrittenPage[] {
  const chunks: Entry[][] = [];
  let chunk: Entry[] = [];
  const headerBytes = utf8Length(JSON.stringify(ns)) + 64; // the page format's wrapping, generously
  let bytes = headerBytes;
  for (const e of entries) {
    const size = utf8Length(JSON.stringify(e.key)) + utf8Length(e.valueText) + 4; // "[", ",", "],\n"
    if (chunk.length > 0 && bytes + size > pageBytesMax) {
      chunks.push(chunk);
      chunk = [];
      bytes = headerBytes;
    }
    chunk.push(e);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks.map((entries, n) => {
    const text = encoder.encode(pages.format.encode(ns, entries.map((e): PageEntry => ({ key: e.key, valueText: e.valueText }))));
    const ref: PageRef = {
      file: n === 0 && file !== undefined ? file : newPageId(),
      first: n === 0 ? bound.first : entries[0]!.key,
      firstEnc: n === 0 ? bound.firstEnc : entries[0]!.enc,
      entries: entries.length,
      bytes: text.length,
      crc: crcHex(crc32c(text)),
    };
    const page = pageOfTexts(entries.map((e) => e.enc), entries.map((e) => e.key), entries.map((e) => e.valueText), pageBytes(text.length, entries.length));
    return { dir, ref, page, text };
  });
}

