/**
 * The XML page format.
 *
 *     <?xml version="1.0" encoding="UTF-8"?>
 *     <!-- txtdb page: one <entry> per line, in key order -->
 *     <page txtdb="page" namespace="accounts">
 *     <entry><key><str>alice</str></key><value><obj><field name="balance"><num>10</num></field></obj></value></entry>
 *     <entry><key><str>bob</str></key><value><obj><field name="balance"><num>5</num></field></obj></value></entry>
 *     </page>
 *
 * THE MAPPING (XML-1). Keys and values are first put in their readable JSON
 * form (src/codec/key.ts, src/codec/value.ts: a Date is {"$date":"…"}, a
 * Map {"$map":[…]}, …); each JSON value is then one element named after its
 * JSON type, so every JSON value has exactly one XML form and back:
 *
 * | JSON                 | XML                                                         |
 * |----------------------|-------------------------------------------------------------|
 * | null, true, false    | <null/>, <true/>, <false/>                                  |
 * | number               | <num>-1.5e+21</num> (JSON number syntax)                    |
 * | string               | <str>text</str> — the text exactly, spaces included; line   |
 * |                      | breaks as &#10; and &#13;; <str/> is ""                     |
 * | string XML can't hold| <str enc="json">\u0001…</str>: the JSON string escape,      |
 * |                      | without the quotes (C0 controls but tab, LF and CR; lone     |
 * |                      | surrogates; U+FFFE, U+FFFF)                                 |
 * | array                | <arr>element…</arr>; <arr/> is []                           |
 * | object               | <obj><field name="k">value</field>…</obj>; <obj/> is {}     |
 * |                      | (a name XML can't hold: <field name-json="\u0001">)          |
 *
 * In text and attributes only the five XML escapes (&lt; &gt; &amp; &quot;
 * &apos;) and character references (&#13; &#x9;) are used and understood.
 * Whitespace between elements is ignored; inside <str> it is data.
 *
 * - XML-2  One <entry> per line (PAGE-2); entry i is the i-th "<entry".
 * - XML-3  No DTD, so no entity can be declared, let alone expanded: a
 *          document with "<!DOCTYPE" or "<!ENTITY" is refused before it is
 *          parsed, and an entity reference other than the five predefined
 *          ones is refused. External entities are never fetched.
 * - XML-4  Parsed with fast-xml-parser, processEntities off (this file
 *          decodes the escapes above itself) and nesting bounded — unless
 *          the text is exactly as encode writes it, which a small reader of
 *          that layout takes several times faster (_xml_canonical.ts, XMLC-1).
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { readCanonical } from "./_xml_canonical.ts";
import { ErrorCode, TxtDbError } from "../errors.ts";
import { keyDepthMax, valueDepthMax } from "./limits.ts";
import type { DecodedPage, PageEntry, PageFormat } from "./page_format.ts";
import { checkPageShape, lineStartOffset, utf8Offset } from "./page_format.ts";
import { parseJson } from "./json.ts";
import type { JsonValue } from "./value.ts";

/** XML-4: a JSON level is at most two elements (<obj><field>); a value's tagged JSON nests 3 levels per container; plus the page's own. */
const xmlDepthMax = 6 * Math.max(valueDepthMax, keyDepthMax) + 8;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  cdataPropName: "#cdata",
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: xmlDepthMax,
});

export const xmlPageFormat: PageFormat = {
  name: "xml",
  extension: ".xml",

  encode(namespace: string, entries: readonly PageEntry[]): string {
    let out = `<?xml version="1.0" encoding="UTF-8"?>\n<!-- txtdb page: one <entry> per line, in key order -->\n<page txtdb="page" ${attribute("namespace", namespace)}>\n`;
    for (const e of entries) {
      out += `<entry><key>${element(e.key)}</key><value>${element(parseJson(e.valueText) as JsonValue)}</value></entry>\n`;
    }
    return out + "</page>\n";
  },

  decode(text: string, file: string): DecodedPage {
    const fast = readCanonical(text); // XMLC-1: the pages txtdb wrote, several times faster
    if (fast !== undefined) {
      checkPageShape(fast.entries, text, file, (i) => xmlPageFormat.entryOffset(text, i));
      return fast;
    }
    return decodeGeneral(text, file);
  },

  entryOffset(text: string, index: number): number {
    let at = text.indexOf("<page");
    for (let n = 0; n <= index; n++) {
      at = text.indexOf("<entry", at + 1);
      if (at < 0) return text.length;
    }
    return at;
  },
};

