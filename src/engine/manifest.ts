/**
 * The manifest: the small JSON file that says what the page files hold.
 *
 *     {
 *       "txtdb": "manifest",
 *       "version": 1,
 *       "format": "json",
 *       "checkpointTsn": 12,
 *       "nextPageId": 3,
 *       "namespaces": {
 *         "accounts": { "dir": "accounts", "pages": [
 *           { "file": "000001.json", "first": null, "entries": 2, "bytes": 90, "crc": "6a1f03bc" } ] }
 *       },
 *       "crc": "0c4d2e11"
 *     }
 *
 * | field         | meaning                                                             |
 * |---------------|---------------------------------------------------------------------|
 * | format        | the page format, fixed at creation (contract 17)                    |
 * | checkpointTsn | the page files hold the state as of this TSN                        |
 * | namespaces    | per namespace: its folder under pages/ and its pages in key order;  |
 * |               | a page holds the keys from its `first` (null: from the lowest key)  |
 * |               | up to the next page's `first`; `crc` is the CRC-32C of the file     |
 * | crc           | CRC-32C of the manifest written without this field                  |
 *
 * - MAN-1  The manifest is replaced only atomically: manifest.next is written
 *          and made durable, then renamed over manifest.json, then the folder
 *          is synced. A complete manifest.next found at open is a checkpoint
 *          that crashed after its intent was durable: open rolls it forward.
 * - MAN-2  Every page file the manifest names exists with the checksum it
 *          records, unless someone edited it (contract 16: TXTDB_EDITED).
 * - MAN-3  A page's `first` key is checked when a read first needs its
 *          encoding (a lookup's binary search visits a few pages; check()
 *          visits all): one that is no key is TXTDB_CORRUPT naming the
 *          manifest then, not at open. Its checksum matched, so only a hand
 *          edit that also recomputed the checksum can get there; encoding
 *          every first key at open cost a cold open ~1 ms per 350 pages.
 */
import { ErrorCode, TxtDbError } from "../errors.ts";
import { parseJson } from "../codec/json.ts";
import type { PageFormatName } from "../codec/page_format.ts";
import { encodedKeyFromJson } from "../codec/key.ts";
import type { JsonValue } from "../codec/value.ts";
import type { FileIO, ReadFileOptions } from "../io/file_io.ts";
import { joinPath } from "../io/path.ts";
import { crc32c, crcHex } from "./_crc32c.ts";
import { manifestFileName, manifestNextFileName } from "./_defaults.ts";

export interface PageRef {
  readonly file: string;
  /** The first key the page covers, in readable JSON form; null for the first page. */
  readonly first: JsonValue | null;
  /** encodeKey of `first`; "" for the first page (below every key). */
  readonly firstEnc: string;
  readonly entries: number;
  readonly bytes: number;
  readonly crc: string;
}

export interface NamespaceFiles {
  readonly dir: string;
  readonly pages: readonly PageRef[];
}

export interface Manifest {
  readonly format: PageFormatName;
  readonly checkpointTsn: number;
  readonly nextPageId: number;
  readonly namespaces: ReadonlyMap<string, NamespaceFiles>;
}

const manifestVersion = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function emptyManifest(format: PageFormatName): Manifest {
  return { format, checkpointTsn: 0, nextPageId: 1, namespaces: new Map() };
}

export function encodeManifest(m: Manifest): string {
  const namespaces: Record<string, unknown> = Object.create(null) as Record<string, unknown>; // "__proto__" is a valid name
  for (const [name, ns] of [...m.namespaces].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    namespaces[name] = { dir: ns.dir, pages: ns.pages.map(({ file, first, entries, bytes, crc }) => ({ file, first, entries, bytes, crc })) };
  }
  const body = { txtdb: "manifest", version: manifestVersion, format: m.format, checkpointTsn: m.checkpointTsn, nextPageId: m.nextPageId, namespaces };
  const crc = crcHex(crc32c(encoder.encode(JSON.stringify(body))));
  return JSON.stringify({ ...body, crc }, null, 2) + "\n";
}

