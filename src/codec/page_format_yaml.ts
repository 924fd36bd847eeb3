/**
 * The YAML page format.
 *
 *     # txtdb page: one "- key/value" block per entry, in key order
 *     txtdb: page
 *     namespace: accounts
 *     entries:
 *     - key: alice
 *       value:
 *         balance: 10
 *         note: 'yes'
 *     - key: bob
 *       value:
 *         balance: 5
 *
 * Every entry is one block that starts with "- key:" at the start of a line
 * (PAGE-2): nothing else in the file starts a line with "- ", so a changed
 * row is a changed block in `git diff`, and entry i is the i-th such line.
 *
 * Safety (YAML-1…YAML-4), since a page may be edited by hand and then read
 * by adoptEdits():
 *
 * - YAML-1  Loaded with js-yaml's CORE schema only: null, booleans, numbers,
 *           strings, sequences, mappings. No custom or language tags (no
 *           !!js/function, !!binary, !!timestamp), so loading never builds
 *           anything but plain JSON values.
 * - YAML-2  Aliases are refused outright (maxAliases 0): a page txtdb writes
 *           has none, and a "billion laughs" document fails on its first
 *           alias instead of expanding.
 * - YAML-3  Nesting is bounded (maxDepth): deep enough for every value the
 *           codec accepts, too shallow to exhaust the stack.
 * - YAML-4  Dumped with js-yaml's DUMP schema, which quotes every string
 *           that any YAML 1.1 or 1.2 reader would take for something else
 *           ('yes', 'no', 'null', '~', '012', '1e3', '<<'), so other tools
 *           read the file the way txtdb does; lines are never folded.
 */
import { CORE_SCHEMA, DUMP_SCHEMA, dump, load } from "js-yaml";
import { ErrorCode, TxtDbError } from "../errors.ts";
import { keyDepthMax, valueDepthMax } from "./limits.ts";
import type { DecodedPage, PageEntry, PageFormat } from "./page_format.ts";
import { checkPageShape, lineStartOffset, utf8Offset } from "./page_format.ts";
import { parseJson } from "./json.ts";
import type { JsonValue } from "./value.ts";

/** YAML-3: a value's tagged JSON nests at most 3 levels per container (a Map is {"$map":[[k,v]]}), plus the page's own levels. */
const yamlDepthMax = 3 * Math.max(valueDepthMax, keyDepthMax) + 8;

const dumpOptions = { schema: DUMP_SCHEMA, lineWidth: -1, noRefs: true } as const;

export const yamlPageFormat: PageFormat = {
  name: "yaml",
  extension: ".yaml",

  encode(namespace: string, entries: readonly PageEntry[]): string {
    let out = `# txtdb page: one "- key/value" block per entry, in key order\n${dump({ txtdb: "page", namespace }, dumpOptions)}`;
    if (entries.length === 0) return out + "entries: []\n";
    // One dump of the whole list: the same text as one dump per entry (a block depends on its entry alone), three times faster.
    return out + "entries:\n" + dump(entries.map((e) => ({ key: e.key, value: parseJson(e.valueText) as JsonValue })), dumpOptions);
  },

  decode(text: string, file: string): DecodedPage {
    let parsed: unknown;
    try {
      parsed = load(text, { schema: CORE_SCHEMA, maxAliases: 0, maxDepth: yamlDepthMax, filename: file });
    } catch (err) {
      const mark = (err as { mark?: { position?: number; line?: number } }).mark;
      const line = mark?.line;
      const offset = mark?.position ?? (line === undefined ? undefined : lineStartOffset(text, line));
      throw new TxtDbError(ErrorCode.CORRUPT, `page file '${file}' is not valid txtdb YAML: ${firstLine(err)}. ` +
        "Fix the syntax (aliases, anchors and custom tags are not accepted) or restore the file.",
        offset === undefined ? { file, cause: err } : { file, offset: utf8Offset(text, offset), cause: err });
    }
    const page = parsed as { txtdb?: unknown; namespace?: unknown; entries?: unknown };
    if (typeof page !== "object" || page === null || page.txtdb !== "page" || typeof page.namespace !== "string" || !Array.isArray(page.entries)) {
      throw new TxtDbError(ErrorCode.CORRUPT, `page file '${file}' is not a txtdb page: expected "txtdb: page", "namespace: …" and "entries:"`, { file, offset: 0 });
    }
    const entries: Array<[JsonValue, JsonValue]> = [];
    for (const [i, e] of (page.entries as unknown[]).entries()) {
      const entry = e as { key?: unknown; value?: unknown } | null;
      if (typeof entry !== "object" || entry === null || Array.isArray(entry) || !Object.hasOwn(entry, "key") || !Object.hasOwn(entry, "value") || Object.keys(entry).length !== 2) {
        throw new TxtDbError(ErrorCode.CORRUPT, `page file '${file}': entry ${i} is not a block of exactly "key:" and "value:"`, { file, offset: utf8Offset(text, yamlPageFormat.entryOffset(text, i)) });
      }
      entries.push([entry.key as JsonValue, entry.value as JsonValue]);
    }
    checkPageShape(entries, text, file, (i) => yamlPageFormat.entryOffset(text, i));
    return { namespace: page.namespace, entries };
  },

  /** Entry i starts at the (i + 1)-th line that begins with "- ". */
  entryOffset(text: string, index: number): number {
    let seen = -1;
    let at = 0;
    while (at < text.length) {
      if (text.startsWith("- ", at) || text.startsWith("-\n", at)) {
        seen++;
        if (seen === index) return at;
      }
      const nl = text.indexOf("\n", at);
      if (nl < 0) break;
      at = nl + 1;
    }
    return text.length;
  },
};

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n")[0]!;
}