/** Any XML page, hand-edited ones included: fast-xml-parser after the XML-3 checks. */
export function decodeGeneral(text: string, file: string): DecodedPage {
  const fail = (why: string, offset: number): TxtDbError =>
    new TxtDbError(ErrorCode.CORRUPT, `page file '${file}' is not valid txtdb XML: ${why}`, { file, offset: utf8Offset(text, offset) });
  const dtd = /<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i.exec(text);
  if (dtd !== null) throw fail(`it has a <!${dtd[1]}> declaration; txtdb pages have no DTD and no entities (XML-3)`, dtd.index);
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true) throw fail(`${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`, lineStartOffset(text, valid.err.line - 1));
  let tree: XmlNode[];
  try {
    tree = parser.parse(text) as XmlNode[];
  } catch (err) {
    throw fail(String((err as Error)?.message ?? err), 0);
  }
  const roots = tree.filter((n) => !isBlank(n));
  const root = roots[0];
  if (roots.length !== 1 || root === undefined || nameOf(root) !== "page" || attr(root, "txtdb") !== "page") {
    throw fail('expected one root element <page txtdb="page" namespace="…">', 0);
  }
  let namespace: string;
  let entryIndex = 0;
  const entryFail = (why: string): TxtDbError => fail(`entry ${entryIndex}: ${why}`, xmlPageFormat.entryOffset(text, entryIndex));
  try {
    namespace = stringAttribute(root, "namespace");
  } catch (err) {
    throw fail((err as Error).message, 0);
  }
  const entries: Array<[JsonValue, JsonValue]> = [];
  for (const node of children(root, "<page>")) {
    try {
      if (nameOf(node) !== "entry") throw new Error(`<page> holds <${nameOf(node)}>, expected <entry>`);
      const parts = children(node, "<entry>");
      if (parts.length !== 2 || nameOf(parts[0]!) !== "key" || nameOf(parts[1]!) !== "value") throw new Error("an <entry> holds exactly <key>…</key><value>…</value>");
      entries.push([single(parts[0]!, "<key>"), single(parts[1]!, "<value>")]);
    } catch (err) {
      throw entryFail((err as Error).message);
    }
    entryIndex++;
  }
  checkPageShape(entries, text, file, (i) => xmlPageFormat.entryOffset(text, i));
  return { namespace, entries };
}

// ---------------------------------------------------------------------------
// Writing

function element(v: JsonValue): string {
  if (v === null) return "<null/>";
  if (v === true) return "<true/>";
  if (v === false) return "<false/>";
  if (typeof v === "number") return `<num>${JSON.stringify(v)}</num>`;
  if (typeof v === "string") {
    if (v === "") return "<str/>";
    return xmlSafe(v) ? `<str>${escapeText(v)}</str>` : `<str enc="json">${escapeText(jsonEscape(v))}</str>`;
  }
  if (Array.isArray(v)) return v.length === 0 ? "<arr/>" : `<arr>${v.map(element).join("")}</arr>`;
  const names = Object.keys(v);
  if (names.length === 0) return "<obj/>";
  return `<obj>${names.map((k) => `<field ${attribute("name", k)}>${element(v[k]!)}</field>`).join("")}</obj>`;
}

/** name="…", or name-json="…" (the JSON escape) when XML cannot hold the text. */
function attribute(name: string, s: string): string {
  return xmlSafe(s) ? `${name}="${escapeAttribute(s)}"` : `${name}-json="${escapeAttribute(jsonEscape(s))}"`;
}