/** Parses a manifest; TXTDB_CORRUPT (naming `file`) when it is not a complete, valid one. */
export function decodeManifest(text: string, file: string): Manifest {
  const corrupt = (why: string): TxtDbError =>
    new TxtDbError(ErrorCode.CORRUPT, `the manifest '${file}' is damaged: ${why}. Restore the database from a backup.`, { file, offset: 0 });
  let parsed: Record<string, unknown>;
  try {
    parsed = parseJson(text) as Record<string, unknown>;
  } catch (err) {
    throw corrupt(`not JSON (${(err as Error).message})`);
  }
  const { crc, ...body } = parsed;
  if (parsed.txtdb !== "manifest") throw corrupt("not a txtdb manifest");
  if (parsed.version !== manifestVersion) throw corrupt(`version ${String(parsed.version)} is not ${manifestVersion} (written by a newer txtdb?)`);
  if (crc !== crcHex(crc32c(encoder.encode(JSON.stringify(body))))) throw corrupt("checksum mismatch");
  const { format, checkpointTsn, nextPageId, namespaces } = body as { format: PageFormatName; checkpointTsn: number; nextPageId: number; namespaces: Record<string, { dir: string; pages: Array<Omit<PageRef, "firstEnc">> }> };
  const map = new Map<string, NamespaceFiles>();
  for (const [name, ns] of Object.entries(namespaces)) {
    map.set(name, { dir: ns.dir, pages: ns.pages.map((p) => new StoredPageRef(p, file)) });
  }
  return { format, checkpointTsn, nextPageId, namespaces: map };
}

/** A page read from the manifest; its encoded first key is computed on first use (MAN-3). */
class StoredPageRef implements PageRef {
  readonly file: string;
  readonly first: JsonValue | null;
  readonly entries: number;
  readonly bytes: number;
  readonly crc: string;
  readonly #manifest: string;
  #firstEnc: string | undefined;

  constructor(p: Omit<PageRef, "firstEnc">, manifest: string) {
    this.file = p.file;
    this.first = p.first;
    this.entries = p.entries;
    this.bytes = p.bytes;
    this.crc = p.crc;
    this.#manifest = manifest;
  }

  get firstEnc(): string {
    if (this.#firstEnc === undefined) {
      try {
        this.#firstEnc = this.first === null ? "" : encodedKeyFromJson(this.first);
      } catch (err) {
        throw new TxtDbError(ErrorCode.CORRUPT, `the manifest '${this.#manifest}' is damaged: the first key of page ${this.file} is not a valid key ` +
          `(${(err as Error).message}). Restore the database from a backup.`, { file: this.#manifest, offset: 0, cause: err });
      }
    }
    return this.#firstEnc;
  }
}

/** Reads the manifest; undefined when the database has none yet. `options`: as FileIO.readFile (open reads it inline, NIO-5). */
export async function readManifest(io: FileIO, dir: string, name = manifestFileName, options: ReadFileOptions = {}): Promise<Manifest | undefined> {
  const path = joinPath(dir, name);
  if ((await io.stat(path)) === undefined) return undefined;
  return decodeManifest(decoder.decode(await io.readFile(path, options)), path);
}

/** MAN-1, first half: the new manifest is durable as manifest.next. */
export async function writeManifestNext(io: FileIO, dir: string, m: Manifest): Promise<void> {
  const f = await io.open(joinPath(dir, manifestNextFileName), { create: true });
  try {
    await f.truncate(0);
    await f.write(0, encoder.encode(encodeManifest(m)));
    await f.datasync();
  } finally {
    await f.close();
  }
  await io.syncDir(dir);
}

/** MAN-1, second half: manifest.next becomes the manifest. */
export async function installManifestNext(io: FileIO, dir: string): Promise<void> {
  await io.rename(joinPath(dir, manifestNextFileName), joinPath(dir, manifestFileName));
  await io.syncDir(dir);
}
