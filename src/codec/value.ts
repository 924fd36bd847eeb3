/**
 * Values: validation and the type-faithful, human-readable JSON form.
 *
 * A value is stored as JSON text that people read in page files and the log.
 * Plain JSON maps to itself; types JSON cannot hold are written as a tag — an
 * object with a single key that starts with exactly one "$":
 *
 * | value                              | JSON form                                                  |
 * |------------------------------------|------------------------------------------------------------|
 * | null, boolean, string              | itself                                                     |
 * | number, finite and not -0          | itself                                                     |
 * | NaN, Infinity, -Infinity, -0       | {"$number":"NaN"} (or "Infinity", "-Infinity", "-0")       |
 * | bigint                             | {"$bigint":"-123"} (decimal)                               |
 * | Date                               | {"$date":"2026-01-01T00:00:00.000Z"} (toISOString)         |
 * | invalid Date                       | {"$date":null}                                             |
 * | Uint8Array (or a subclass: Buffer) | {"$bytes":"CgsM"} (standard base64, padded)                |
 * | Map                                | {"$map":[[key,value],…]} (insertion order)                 |
 * | Set                                | {"$set":[element,…]} (insertion order)                     |
 * | undefined in a container; a hole   | {"$undefined":true}                                        |
 * | array                              | [element,…]                                                |
 * | plain object                       | {"key":value,…}; a key starting with "$" gets one more "$" |
 *
 * Invariants (cited by the tests in test/codec_value.test.ts):
 *
 * - VAL-1  Round trip: valueFromJson(valueToJson(v)) and
 *          decodeValue(encodeValue(v)) equal v: same types, -0, NaN, invalid
 *          Dates, own properties whose value is undefined, Map and Set
 *          insertion order (contract 14). Array holes come back as undefined;
 *          null-prototype objects come back as ordinary plain objects.
 * - VAL-2  Escaping: an object key that starts with "$" is written with one
 *          more "$" ("$date" → "$$date") and read back by removing one; so a
 *          single-key object whose key starts with exactly one "$" is always
 *          a tag, and a tag decode does not know is TXTDB_CORRUPT.
 * - VAL-3  Refused with TXTDB_INVALID_VALUE, naming the path of the offending
 *          part (`value.items[3].fn is a function`), before anything is
 *          written: functions, symbols (as values or property keys), cycles,
 *          class instances other than Date/Map/Set/Uint8Array/Array, nesting
 *          deeper than valueDepthMax, more than valueBytesMax encoded, and a
 *          top-level undefined. A shared acyclic reference is fine: it is copied.
 * - VAL-4  Plain-object keys are written sorted (Array.prototype.sort order)
 *          so page files diff well (contract 14). JSON objects enumerate
 *          array-index keys ("0", "1", … "4294967294") first in numeric order,
 *          so those come first, then the other keys in sorted order.
 * - VAL-5  Decoding never touches a prototype: "__proto__", "constructor" and
 *          "prototype" are ordinary own data properties of the result.
 * - VAL-6  Decoded values are fresh objects, never shared with the input
 *          (but see valueFromOwnedJson, VAL-8), and getters on input objects
 *          are read once (like JSON.stringify).
 * - VAL-7  decodeValue accepts only what encodeValue can produce, except that
 *          plain JSON without tags is taken as is; anything else (bad JSON,
 *          unknown or malformed tag, unescaped "$" key) is TXTDB_CORRUPT.
 * - VAL-8  Plain JSON — no key starting with "$", so no tag — is its own
 *          value: decodeValue returns JSON.parse's result as it is, and
 *          valueFromJson a deep copy (about twice as fast as reviving, and
 *          four times as fast as parsing the text again; so pages keep
 *          values in their JSON form, src/engine/pages.ts PG-4).
 *          valueFromOwnedJson, whose caller gives the JSON up, returns plain
 *          JSON of ordinary objects and arrays as it is: the one exception
 *          to VAL-6, for JSON nothing else holds (a scan's own page, PG-7).
 *
 * Array properties that are not indices are not stored (as in JSON.stringify).
 */
