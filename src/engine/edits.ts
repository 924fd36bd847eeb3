/**
 * Adopting hand edits: a page file a person (or another tool) changed becomes
 * an ordinary transaction (contract 16, db.adoptEdits()).
 *
 * A page file holds the rows of its key range as of the checkpoint TSN C,
 * and the manifest records its CRC-32C. An edited file no longer matches
 * (PG-1): reads that need it are refused with TXTDB_EDITED. Adoption turns
 * the edit into the rows it changed and commits them:
 *
 *   1. (under the checkpoint lock, so no checkpoint moves files meanwhile)
 *      find every page file whose CRC differs from the manifest; validate
 *      each one completely: it parses in the database's format, names its
 *      namespace, keys are valid, unique, ascending and inside the page's
 *      range, values decode and fit the codec's bounds;
 *   2. read the page's base copy — the bytes txtdb wrote (page_base.ts) —
 *      and diff: rows added, removed, or whose value changed;
 *   3. pin the base pages in the page cache (reads at any snapshot see the
 *      rows as of C, exactly what the manifest promises), begin a
 *      transaction, refuse rows changed since C, apply the difference
 *      through the apply step, commit;
 *   4. give each page file its base content back (write .tmp, datasync,
 *      rename, syncDir): it matches the manifest again, and the next
 *      checkpoint — which db.adoptEdits() runs at once — writes the adopted
 *      rows into it, in txtdb's layout.
 *
 * - ADOPT-1 All or nothing: any invalid edited file rejects with
 *           TXTDB_EDITED naming the file, the line and the reason, before
 *           anything is written. A page with no valid base copy (BASE-1) is
 *           refused the same way.
 * - ADOPT-2 The transaction writes exactly the rows whose canonical value
 *           (encodeValue) differs between base and edit: an untouched row is
 *           not written, so it conflicts with nothing and triggers nothing.
 * - ADOPT-3 Conflicts like any transaction, with the edit's real snapshot:
 *           the person edited the rows as of C, so a row of the difference
 *           that any commit changed after C (or a namespace dropped after C)
 *           is a ConflictError, and commits after the transaction's
 *           snapshot are caught by first-committer-wins at commit. Nothing
 *           is written then; the file stays edited.
 * - ADOPT-4 Other processes see the rows through the log like any commit;
 *           the page file matches its CRC again after step 4, for everyone.
 * - ADOPT-5 The apply step is a parameter (AdoptEditsOptions.apply, default
 *           applyEditsPlain): the table layer routes rows of table
 *           namespaces through its own writes, so indexes follow.
 * - ADOPT-6 Idempotent: a row that already reads as the edit says is left
 *           out. If the process dies after the commit but before step 4,
 *           the file is still edited and adoptEdits() run again commits
 *           nothing more and restores the page.
 */
import { ConflictError, ErrorCode, TxtDbError } from "../errors.ts";
import { decodeKey, encodeKey, keyToString, type Key } from "../codec/key.ts";
import { encodeValue } from "../codec/value.ts";
import type { FileIO } from "../io/file_io.ts";
import { dirname } from "../io/path.ts";
import { crc32c, crcHex } from "./_crc32c.ts";
import { adoptPageBytesMax, tempSuffix } from "./_defaults.ts";
import type { NamespaceFiles, PageRef } from "./manifest.ts";
import { readBase } from "./page_base.ts";
import { lineAt } from "../codec/page_format.ts";
import { pageOfTexts, valueAt, valueTextAt, type Page } from "./pages.ts";
import type { Store } from "./store.ts";
import type { Transaction } from "./transaction.ts";

/**
 * One row of an adopted edit: a put of `value`, or a delete; `file` and
 * `line` (where the row stands in the edited file) let an apply step that
 * refuses a row say where it is (ADOPT-1).
 */
export type EditChange =
  | { readonly namespace: string; readonly key: Key; readonly deleted: false; readonly value: unknown; readonly file: string; readonly line: number }
  | { readonly namespace: string; readonly key: Key; readonly deleted: true; readonly file: string };

/** Writes the changes into the adoption's transaction (ADOPT-5). */
export type ApplyEdits = (tx: Transaction, changes: readonly EditChange[]) => Promise<void>;

export interface AdoptEditsOptions {
  /** How the changes are written; default applyEditsPlain (tx.put / tx.delete). */
  apply?: ApplyEdits;
}

export interface AdoptEditsResult {
  /** The page files that were edited, now adopted. */
  files: string[];
  /** The rows the edits changed, as committed (rows that already read as edited are left out, ADOPT-6). */
  changes: EditChange[];
  /** The TSN of the adoption's transaction; null when the edits changed no row (a reformatted file). */
  tsn: number | null;
}