/** Characters of XML 1.0 (Char). */
function xmlSafe(s: string): boolean {
  return !/[\0-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}

/** The JSON escape of a string, without the quotes; U+FFFE and U+FFFF escaped too (XML cannot hold them). */
function jsonEscape(s: string): string {
  return JSON.stringify(s).slice(1, -1).replace(/[\ufffe\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16));
}

/** Line breaks as references, so an entry stays one line (XML-2) and CR survives parsers that normalise line ends. */
function escapeText(s: string): string {
  return s.replace(/[&<>\n\r]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\n": "&#10;", "\r": "&#13;" })[c]!);
}

function escapeAttribute(s: string): string {
  return s.replace(/[&<>"\t\n\r]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;" })[c]!);
}

// ---------------------------------------------------------------------------
// Reading

/** fast-xml-parser's preserveOrder form: { tag: children, ":@": attributes } or { "#text": … }. */
type XmlNode = { [name: string]: XmlNode[] | string | Record<string, string> | undefined; ":@"?: Record<string, string> };

function nameOf(node: XmlNode): string {
  for (const k of Object.keys(node)) if (k !== ":@") return k;
  return "";
}

function isBlank(node: XmlNode): boolean {
  const name = nameOf(node);
  return name === "#text" && /^[ \t\r\n]*$/.test(String(node["#text"]));
}

/** The element children of an element that holds only elements (whitespace between them ignored). */
function children(node: XmlNode, where: string): XmlNode[] {
  const out: XmlNode[] = [];
  for (const child of node[nameOf(node)] as XmlNode[]) {
    if (isBlank(child)) continue;
    const name = nameOf(child);
    if (name === "#text" || name === "#cdata") throw new Error(`${where} holds text where only elements belong`);
    out.push(child);
  }
  return out;
}

function attr(node: XmlNode, name: string): string | undefined {
  const attrs = node[":@"];
  return attrs === undefined || !Object.hasOwn(attrs, name) ? undefined : attrs[name];
}

function single(node: XmlNode, where: string): JsonValue {
  const kids = children(node, where);
  if (kids.length !== 1) throw new Error(`${where} holds ${kids.length} elements, expected one value`);
  return jsonOf(kids[0]!);
}

function jsonOf(node: XmlNode): JsonValue {
  const name = nameOf(node);
  const emptyTag = (): void => {
    if (children(node, `<${name}/>`).length !== 0) throw new Error(`<${name}/> holds something; it must be empty`);
  };
  switch (name) {
    case "null":
      emptyTag();
      return null;
    case "true":
      emptyTag();
      return true;
    case "false":
      emptyTag();
      return false;
    case "num": {
      const t = textOf(node);
      if (!/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(t)) throw new Error(`<num>${t}</num> is not a JSON number`);
      return Number(t);
    }
    case "str": {
      const t = textOf(node);
      const enc = attr(node, "enc");
      if (enc === undefined) return t;
      if (enc !== "json") throw new Error(`<str enc="${enc}">: the only encoding is "json"`);
      return parseJsonString(t);
    }
    case "arr":
      return children(node, "<arr>").map(jsonOf);
    case "obj": {
      const out: Record<string, JsonValue> = Object.create(null) as Record<string, JsonValue>;
      for (const field of children(node, "<obj>")) {
        if (nameOf(field) !== "field") throw new Error(`<obj> holds <${nameOf(field)}>, expected <field name="…">`);
        const k = stringAttribute(field, "name");
        if (Object.hasOwn(out, k)) throw new Error(`<obj> has two fields named ${JSON.stringify(k)}`);
        out[k] = single(field, `<field name=${JSON.stringify(k)}>`);
      }
      return out;
    }
    default:
      throw new Error(`<${name}> is not a txtdb element (null, true, false, num, str, arr, obj)`);
  }
}

/** An attribute that holds a string: name="…" or name-json="…". */
function stringAttribute(node: XmlNode, name: string): string {
  const plain = attr(node, name);
  const json = attr(node, name + "-json");
  if ((plain === undefined) === (json === undefined)) throw new Error(`<${nameOf(node)}> needs exactly one of ${name}="…" and ${name}-json="…"`);
  return plain !== undefined ? decodeEscapes(plain) : parseJsonString(decodeEscapes(json!));
}

/** The text of a leaf element: its text and CDATA, escapes decoded. */
function textOf(node: XmlNode): string {
  let out = "";
  for (const child of node[nameOf(node)] as XmlNode[]) {
    const name = nameOf(child);
    if (name === "#text") out += decodeEscapes(String(child["#text"]));
    else if (name === "#cdata") for (const c of child["#cdata"] as XmlNode[]) out += String(c["#text"] ?? "");
    else throw new Error(`<${nameOf(node)}> holds <${name}>; it holds text only`);
  }
  return out;
}

/** XML-3: the five predefined escapes and character references; nothing else. */
function decodeEscapes(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&([^;&]{0,10});?/g, (whole, body: string) => {
    if (!whole.endsWith(";")) throw new Error(`a bare "&" (write &amp;)`);
    const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
    if (Object.hasOwn(named, body)) return named[body]!;
    const m = /^#(x[0-9a-fA-F]{1,6}|[0-9]{1,7})$/.exec(body);
    if (m === null) throw new Error(`the entity &${body}; is not one of &lt; &gt; &amp; &quot; &apos; or a character reference (XML-3)`);
    const cp = m[1]!.startsWith("x") ? parseInt(m[1]!.slice(1), 16) : parseInt(m[1]!, 10);
    const allowed = cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
    if (!allowed) throw new Error(`&${body}; is not a character XML can hold (use <str enc="json">)`);
    return String.fromCodePoint(cp);
  });
}

function parseJsonString(body: string): string {
  if (/["\n\r]/.test(body.replace(/\\\\|\\"/g, ""))) throw new Error(`an enc="json" text holds an unescaped quote or line break`);
  try {
    return JSON.parse(`"${body}"`) as string;
  } catch (err) {
    throw new Error(`an enc="json" text is not a JSON string escape (${(err as Error).message})`);
  }
}