import { Buffer } from "node:buffer";
import { TxtDbError } from "../errors.ts";
import { parseJson } from "./json.ts";
import { valueBytesMax, valueDepthMax } from "./limits.ts";

/** A JSON value: what JSON.parse returns and JSON.stringify accepts. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

type JsonObject = { [key: string]: JsonValue };

const dollar = 0x24; // "$"

// ---------------------------------------------------------------------------
// Public API

/**
 * Validates `value` and returns its tagged JSON form (VAL-1…VAL-4, VAL-6).
 *
 * @throws TxtDbError TXTDB_INVALID_VALUE for what cannot be stored (VAL-3).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { valueToJson } from "./value.ts";
 * const json = valueToJson({ at: new Date(0), n: 1n });
 * assert.equal(JSON.stringify(json), '{"at":{"$date":"1970-01-01T00:00:00.000Z"},"n":{"$bigint":"1"}}');
 * ```
 */
export function valueToJson(value: unknown): JsonValue {
  if (value === undefined) {
    throw invalidValue("value is undefined: only a value inside an array, object, Map or Set can be undefined (to remove a key, delete it)");
  }
  const state: EncodeState = { ancestors: [], path: [], sizeBytes: 0 };
  return toJson(value, 0, state);
}

/**
 * The value whose tagged JSON form is `json`: the exact inverse of
 * {@link valueToJson} (VAL-1). The result is fresh (VAL-6).
 *
 * @throws TxtDbError TXTDB_CORRUPT on an unknown or malformed tag (VAL-7).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { valueFromJson } from "./value.ts";
 * assert.deepEqual(valueFromJson({ n: { $bigint: "1" }, $$price: 3 }), { n: 1n, $price: 3 });
 * ```
 */
export function valueFromJson(json: JsonValue): unknown {
  const copy = plainWalk(json, 0, true);
  return copy !== notPlain ? copy : revive(json);
}

/**
 * The value of `json`, as valueFromJson, for a caller that hands `json` over:
 * nothing else holds it or any part of it (VAL-8). Plain JSON made of
 * ordinary objects and arrays is returned as it is — there is no copy to
 * make; anything else (tags, objects without Object.prototype, which a page
 * format's decoder may build) goes through valueFromJson.
 */
export function valueFromOwnedJson(json: JsonValue): unknown {
  return plainWalk(json, 0, false) !== notPlain ? json : valueFromJson(json);
}

/**
 * Validates `value` and returns its JSON text: JSON.stringify(valueToJson(value)).
 *
 * @throws TxtDbError TXTDB_INVALID_VALUE for what cannot be stored (VAL-3),
 *   including text longer than valueBytesMax UTF-8 bytes.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeValue } from "./value.ts";
 * assert.equal(encodeValue({ b: [1, undefined], a: new Set(["x"]) }), '{"a":{"$set":["x"]},"b":[1,{"$undefined":true}]}');
 * ```
 */
export function encodeValue(value: unknown): string {
  const text = JSON.stringify(valueToJson(value));
  const bytes = utf8LengthAbove(text, valueBytesMax);
  if (bytes > valueBytesMax) throw tooLarge("value", bytes);
  return text;
}

/**
 * The value whose JSON text is `text`: the inverse of {@link encodeValue}.
 * Text without a "$" is plain JSON and is returned straight from JSON.parse.
 *
 * @throws TxtDbError TXTDB_CORRUPT if `text` is not JSON or holds a bad tag (VAL-7).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeValue } from "./value.ts";
 * const v = decodeValue('{"at":{"$date":"2026-01-01T00:00:00.000Z"}}') as { at: Date };
 * assert.equal(v.at.getTime(), Date.UTC(2026, 0, 1));
 * ```
 */
export function decodeValue(text: string): unknown {
  const json = parseValueJson(text);
  // JSON.parse made fresh objects with own "__proto__" properties (VAL-5).
  if (isPlainValueText(text)) return json;
  return revive(json);
}