/** The default apply step: each change as tx.put or tx.delete. */
export const applyEditsPlain: ApplyEdits = async (tx, changes) => {
  for (const c of changes) {
    if (c.deleted) await tx.delete(c.namespace, c.key);
    else await tx.put(c.namespace, c.key, c.value);
  }
};

/** What adoption needs from its database (database.ts holds the checkpoint lock around it). */
export interface EditsHost {
  readonly io: FileIO;
  readonly store: Store;
  begin(): Promise<Transaction>;
}

interface EditedPage {
  readonly namespace: string;
  readonly files: NamespaceFiles;
  readonly ref: PageRef;
  readonly path: string;
  readonly baseBytes: Uint8Array;
  readonly base: Page;
  readonly edited: Page;
  /** Line of each entry of `edited`, one-based. */
  readonly lines: readonly number[];
}

/** Steps 1–4 (see the file header). The caller holds the checkpoint lock. */
export async function adoptEdits(host: EditsHost, options: AdoptEditsOptions): Promise<AdoptEditsResult> {
  const apply = options.apply ?? applyEditsPlain;
  const { store } = host;
  const c = store.manifest.checkpointTsn;
  const edited = await findEditedPages(host);
  if (edited.length === 0) return { files: [], changes: [], tsn: null };
  const diff = edited.flatMap(diffPage);
  let tsn: number | null = null;
  let changes: EditChange[] = [];
  if (diff.length > 0) {
    for (const e of edited) store.pages.pin(e.ref, e.base);
    try {
      const tx = await host.begin();
      try {
        changes = await notYetApplied(tx, diff);
        for (const ch of changes) refuseIfChangedSince(store, ch, c);
        if (changes.length > 0) await apply(tx, changes);
      } catch (err) {
        await tx.rollback();
        throw err;
      }
      if (changes.length > 0) tsn = (await tx.commit()).tsn;
      else await tx.rollback();
    } finally {
      for (const e of edited) store.pages.unpin(e.ref);
    }
  }
  for (const e of edited) await restoreBase(host.io, e.path, e.baseBytes);
  return { files: edited.map((e) => e.path), changes, tsn };
}

/** Steps 1–2 for every page of the manifest: the edited ones, validated, with their base (ADOPT-1). */
async function findEditedPages(host: EditsHost): Promise<EditedPage[]> {
  const { io, store } = host;
  const out: EditedPage[] = [];
  for (const [namespace, files] of store.manifest.namespaces) {
    for (let i = 0; i < files.pages.length; i++) {
      const ref = files.pages[i]!;
      const path = store.pages.path(files, ref.file);
      const size = (await io.stat(path))?.size;
      if (size === undefined) throw refusal(path, undefined, "the file is missing; restore it (git checkout) — a deleted page is not taken as deleted rows");
      if (size > adoptPageBytesMax) throw refusal(path, undefined, `the file is ${size} bytes, more than the ${adoptPageBytesMax} an edited page may have`);
      const bytes = await io.readFile(path);
      if (crcHex(crc32c(bytes)) === ref.crc) continue;
      const baseBytes = await readBase(io, path, ref.crc);
      if (baseBytes === undefined) {
        throw refusal(path, undefined, "its original (the base copy txtdb keeps next to it) is missing or does not match, so the rows you changed " +
          "cannot be told from the rest; restore the file (git checkout), and edit it again after the next checkpoint");
      }
      const next = files.pages[i + 1];
      const base = store.pages.decode(baseBytes, path, ref, next);
      const edited = validateEdit(store, namespace, bytes, path, ref, next);
      out.push({ namespace, files, ref, path, baseBytes, base, edited: edited.page, lines: edited.lines });
    }
  }
  return out;
}

/** Step 1 for one file: everything a page must be, with the line of the first problem (ADOPT-1). */
function validateEdit(store: Store, namespace: string, bytes: Uint8Array, path: string, ref: PageRef, next: PageRef | undefined): { page: Page; lines: number[] } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    throw refusal(path, undefined, "it is not valid UTF-8", err);
  }
  const format = store.pages.format;
  let page: Page;
  try {
    const decoded = format.decode(text, path);
    if (decoded.namespace !== namespace) throw new TxtDbError(ErrorCode.CORRUPT, `it names namespace ${JSON.stringify(decoded.namespace)}, but it is a page of ${JSON.stringify(namespace)}`, { file: path, offset: 0 });
    page = store.pages.decode(bytes, path, ref, next);
  } catch (err) {
    if (!(err instanceof TxtDbError)) throw err;
    throw refusal(path, { bytes, offset: err.offset }, err.message.replace(`page file '${path}'`, "").replace(/^[: ]+/, ""), err);
  }
  const values: string[] = [];
  for (let i = 0; i < page.keys.length; i++) {
    try {
      values.push(encodeValue(valueAt(page, i)));
    } catch (err) {
      const offset = new TextEncoder().encode(text.slice(0, format.entryOffset(text, i))).length;
      throw refusal(path, { bytes, offset }, `entry ${i} (key ${keyToString(decodeKey(page.keys[i]!))}): ${(err as Error).message}`, err);
    }
  }
  const lines = page.keys.map((_, i) => lineAt(text, format.entryOffset(text, i)));
  return { page: pageOfTexts(page.keys, page.keyJson, values, page.bytes), lines };
}

