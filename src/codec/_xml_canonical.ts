/**
 * A fast reader for XML pages exactly as xmlPageFormat.encode writes them
 * (src/codec/page_format_xml.ts): the same elements and attributes in the
 * same order, no whitespace but the newline after each line, no comments
 * but the header. It returns undefined at the first deviation, and the
 * caller then parses with fast-xml-parser — which also words the errors.
 *
 * - XMLC-1 For any text, readCanonical returns undefined or exactly what the
 *          general reader returns (a property test compares the two).
 * - XMLC-2 It understands the same escapes as the general reader (five
 *          named ones, character references), so it never expands anything.
 *
 * Why: a page file txtdb wrote is read far more often than one a person
 * edited, and fast-xml-parser parses about 5 MB/s here; this reader is
 * several times faster.
 */
import type { JsonValue } from "./value.ts";

const header = '<?xml version="1.0" encoding="UTF-8"?>\n<!-- txtdb page: one <entry> per line, in key order -->\n<page txtdb="page" ';

class Deviation extends Error {}

/** The namespace and entries of a canonical page, or undefined. */
export function readCanonical(text: string): { namespace: string; entries: Array<[JsonValue, JsonValue]> } | undefined {
  try {
    return new Reader(text).page();
  } catch (err) {
    if (err instanceof Deviation) return undefined;
    if (err instanceof RangeError) return undefined; // too deep for this reader: let the general one decide
    throw err;
  }
}

class Reader {
  readonly #t: string;
  #at = 0;

  constructor(text: string) {
    this.#t = text;
  }

  page(): { namespace: string; entries: Array<[JsonValue, JsonValue]> } {
    this.#expect(header);
    const namespace = this.#attribute("namespace");
    this.#expect(">\n");
    const entries: Array<[JsonValue, JsonValue]> = [];
    while (this.#t.startsWith("<entry><key>", this.#at)) {
      this.#at += 12;
      const key = this.#value();
      this.#expect("</key><value>");
      const value = this.#value();
      this.#expect("</value></entry>\n");
      entries.push([key, value]);
    }
    this.#expect("</page>\n");
    if (this.#at !== this.#t.length) throw new Deviation();
    return { namespace, entries };
  }

  #value(): JsonValue {
    const t = this.#t;
    if (t.charCodeAt(this.#at) !== 0x3c /* < */) throw new Deviation();
    switch (t.charCodeAt(this.#at + 1)) {
      case 0x6e: // n
        if (t.startsWith("<null/>", this.#at)) return this.#skip(7, null);
        if (t.startsWith("<num>", this.#at)) {
          this.#at += 5;
          const end = t.indexOf("</num>", this.#at);
          if (end < 0) throw new Deviation();
          const s = t.slice(this.#at, end);
          if (!/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(s)) throw new Deviation();
          this.#at = end + 6;
          return Number(s);
        }
        break;
      case 0x74: // t
        if (t.startsWith("<true/>", this.#at)) return this.#skip(7, true);
        break;
      case 0x66: // f
        if (t.startsWith("<false/>", this.#at)) return this.#skip(8, false);
        break;
      case 0x73: // s
        if (t.startsWith("<str/>", this.#at)) return this.#skip(6, "");
        if (t.startsWith("<str>", this.#at)) {
          this.#at += 5;
          return unescape(this.#textUntil("</str>"));
        }
        if (t.startsWith('<str enc="json">', this.#at)) {
          this.#at += 16;
          return jsonString(unescape(this.#textUntil("</str>")));
        }
        break;
      case 0x61: // a
        if (t.startsWith("<arr/>", this.#at)) return this.#skip(6, []);
        if (t.startsWith("<arr>", this.#at)) {
          this.#at += 5;
          const out: JsonValue[] = [];
          while (!t.startsWith("</arr>", this.#at)) out.push(this.#value());
          this.#at += 6;
          return out;
        }
        break;
      case 0x6f: // o
        if (t.startsWith("<obj/>", this.#at)) return this.#skip(6, Object.create(null) as Record<string, JsonValue>);
        if (t.startsWith("<obj>", this.#at)) {
          this.#at += 5;
          const out = Object.create(null) as Record<string, JsonValue>;
          while (!t.startsWith("</obj>", this.#at)) {
            this.#expect("<field ");
            const name = this.#attribute("name");
            if (Object.hasOwn(out, name)) throw new Deviation();
            this.#expect(">");
            out[name] = this.#value();
            this.#expect("</field>");
          }
          this.#at += 6;
          return out;
        }
        break;
    }
    throw new Deviation();
  }

  /** name="…" or name-json="…", as encode writes them. */
  #attribute(name: string): string {
    const t = this.#t;
    if (t.startsWith(name + '="', this.#at)) {
      this.#at += name.length + 2;
      return unescape(this.#textUntil('"'));
    }
    if (t.startsWith(name + '-json="', this.#at)) {
      this.#at += name.length + 7;
      return jsonString(unescape(this.#textUntil('"')));
    }
    throw new Deviation();
  }

  /** The raw text up to `end` (which is consumed); no markup inside. */
  #textUntil(end: string): string {
    const stop = this.#t.indexOf(end, this.#at);
    if (stop < 0) throw new Deviation();
    const raw = this.#t.slice(this.#at, stop);
    if (notWritten.test(raw)) throw new Deviation();
    this.#at = stop + end.length;
    return raw;
  }

  #expect(s: string): void {
    if (!this.#t.startsWith(s, this.#at)) throw new Deviation();
    this.#at += s.length;
  }

  #skip<T>(n: number, v: T): T {
    this.#at += n;
    return v;
  }
}

/** What encode never writes raw in text or attributes: markup, line breaks, characters XML cannot hold. */
const notWritten = /[<>\n\r\0-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** XMLC-2: the escapes encode writes; anything else is a deviation. */
function unescape(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&([^;&]{0,10});?/g, (whole, body: string) => {
    if (!whole.endsWith(";")) throw new Deviation();
    if (Object.hasOwn(named, body)) return named[body]!;
    if (body === "#9") return "\t";
    if (body === "#10") return "\n";
    if (body === "#13") return "\r";
    throw new Deviation();
  });
}

function jsonString(body: string): string {
  if (/["\n\r]/.test(body.replace(/\\\\|\\"/g, ""))) throw new Deviation();
  try {
    return JSON.parse(`"${body}"`) as string;
  } catch {
    throw new Deviation();
  }
}