/** A stored value's JSON text parsed, still tagged (valueFromJson decodes it). @throws TxtDbError TXTDB_CORRUPT if it is not JSON. */
export function parseValueJson(text: string): JsonValue {
  try {
    return parseJson(text) as JsonValue;
  } catch (err) {
    throw corrupt(`value is not valid JSON: ${(err as Error).message}`, err);
  }
}

/**
 * Whether `text` holds no "$" (not even escaped as \u0024): no tag and no
 * escaped key, so decodeValue(text) is JSON.parse(text) as it is (VAL-8).
 */
export function isPlainValueText(text: string): boolean {
  return text.indexOf("$") === -1 && text.indexOf("\\u0024") === -1;
}

// ---------------------------------------------------------------------------
// Decoding

const notPlain: unique symbol = Symbol("notPlain");

/**
 * VAL-8: `json` as its own value — a deep copy (`copy`), or `json` itself
 * (valueFromOwnedJson, which then also requires ordinary objects and
 * arrays: VAL-1 gives back no other kind) — or notPlain at the first key
 * that starts with "$" (a tag or an escaped key) or anything revive must
 * report: a value JSON cannot hold, or nesting too deep.
 */
function plainWalk(json: JsonValue, depth: number, copy: boolean): JsonValue | typeof notPlain {
  if (typeof json !== "object") return isJsonPrimitive(json) ? json : notPlain;
  if (json === null) return null;
  if (depth >= valueDepthMax) return notPlain;
  if (Array.isArray(json)) {
    if (!copy && Object.getPrototypeOf(json) !== Array.prototype) return notPlain;
    const out = copy ? json.slice() : json;
    for (let i = 0; i < out.length; i++) {
      const x = out[i]!;
      const type = typeof x;
      if (type === "string" || type === "number" || type === "boolean") continue;
      if (type !== "object") return notPlain;
      if (x === null) continue;
      const child = plainWalk(x, depth + 1, copy);
      if (child === notPlain) return notPlain;
      if (copy) out[i] = child;
    }
    return out;
  }
  if (!copy && Object.getPrototypeOf(json) !== Object.prototype) return notPlain;
  const out: JsonObject = copy ? { ...json } : json; // CreateDataProperty: an own "__proto__" is copied as data (VAL-5)
  for (const key in out) {
    if (key.charCodeAt(0) === dollar) return notPlain;
    const x = out[key]!;
    const type = typeof x;
    if (type === "string" || type === "number" || type === "boolean") continue;
    if (type !== "object") return notPlain;
    if (x === null || !Object.hasOwn(out, key)) continue;
    const child = plainWalk(x, depth + 1, copy);
    if (child === notPlain) return notPlain;
    if (!copy) continue;
    if (key === "__proto__") Object.defineProperty(out, key, { value: child, writable: true, enumerable: true, configurable: true });
    else out[key] = child;
  }
  return out;
}

function isJsonPrimitive(x: unknown): boolean {
  const type = typeof x;
  return type === "string" || type === "number" || type === "boolean";
}

function revive(json: JsonValue): unknown {
  let value: unknown;
  try {
    value = fromJson(json, 0);
  } catch (err) {
    if (!(err instanceof DecodeFailure)) throw err;
    throw corrupt(`value${elide(err.steps.reverse())} ${err.what}`);
  }
  if (value === undefined) throw corrupt('value is {"$undefined":true} at the top level, which encodeValue never writes');
  return value;
}

// ---------------------------------------------------------------------------
// Encoding

/**
 * `ancestors[d]` is the container at depth d on the current path and
 * `path[d]` the key, index or entry number of its child on the path: they
 * cost one store per step and are only read to write an error message.
 * `sizeBytes` is a lower bound of the JSON text length, to stop early.
 */
interface EncodeState {
  ancestors: object[];
  path: (string | number)[];
  sizeBytes: number;
}

