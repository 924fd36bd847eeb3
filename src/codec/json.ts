/**
 * JSON.parse, made right where the runtime's is not.
 *
 * - JSON-1  parseJson(text) is what JSON.parse(text) returns on a correct
 *           runtime, and throws the SyntaxError JSON.parse throws for text
 *           that is not JSON.
 * - JSON-2  Deno 2.9.5 and 2.9.6 (V8 15.0) misread object keys: once an
 *           object key holding a backslash has been seen (by JSON.parse, or
 *           by any object built with that key), a later object with the same
 *           keys before it gets that key in place of one written with escape
 *           sequences whose decoded length is the same ("a\n" read as the
 *           key a-backslash): V8 seems to compare the key's source text with
 *           the key it expects over the decoded length. A key written without
 *           escapes is compared exactly, so only a key written with them is
 *           misread (a search of all pairs of keys of up to 3 characters over
 *           a 7-character alphabet found no other case). Where the probe
 *           below finds the bug, text with such a key is parsed again by
 *           JSON5's parser (JavaScript, no transition cache) after JSON.parse
 *           has judged it valid JSON. Elsewhere parseJson is JSON.parse, and
 *           JSON5's module is not loaded at all (it would add about 1 MB to
 *           every process and time to every import of txtdb). It is loaded
 *           with require() — synchronously, not by a top-level await, which
 *           would make every importer of txtdb asynchronous (require() of
 *           the package, bundles to CommonJS).
 */
import { createRequire } from "node:module";

type Parse = (text: string) => unknown;

/** JSON-2: whether this runtime's JSON.parse misreads object keys (checked once, at load). */
export const jsonParseMisreadsKeys: boolean = (() => {
  JSON.parse('{"txtdbProbe":1,"a\\\\":2}');
  return Object.keys(JSON.parse('{"txtdbProbe":1,"a\\n":1}') as object)[1] !== "a\n";
})();

/**
 * Whether an object key in `text`, valid JSON, is written with an escape
 * sequence. A backslash occurs in JSON only in strings, where it starts an
 * escape; each string holding one is followed to its closing quote, and it is
 * a key if a colon comes next.
 */
export function hasEscapedKey(text: string): boolean {
  for (let at = text.indexOf("\\"); at !== -1; ) {
    const close = closingQuote(text, at);
    if (close === -1) return false; // not JSON: JSON.parse has said so already
    let next = close + 1;
    while (isJsonSpace(text.charCodeAt(next))) next++;
    if (text.charCodeAt(next) === 0x3a) return true;
    at = text.indexOf("\\", next);
  }
  return false;
}

/** The quote that ends the string holding `at`: the first after it that an odd run of backslashes does not escape; -1 if none. */
function closingQuote(text: string, at: number): number {
  let quote = text.indexOf('"', at + 1);
  while (quote !== -1 && isEscaped(text, quote)) quote = text.indexOf('"', quote + 1);
  return quote;
}

function isEscaped(text: string, at: number): boolean {
  let backslashes = 0;
  while (text.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
  return backslashes % 2 === 1;
}

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * JSON-2: a parse that takes JSON.parse's verdict on `text`, and its result
 * unless a key in `text` is written with an escape; then `slow`'s (JSON5's
 * parse: a superset of JSON, so for valid JSON it returns what a correct
 * JSON.parse does).
 */
function aroundKeyCache(slow: Parse): Parse {
  return (text) => {
    const value: unknown = JSON.parse(text);
    return hasEscapedKey(text) ? slow(text) : value;
  };
}

function json5Parse(): Parse {
  return (createRequire(import.meta.url)("json5") as { parse: Parse }).parse;
}

/** JSON-2's workaround on any runtime, loading JSON5 where this runtime did not: the tests run it everywhere. */
export function parserAroundKeyCache(): Parse {
  return aroundKeyCache(json5Parse());
}

/**
 * JSON.parse(text) as a correct runtime returns it (JSON-1, JSON-2).
 *
 * @throws SyntaxError if `text` is not JSON.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseJson } from "./json.ts";
 * JSON.parse('{"id":1,"a\\\\":"backslash"}');
 * assert.deepEqual(Object.keys(parseJson('{"id":2,"a\\n":"newline"}') as object), ["id", "a\n"]);
 * ```
 */
export const parseJson: Parse = jsonParseMisreadsKeys ? aroundKeyCache(json5Parse()) : JSON.parse;
