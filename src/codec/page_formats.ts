/**
 * The page formats this version can read and write, by name. A database
 * created in a format missing here opens with TXTDB_FORMAT, never with a
 * format that would misread it.
 *
 * YAML and XML load on first use: their parsers (js-yaml, fast-xml-parser)
 * cost a process that never uses them ~12 MB and ~15 ms at import.
 */
import type { PageFormat, PageFormatName } from "./page_format.ts";
import { jsonPageFormat } from "./page_format_json.ts";

const loaders: Readonly<Record<PageFormatName, () => Promise<PageFormat>>> = {
  json: () => Promise.resolve(jsonPageFormat),
  yaml: async () => (await import("./page_format_yaml.ts")).yamlPageFormat,
  xml: async () => (await import("./page_format_xml.ts")).xmlPageFormat,
};

/** Whether `name` is a page format this version knows. */
export function isPageFormatName(name: unknown): name is PageFormatName {
  return typeof name === "string" && Object.hasOwn(loaders, name);
}

/** The page format named `name`, loaded; undefined for a name this version does not know. */
export function loadPageFormat(name: string): Promise<PageFormat | undefined> {
  return isPageFormatName(name) ? loaders[name]() : Promise.resolve(undefined);
}