function toJson(v: unknown, depth: number, st: EncodeState): JsonValue {
  switch (typeof v) {
    case "string":
      st.sizeBytes += v.length + 2;
      return v;
    case "number":
      st.sizeBytes += 1;
      return v === v && v !== Infinity && v !== -Infinity && (v !== 0 || 1 / v > 0) ? v : { $number: specialNumberName(v) };
    case "boolean":
      st.sizeBytes += 4;
      return v;
    case "bigint":
      st.sizeBytes += 14;
      return { $bigint: v.toString() };
    case "undefined":
      st.sizeBytes += 18;
      return { $undefined: true };
    case "object":
      if (v === null) {
        st.sizeBytes += 4;
        return null;
      }
      return objectToJson(v, depth, st);
  }
  // symbol, function
  throw invalidValue(`${formatPath(st, depth)} is a ${typeof v}`);
}

function specialNumberName(n: number): string {
  return n !== n ? "NaN" : n === Infinity ? "Infinity" : n === -Infinity ? "-Infinity" : "-0";
}

function objectToJson(v: object, depth: number, st: EncodeState): JsonValue {
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Date.prototype) return dateToJson(v as Date, st);
  if (v instanceof Uint8Array) return bytesToJson(v, depth, st);
  enterContainer(v, depth, st);
  if (proto === Object.prototype || proto === null) return plainToJson(v as Record<string, unknown>, depth, st);
  if (proto === Array.prototype) return arrayToJson(v as unknown[], depth, st);
  if (proto === Map.prototype) return { $map: mapToJson(v as Map<unknown, unknown>, depth, st) };
  if (proto === Set.prototype) return { $set: setToJson(v as Set<unknown>, depth, st) };
  throw invalidValue(
    `${formatPath(st, depth)} is ${describeInstance(proto)}; only plain objects, arrays, Date, Map, Set and Uint8Array can be stored`,
  );
}

/** Records `v` on the path; refuses cycles, too deep nesting and too large values. */
function enterContainer(v: object, depth: number, st: EncodeState): void {
  if (depth >= valueDepthMax) {
    st.ancestors[depth] = v;
    throw cycleOrTooDeep(depth, st);
  }
  st.ancestors[depth] = v;
  st.sizeBytes += 2;
  if (st.sizeBytes > valueBytesMax) throw tooLarge(formatPath(st, depth), st.sizeBytes, true);
}

function plainToJson(obj: Record<string, unknown>, depth: number, st: EncodeState): JsonValue {
  const symbols = Object.getOwnPropertySymbols(obj);
  if (symbols.length > 0) refuseSymbolKeys(obj, symbols, depth, st);
  const keys = sortKeys(Object.keys(obj));
  const out: JsonObject = {};
  for (const key of keys) {
    st.path[depth] = key;
    const json = toJson(obj[key], depth + 1, st);
    const name = key.charCodeAt(0) === dollar ? "$" + key : key;
    st.sizeBytes += name.length + 3;
    if (name === "__proto__") Object.defineProperty(out, name, { value: json, enumerable: true, writable: true, configurable: true });
    else out[name] = json;
  }
  if (st.sizeBytes > valueBytesMax) throw tooLarge(formatPath(st, depth), st.sizeBytes, true);
  return out;
}

/** Symbol-keyed properties are refused when enumerable (the others are ignored, like non-enumerable string keys). */
function refuseSymbolKeys(obj: object, symbols: symbol[], depth: number, st: EncodeState): void {
  for (const symbol of symbols) {
    if (Object.prototype.propertyIsEnumerable.call(obj, symbol)) {
      throw invalidValue(`${formatPath(st, depth)} has the symbol property key ${String(symbol)}; property keys must be strings`);
    }
  }
}

/**
 * Sorted key lists of recently seen object shapes: objects of one shape (rows
 * of a table) repeat, and comparing a key list with `===` (property names are
 * interned) costs a fraction of sorting it again. Direct-mapped, bounded.
 */
const sortedKeysCache: ({ keys: string[]; sorted: string[] } | undefined)[] = new Array(64).fill(undefined);
const sortedKeysCacheKeysMax = 64;

/** `keys` in Array.prototype.sort order (UTF-16 code units); the result is shared, read it only. */
function sortKeys(keys: string[]): string[] {
  const n = keys.length;
  if (n < 2) return keys;
  if (n > sortedKeysCacheKeysMax) return keys.sort();
  const slot = (n * 31 + keys[0]!.length * 7 + keys[n - 1]!.length) & 63;
  const hit = sortedKeysCache[slot];
  if (hit !== undefined && sameKeys(hit.keys, keys)) return hit.sorted;
  const sorted = insertionSort(keys.slice());
  sortedKeysCache[slot] = { keys, sorted };
  return sorted;
}