/** Step 2 for one page: rows added, removed or changed (ADOPT-2), in key order. */
function diffPage(e: EditedPage): EditChange[] {
  const out: EditChange[] = [];
  const a = e.base, b = e.edited;
  let i = 0, j = 0;
  while (i < a.keys.length || j < b.keys.length) {
    const ka = a.keys[i], kb = b.keys[j];
    if (kb === undefined || (ka !== undefined && ka < kb)) {
      out.push({ namespace: e.namespace, key: decodeKey(ka!), deleted: true, file: e.path });
      i++;
    } else if (ka === undefined || kb < ka) {
      out.push({ namespace: e.namespace, key: decodeKey(kb), deleted: false, value: valueAt(b, j), file: e.path, line: e.lines[j]! });
      j++;
    } else {
      if (encodeValue(valueAt(a, i)) !== valueTextAt(b, j)) {
        out.push({ namespace: e.namespace, key: decodeKey(kb), deleted: false, value: valueAt(b, j), file: e.path, line: e.lines[j]! });
      }
      i++;
      j++;
    }
  }
  return out;
}

/**
 * ADOPT-6: the changes whose row does not already read as the edit says.
 * A row some commit already set to the edited value needs no write and
 * conflicts with nothing — which is what makes a second adoptEdits() after a
 * crash between commit and step 4 succeed instead of conflicting with the
 * first one's own commit.
 */
async function notYetApplied(tx: Transaction, diff: readonly EditChange[]): Promise<EditChange[]> {
  const out: EditChange[] = [];
  for (const ch of diff) {
    const current = await tx.get(ch.namespace, ch.key);
    const same = ch.deleted ? current === undefined : current !== undefined && encodeValue(current) === encodeValue(ch.value);
    if (!same) out.push(ch);
  }
  return out;
}

/** ADOPT-3: the edit was made against the rows as of C. */
function refuseIfChangedSince(store: Store, ch: EditChange, c: number): void {
  const nsv = store.versions.get(ch.namespace);
  if (nsv === undefined) return;
  const enc = encodeKey(ch.key);
  const tsn = nsv.lastTsnOf(enc);
  if (tsn > c || nsv.droppedBetween(c, Infinity) > 0) {
    throw new ConflictError(`cannot adopt the edit of key ${keyToString(ch.key)} in namespace '${ch.namespace}': ` +
      `${tsn > c ? `TSN ${tsn} changed that row` : "the namespace was dropped"} after the page file was written (TSN ${c}), so the edit was made against old content. ` +
      "Restore the file (git checkout), checkpoint, and make the edit again.");
  }
}

/** Step 4: the page file gets back the bytes the manifest's CRC describes. */
async function restoreBase(io: FileIO, path: string, bytes: Uint8Array): Promise<void> {
  const tmp = path + tempSuffix;
  await io.unlink(tmp).catch(() => {});
  const f = await io.open(tmp, { create: true, exclusive: true });
  try {
    await f.write(0, bytes);
    await f.datasync();
  } finally {
    await f.close();
  }
  await io.rename(tmp, path);
  await io.syncDir(dirname(path));
}

/** ADOPT-1: the error of an edit that cannot be adopted: file, line, reason. */
function refusal(path: string, at: { bytes: Uint8Array; offset: number | undefined } | undefined, reason: string, cause?: unknown): TxtDbError {
  const line = at?.offset === undefined ? undefined : lineOfByte(at.bytes, at.offset);
  const where = line === undefined ? `'${path}'` : `'${path}' line ${line}`;
  return new TxtDbError(ErrorCode.EDITED, `cannot adopt the edit of ${where}: ${reason.replace(/\.$/, "")}. Nothing was changed.`,
    at?.offset === undefined ? { file: path, cause } : { file: path, offset: at.offset, cause });
}

function lineOfByte(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < Math.min(offset, bytes.length); i++) if (bytes[i] === 0x0a) line++;
  return line;
}
