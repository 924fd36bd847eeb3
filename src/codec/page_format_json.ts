/**
 * The JSON page format (the default).
 *
 *     {"txtdb":"page","namespace":"accounts","entries":[
 *     ["alice",{"balance":10}],
 *     ["bob",{"balance":5}]
 *     ]}
 *
 * Valid JSON as a whole, one entry per line (PAGE-2): `grep alice` prints the
 * whole row, and `git diff` shows one changed line per changed row. Keys are
 * written in key order and values with their object keys sorted, so the same
 * data always produces the same bytes.
 */
import { ErrorCode, TxtDbError } from "../errors.ts";
import { checkPageShape, utf8Offset, type DecodedPage, type PageEntry, type PageFormat } from "./page_format.ts";
import { parseJson } from "./json.ts";
import type { JsonValue } from "./value.ts";

/** A number literal JSON.parse may turn into ±Infinity, or text that merely looks like one (PAGE-3). */
const mayOverflow = /[eE][+-]?\d{3}|\d{309}/;

export const jsonPageFormat: PageFormat = {
  name: "json",
  extension: ".json",

  encode(namespace: string, entries: readonly PageEntry[]): string {
    const lines = entries.map((e) => `[${JSON.stringify(e.key)},${e.valueText}]`);
    return `{"txtdb":"page","namespace":${JSON.stringify(namespace)},"entries":[\n${lines.join(",\n")}${lines.length > 0 ? "\n" : ""}]}\n`;
  },

  decode(text: string, file: string): DecodedPage {
    let parsed: unknown;
    try {
      parsed = parseJson(text);
    } catch (err) {
      const at = /position (\d+)/.exec(String((err as Error).message));
      const char = at === null ? firstBadEntryLine(text) : Number(at[1]);
      const offset = char === undefined ? undefined : utf8Offset(text, char);
      throw new TxtDbError(ErrorCode.CORRUPT, `page file '${file}' is not valid JSON (${(err as Error).message}). ` +
        "Restore it from a backup or git, or fix the syntax.", offset === undefined ? { file, cause: err } : { file, offset, cause: err });
    }
    const page = parsed as { txtdb?: unknown; namespace?: unknown; entries?: unknown };
    if (typeof page !== "object" || page === null || page.txtdb !== "page" || typeof page.namespace !== "string" || !Array.isArray(page.entries)) {
      throw new TxtDbError(ErrorCode.CORRUPT, `page file '${file}' is not a txtdb page: expected {"txtdb":"page","namespace":…,"entries":[…]}`, { file, offset: 0 });
    }
    const entries = page.entries as unknown[];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (!Array.isArray(e) || e.length !== 2) {
        throw new TxtDbError(ErrorCode.CORRUPT, `page file '${file}': entry ${i} is not a [key, value] pair`, { file, offset: jsonPageFormat.entryOffset(text, i) });
      }
    }
    // JSON.parse makes a non-finite number only of a literal too big for a
    // double: 309 digits or more, or an exponent of three digits. Text
    // without either (nearly every page) needs no walk over every value.
    if (mayOverflow.test(text)) checkPageShape(entries as Array<[JsonValue, JsonValue]>, text, file, (i) => jsonPageFormat.entryOffset(text, i));
    return { namespace: page.namespace, entries: entries as Array<[JsonValue, JsonValue]> };
  },

  /**
   * PAGE-4: encode() writes the header on the first line, one entry per line
   * after it (each but the last ending in a comma), and `]}` on the last: a
   * binary search over the characters between lands in an entry line,
   * parses that line alone, and halves the range around it.
   */
  findEntry(text: string, compare: (key: JsonValue) => number): readonly [JsonValue, JsonValue] | null | undefined {
    const first = text.indexOf("\n") + 1;
    const footer = text.lastIndexOf("\n]}");
    if (first === 0 || footer < first - 1 || !text.startsWith(`{"txtdb":"page",`)) return undefined;
    let lo = first; // a line start
    let hi = footer + 1; // past the newline that ends the last entry line
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const start = text.lastIndexOf("\n", mid - 1) + 1; // the start of the line holding mid: lo ≤ start ≤ mid
      const end = text.indexOf("\n", start); // ≤ footer
      const line = entryOfLine(text.slice(start, end));
      if (mayOverflow.test(line)) return undefined; // decode's checkPageShape decides
      let entry: unknown;
      try {
        entry = parseJson(line);
      } catch {
        return undefined;
      }
      if (!Array.isArray(entry) || entry.length !== 2) return undefined;
      const c = compare(entry[0] as JsonValue);
      if (c === 0) return entry as [JsonValue, JsonValue];
      if (c < 0) lo = end + 1;
      else hi = start;
    }
    return null;
  },

  /** Entry i is on line i + 1 as txtdb writes pages; for a file reformatted by hand, the best guess. */
  entryOffset(text: string, index: number): number {
    let at = 0;
    for (let line = 0; line <= index; line++) {
      const nl = text.indexOf("\n", at);
      if (nl < 0) return at;
      at = nl + 1;
    }
    return at;
  },
};

/**
 * Where a JSON syntax error is, for runtimes whose JSON.parse does not say
 * (Bun, Deno name no position): txtdb writes one entry per line, so the
 * first entry line that does not parse on its own is the best guess.
 */
function firstBadEntryLine(text: string): number | undefined {
  let at = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("[")) {
      try {
        JSON.parse(entryOfLine(line));
      } catch {
        return at;
      }
    }
    at += line.length + 1;
  }
  return undefined;
}

/** An entry line without the comma that separates it from the next (PAGE-2: one entry per line). */
function entryOfLine(line: string): string {
  return line.endsWith(",") ? line.slice(0, -1) : line;
}