function sameKeys(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Insertion sort: faster than Array.prototype.sort for a few keys, linear when already sorted. */
function insertionSort(keys: string[]): string[] {
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

function arrayToJson(arr: unknown[], depth: number, st: EncodeState): JsonValue[] {
  const out: JsonValue[] = [];
  for (let i = 0; i < arr.length; i++) {
    st.path[depth] = i;
    out.push(toJson(arr[i], depth + 1, st)); // a hole reads as undefined
    if (st.sizeBytes > valueBytesMax) throw tooLarge(formatPath(st, depth), st.sizeBytes, true);
  }
  return out;
}

/** Map entries; `path[depth]` is 2 × entry + 0 for the key, + 1 for the value. */
function mapToJson(map: Map<unknown, unknown>, depth: number, st: EncodeState): JsonValue[] {
  const out: JsonValue[] = [];
  let i = 0;
  for (const [k, v] of map) {
    st.path[depth] = 2 * i;
    const keyJson = toJson(k, depth + 1, st);
    st.path[depth] = 2 * i + 1;
    out.push([keyJson, toJson(v, depth + 1, st)]);
    st.sizeBytes += 3;
    if (st.sizeBytes > valueBytesMax) throw tooLarge(formatPath(st, depth), st.sizeBytes, true);
    i++;
  }
  return out;
}

function setToJson(set: Set<unknown>, depth: number, st: EncodeState): JsonValue[] {
  const out: JsonValue[] = [];
  let i = 0;
  for (const v of set) {
    st.path[depth] = i++;
    out.push(toJson(v, depth + 1, st));
    if (st.sizeBytes > valueBytesMax) throw tooLarge(formatPath(st, depth), st.sizeBytes, true);
  }
  return out;
}

function dateToJson(d: Date, st: EncodeState): JsonValue {
  st.sizeBytes += 14; // {"$date":null}
  const time = Date.prototype.getTime.call(d);
  return { $date: time === time ? Date.prototype.toISOString.call(d) : null };
}

function bytesToJson(b: Uint8Array, depth: number, st: EncodeState): JsonValue {
  st.sizeBytes += Math.ceil(b.length / 3) * 4 + 12;
  if (st.sizeBytes > valueBytesMax) throw tooLarge(formatPath(st, depth), st.sizeBytes, true);
  return { $bytes: bytesToBase64(b) };
}

function bytesToBase64(b: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000) as unknown as number[]);
  }
  return btoa(binary);
}

/**
 * A decode failure on its way up: each container adds its step as the error
 * passes through (so the walk keeps no path), and valueFromJson turns it into
 * a TXTDB_CORRUPT error whose message starts with the path.
 */
class DecodeFailure {
  readonly steps: string[] = [];
  constructor(readonly what: string) {}
}

/** Adds `step` (".a", "[3]", ".entries[2][0]") to a DecodeFailure passing through. */
function withStep(err: unknown, step: string): unknown {
  if (err instanceof DecodeFailure) err.steps.push(step);
  return err;
}

/** The value of `json`, every container a fresh copy (VAL-6). */
function fromJson(json: JsonValue, depth: number): unknown {
  if (typeof json !== "object") return primitiveFromJson(json);
  if (json === null) return null;
  if (depth >= valueDepthMax) throw new DecodeFailure(`nests containers deeper than valueDepthMax (${valueDepthMax})`);
  if (Array.isArray(json)) return arrayFromJson(json, depth);
  const keys = Object.keys(json);
  if (keys.length === 1 && isTag(keys[0]!)) return tagFromJson(keys[0]!, json[keys[0]!]!, depth);
  return objectFromJson(json, keys, depth);
}

function primitiveFromJson(json: unknown): unknown {
  const type = typeof json;
  if (type === "string" || type === "number" || type === "boolean") return json;
  throw new DecodeFailure(`is ${type === "undefined" ? "undefined" : `a ${type}`}, which is not JSON`);
}

