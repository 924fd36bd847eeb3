/**
 * The page formats this version can read and write, by name. A database
 * created in a format missing here opens with TXTDB_FORMAT, never with a
 * format that would misread it.
 */
import type { PageFormat, PageFormatName } from "./page_format.ts";
import { jsonPageFormat } from "./page_format_json.ts";
import { xmlPageFormat } from "./page_format_xml.ts";
import { yamlPageFormat } from "./page_format_yaml.ts";

export const pageFormats: Readonly<Partial<Record<PageFormatName, PageFormat>>> = { json: jsonPageFormat, yaml: yamlPageFormat, xml: xmlPageFormat };
