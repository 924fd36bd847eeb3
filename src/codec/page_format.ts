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
 */
import type { JsonValue } from "./value.ts";

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
}