/** A key that starts with exactly one "$" (VAL-2). */
function isTag(key: string): boolean {
  return key.charCodeAt(0) === dollar && key.charCodeAt(1) !== dollar;
}

function arrayFromJson(json: JsonValue[], depth: number): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  try {
    for (; i < json.length; i++) out[i] = fromJson(json[i]!, depth + 1);
  } catch (err) {
    throw withStep(err, `[${i}]`);
  }
  return out;
}

function objectFromJson(json: JsonObject, keys: string[], depth: number): Record<string, unknown> {
  let escaped = false;
  for (const key of keys) {
    if (key.charCodeAt(0) !== dollar) continue;
    if (isTag(key)) throw new DecodeFailure(`has the key ${JSON.stringify(key)} beside other keys; a key starting with "$" is written as "$${key}"`);
    escaped = true;
  }
  const out: Record<string, unknown> = {};
  let name = "";
  try {
    for (const key of keys) {
      name = escaped && key.charCodeAt(0) === dollar ? key.slice(1) : key;
      const value = fromJson(json[key]!, depth + 1);
      // Object.defineProperty, so "__proto__" is an own data property (VAL-5).
      if (name === "__proto__") Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
      else out[name] = value;
    }
  } catch (err) {
    throw withStep(err, propertySegment(name));
  }
  return out;
}

function tagFromJson(tag: string, body: JsonValue, depth: number): unknown {
  switch (tag) {
    case "$number":
      return numberFromTag(body);
    case "$bigint":
      return bigintFromTag(body);
    case "$date":
      return dateFromTag(body);
    case "$bytes":
      return bytesFromTag(body);
    case "$map":
      return mapFromTag(body, depth);
    case "$set":
      return setFromTag(body, depth);
    case "$undefined":
      if (body === true) return undefined;
      throw badTag(tag, body);
  }
  throw new DecodeFailure(`has the unknown tag ${JSON.stringify(tag)}; a plain key starting with "$" is written as "$${tag}"`);
}

const specialNumbers: ReadonlyMap<unknown, number> = new Map([["NaN", NaN], ["Infinity", Infinity], ["-Infinity", -Infinity], ["-0", -0]]);

function numberFromTag(body: JsonValue): number {
  const n = specialNumbers.get(body);
  if (n === undefined) throw badTag("$number", body);
  return n;
}

function bigintFromTag(body: JsonValue): bigint {
  if (typeof body !== "string" || !/^(0|-?[1-9][0-9]*)$/.test(body)) throw badTag("$bigint", body);
  return BigInt(body);
}

/** toISOString() of a year 0…9999: then only a day past the month's end (Feb 30) still parses. */
const isoDateTime = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;

/** A Date from its toISOString() text, refusing any other text (VAL-7). */
function dateFromTag(body: JsonValue): Date {
  if (body === null) return new Date(NaN);
  if (typeof body === "string") {
    const date = new Date(body);
    const time = date.getTime();
    // The regex check is much cheaper than toISOString(), which covers the rare ±YYYYYY years.
    const canonical = isoDateTime.test(body) ? date.getUTCDate() === Number(body.slice(8, 10)) : date.toISOString() === body;
    if (time === time && canonical) return date;
  }
  throw badTag("$date", body);
}

