/**
 * Page formats: how a page — an ordered run of (key, value) entries of one
 * namespace — is written as a text file people read, and read back.
 *
 * The engine sees only this interface, so YAML and XML can join JSON without
 * the engine changing. A format works on the readable JSON forms of keys and
 * values (src/codec/key.ts keyToJson, src/codec/value.ts): it never decides
 * what a value means, only how it is laid out.
 *
 * - PAGE-1  decode(encode(p)) gives back p's namespace and entries, in order.
 * - PAGE-2  One entry is one line (JSON) or one block (YAML, XML), so a row
 *           that did not change is an unchanged line in `git diff`.
 * - PAGE-3  decode reports a file that does not parse, or parses to the wrong
 *           shape, as TXTDB_CORRUPT naming the file and the offset.
 * - PAGE-4  findEntry, where a format has it, finds what decode would on any
 *           text encode() wrote: the same value for a key decode finds, null
 *           for a key it does not (undefined only where the text holds a
 *           number literal PAGE-3 must judge). What it answers on other text
 *           is not defined: callers use it only on text whose checksum shows
 *           that encode() wrote it (PG-1, PG-6).
 */
import { ErrorCode, TxtDbError } from "../errors.ts";
import { utf8Length, type JsonValue } from "./value.ts";

export type PageFormatName = "json" | "yaml" | "xml";

export interface PageEntry {
  /** The key in readable JSON form (keyToJson). */
  key: JsonValue;
  /** The value as JSON text (encodeValue), as it stands in the log. */
  valueText: string;
}

export interface DecodedPage {
  namespace: string;
  /** Keys and values in readable JSON form, in file order. */
  entries: Array<[key: JsonValue, value: JsonValue]>;
}

export interface PageFormat {
  readonly name: PageFormatName;
  /** File name extension, with the dot: ".json". */
  readonly extension: string;
  encode(namespace: string, entries: readonly PageEntry[]): string;
  decode(text: string, file: string): DecodedPage;
  /** Where entry `index` starts in `text` (UTF-16 offset), for TXTDB_CORRUPT errors (contract 11). */
  entryOffset(text: string, index: number): number;
  /**
   * Optional (PAGE-4): the entry whose key `compare` finds — compare(key) < 0
   * when the entry's key sorts before the one sought — by a binary search
   * over the text as encode() lays it out, decoding only the entries it
   * visits. null when no entry holds the key; undefined when the text is not
   * laid out as encode() writes it, or an entry it visits does not decode —
   * then the caller decodes the page whole (and meets the error there).
   */
  findEntry?(text: string, compare: (key: JsonValue) => number): readonly [JsonValue, JsonValue] | null | undefined;
}

/**
 * PAGE-3 for what the JSON forms cannot hold: a non-finite number (YAML's
 * `.inf`, `.nan`; XML's `<num>Infinity</num>`) would silently become null
 * in JSON, so it is refused, naming the entry (`{"$number":"Infinity"}` is
 * how such a number is written).
 */
export function checkPageShape(entries: ReadonlyArray<readonly [JsonValue, JsonValue]>, text: string, file: string, entryOffset: (i: number) => number): void {
  for (const [i, [key, value]] of entries.entries()) {
    const bad = nonFinite(key) ?? nonFinite(value);
    if (bad !== undefined) {
      throw new TxtDbError(ErrorCode.CORRUPT, `page file '${file}': entry ${i} holds the number ${bad}, which JSON cannot hold; ` +
        `write it as {"$number":"${bad}"}`, { file, offset: utf8Offset(text, entryOffset(i)) });
    }
  }
}

/** The UTF-8 byte offset of a UTF-16 offset in `text` (TxtDbError offsets are bytes, contract 11). */
export function utf8Offset(text: string, charOffset: number): number {
  return utf8Length(text.slice(0, charOffset));
}

function nonFinite(v: JsonValue): string | undefined {
  const stack: unknown[] = [v];
  while (stack.length > 0) {
    const x = stack.pop();
    if (typeof x === "number") {
      if (!Number.isFinite(x)) return String(x);
    } else if (typeof x === "object" && x !== null) {
      for (const child of Object.values(x)) stack.push(child);
    }
  }
  return undefined;
}

/** The UTF-16 offset where (zero-based) line `line` starts. */
export function lineStartOffset(text: string, line: number): number {
  let at = 0;
  for (let n = 0; n < line; n++) {
    const nl = text.indexOf("\n", at);
    if (nl < 0) return text.length;
    at = nl + 1;
  }
  return at;
}

/** The one-based line number of a UTF-16 offset. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let at = text.indexOf("\n"); at >= 0 && at < offset; at = text.indexOf("\n", at + 1)) line++;
  return line;
}
