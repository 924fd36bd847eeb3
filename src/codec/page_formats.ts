/**
 * The page formats this version can read and write, by name. YAML and XML
 * join here (issue 7); a database created in a format missing here opens with
 * TXTDB_FORMAT, never with a format that would misread it.
 */
import type { PageFormat, PageFormatName } from "./page_format.ts";
import { jsonPageFormat } from "./page_format_json.ts";

export const pageFormats: Readonly<Partial<Record<PageFormatName, PageFormat>>> = { json: jsonPageFormat };