function bytesFromTag(body: JsonValue): Uint8Array {
  if (typeof body !== "string" || body.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw badTag("$bytes", body);
  const binary = atob(body);
  if (btoa(binary) !== body) throw badTag("$bytes", body); // non-zero padding bits
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function mapFromTag(body: JsonValue, depth: number): Map<unknown, unknown> {
  if (!Array.isArray(body)) throw badTag("$map", body);
  const map = new Map<unknown, unknown>();
  for (let i = 0; i < body.length; i++) {
    const entry = body[i];
    if (!Array.isArray(entry) || entry.length !== 2) throw new DecodeFailure(`has a $map entry ${i} that is not a [key, value] pair`);
    let part = 0;
    try {
      const key = fromJson(entry[0]!, depth + 1);
      part = 1;
      map.set(key, fromJson(entry[1]!, depth + 1));
    } catch (err) {
      throw withStep(err, `.entries[${i}][${part}]`);
    }
    if (map.size !== i + 1) throw new DecodeFailure(`has a $map entry ${i} whose key repeats an earlier one`);
  }
  return map;
}

function setFromTag(body: JsonValue, depth: number): Set<unknown> {
  if (!Array.isArray(body)) throw badTag("$set", body);
  const set = new Set<unknown>();
  for (let i = 0; i < body.length; i++) {
    let value: unknown;
    try {
      value = fromJson(body[i]!, depth + 1);
    } catch (err) {
      throw withStep(err, `.values[${i}]`);
    }
    set.add(value);
    if (set.size !== i + 1) throw new DecodeFailure(`has a $set element ${i} that repeats an earlier one`);
  }
  return set;
}

// ---------------------------------------------------------------------------
// Sizes and messages

/** The UTF-8 length of `text`, computed exactly only when it could exceed `limit`. */
function utf8LengthAbove(text: string, limit: number): number {
  return text.length * 3 <= limit ? text.length : utf8Length(text); // a UTF-16 unit is at most 3 UTF-8 bytes
}

/**
 * The UTF-8 length of `text` (well-formed: what JSON.stringify returns),
 * without encoding it: Buffer.byteLength, native in Node, Deno and Bun, takes
 * a sixth to a tenth of the time of a loop over the code units.
 */
export function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** Path of the value at `depth` in the encode walk: value.items[3].fn */
function formatPath(st: EncodeState, depth: number): string {
  const segments: string[] = [];
  for (let d = 0; d < depth; d++) {
    const container = st.ancestors[d];
    const step = st.path[d]!;
    if (container instanceof Map) segments.push(`.entries[${(step as number) >> 1}][${(step as number) & 1}]`);
    else if (container instanceof Set) segments.push(`.values[${step}]`);
    else segments.push(typeof step === "number" ? `[${step}]` : propertySegment(step));
  }
  return "value" + elide(segments);
}

function propertySegment(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function elide(segments: string[]): string {
  if (segments.length <= 16) return segments.join("");
  return `${segments.slice(0, 8).join("")}…(${segments.length - 16} more)…${segments.slice(-8).join("")}`;
}

/** At depth valueDepthMax: a cycle if some container repeats on the path, else just too deep. */
function cycleOrTooDeep(depth: number, st: EncodeState): TxtDbError {
  const firstSeen = new Map<object, number>();
  for (let d = 0; d <= depth; d++) {
    const container = st.ancestors[d]!;
    const earlier = firstSeen.get(container);
    if (earlier !== undefined) {
      return invalidValue(`${formatPath(st, d)} is a cycle: it is the same object as ${formatPath(st, earlier)}, which contains it`);
    }
    firstSeen.set(container, d);
  }
  return invalidValue(`${formatPath(st, depth)} nests containers deeper than valueDepthMax (${valueDepthMax})`);
}

/** "an instance of RegExp", for messages. */
function describeInstance(proto: unknown): string {
  const name = (proto as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === "string" && name !== "" ? `an instance of ${name}` : "an instance of an anonymous class";
}

function tooLarge(where: string, bytes: number, atLeast = false): TxtDbError {
  const size = atLeast ? `more than ${valueBytesMax}` : `${bytes}`;
  return invalidValue(`${where} encodes to ${size} bytes of JSON, more than valueBytesMax (${valueBytesMax} bytes)`);
}

function badTag(tag: string, body: unknown): DecodeFailure {
  let shown = JSON.stringify(body) ?? String(body);
  if (shown.length > 80) shown = shown.slice(0, 80) + "…";
  return new DecodeFailure(`is a malformed ${tag} tag: ${shown}`);
}

function invalidValue(message: string): TxtDbError {
  return new TxtDbError("TXTDB_INVALID_VALUE", message);
}

function corrupt(message: string, cause?: unknown): TxtDbError {
  return new TxtDbError("TXTDB_CORRUPT", message, cause === undefined ? {} : { cause });
}
