/** Every page format, loaded (the library loads YAML and XML on first use: src/codec/page_formats.ts). */
import type { PageFormat, PageFormatName } from "../../src/codec/page_format.ts";
import { jsonPageFormat } from "../../src/codec/page_format_json.ts";
import { xmlPageFormat } from "../../src/codec/page_format_xml.ts";
import { yamlPageFormat } from "../../src/codec/page_format_yaml.ts";

export const pageFormats: Readonly<Record<PageFormatName, PageFormat>> = { json: jsonPageFormat, yaml: yamlPageFormat, xml: xmlPageFormat };
