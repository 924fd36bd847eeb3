/**
 * Keys: validation, the order-preserving encoding, and the readable JSON form.
 *
 * A key is a string, number, bigint, boolean, Date or Uint8Array, or a
 * non-empty array of keys (a composite key; arrays may nest). Keys are
 * totally ordered (contract 13): first by type —
 *
 *     Uint8Array < string < number < bigint < boolean < Date < array
 *
 * — then by value: bytes and strings by their (UTF-8) bytes, numbers and
 * bigints numerically, false < true, Dates by time, arrays element by element
 * with a shorter prefix first.
 *
 * ENCODING. `encodeKey` turns a key into a "binary string": every char code
 * is 0..255 and stands for one byte. The first byte is a type tag:
 *
 * | tag  | type       | bytes after the tag                                          |
 * |------|------------|--------------------------------------------------------------|
 * | 0x01 | Uint8Array | the bytes, each 0x00 written as 0x00 0xFF; then 0x00         |
 * | 0x02 | string     | its UTF-8 bytes, escaped the same way; then 0x00             |
 * | 0x03 | number     | 8 bytes: ordered IEEE-754 (below); -0 is written as 0        |
 * | 0x04 | bigint     | header H, maybe a 4-byte length, then the magnitude (below)  |
 * | 0x05 | boolean    | 0x00 false, 0x01 true                                        |
 * | 0x06 | Date       | 8 bytes: getTime() as an ordered IEEE-754 number             |
 * | 0x07 | array      | each element's encoding in order; then 0x00                  |
 *
 * Ordered IEEE-754: the float64 in big-endian; if its sign bit is set, every
 * bit is inverted, otherwise only the sign bit is. Unsigned byte order is then
 * numeric order, -Infinity lowest and +Infinity highest.
 *
 * bigint: m = the magnitude (absolute value) of n, L = its length in bytes,
 * big-endian with no leading 0x00; ~ inverts every bit. H grows with L for
 * n > 0 and shrinks with L for n < 0, so a longer magnitude always sorts
 * further from 0; equal lengths then compare byte by byte.
 *
 * | n                | H          | then                                  |
 * |------------------|------------|---------------------------------------|
 * | n < 0, L ≥ 127   | 0x00       | ~L as 4 bytes big-endian, then ~m     |
 * | n < 0, L ≤ 126   | 0x7F - L   | ~m                                    |
 * | 0                | 0x80       | nothing                               |
 * | n > 0, L ≤ 126   | 0x80 + L   | m                                     |
 * | n > 0, L ≥ 127   | 0xFF       | L as 4 bytes big-endian, then m       |
 *
 * Invariants (cited by the tests in test/codec_key.test.ts):
 *
 * - KEY-1  Round trip: decodeKey(encodeKey(k)) is k, with the same types
 *          (number 1, bigint 1n and string "1" are three keys), -0 read back as 0.
 * - KEY-2  Order: for keys a, b, `encodeKey(a) < encodeKey(b)` (plain JS string
 *          comparison, which is byte order here) iff a sorts before b, and
 *          `encodeKey(a) === encodeKey(b)` iff they are the same key.
 * - KEY-3  An encoding holds only char codes 0..255 and is at most keyBytesMax
 *          long; a composite has 1..compositeKeyElementsMax elements per level.
 * - KEY-4  Every element encoding is self-delimiting when read left to right:
 *          a 0x00 followed by 0xFF is an escaped NUL, any other 0x00 ends the
 *          string. After a complete element comes a tag or the array
 *          terminator (0x00…0x07), all below the escape mark 0xFF and the
 *          terminator below every tag, so a composite sorts after each of its
 *          prefixes. (As plain strings, element encodings are not prefix-free:
 *          "" is 02 00 and "\0" is 02 00 FF 00; encodePrefix allows for it.)
 * - KEY-5  decodeKey accepts exactly what encodeKey produces (one canonical
 *          encoding per key); anything else is TXTDB_CORRUPT.
 * - KEY-6  For {start, end} = encodePrefix(p): a key k matches p iff
 *          start <= encodeKey(k) < end.
 * - KEY-7  keyFromJson(keyToJson(k)) is k; keyToJson is the value codec's
 *          tagged JSON, and keyFromJson accepts only the canonical form.
 */
import { TxtDbError } from "../errors.ts";
import { compositeKeyElementsMax, keyBytesMax, keyDepthMax } from "./limits.ts";
import { valueFromJson, valueToJson, type JsonValue } from "./value.ts";

/** One non-composite part of a key. */
export type KeyPart = string | number | bigint | boolean | Date | Uint8Array;
/** A key: a part, or a non-empty array of keys (a composite key). */
export type Key = KeyPart | readonly Key[];

const tagBytes = 0x01;
const tagString = 0x02;
const tagNumber = 0x03;
const tagBigint = 0x04;
const tagBoolean = 0x05;
const tagDate = 0x06;
const tagArray = 0x07;
/** Ends a string, a byte string or an array; lower than every tag (KEY-4). */
const terminator = 0x00;
/** Follows an escaped 0x00 inside a string or byte string. */
const escapeMark = 0xff;

/** Valid Date times are integers within ±8.64e15 ms (ECMA-262 §21.4.1.1). */
const dateTimeMsMax = 8.64e15;

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const float64 = new DataView(new ArrayBuffer(8));
const noPath: number[] = [];

// ---------------------------------------------------------------------------
// Public API

/**
 * Validates `key` and returns its order-preserving encoding (KEY-1…KEY-3):
 * compare encodings with `<` / `===`, or use them as Map keys.
 *
 * @throws TxtDbError TXTDB_INVALID_KEY for anything that is not a key (NaN,
 *   an invalid Date, null, an object, an empty composite, a string with a lone
 *   surrogate, …), naming the part (`key[2] is an object`), or when the
 *   encoding is longer than keyBytesMax.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeKey } from "./key.ts";
 * assert.ok(encodeKey("b") > encodeKey("a"));
 * assert.ok(encodeKey(1) < encodeKey(1n)); // numbers sort before bigints
 * assert.equal(encodeKey(["acme", 18]), encodeKey(["acme", 18]));
 * ```
 */
export function encodeKey(key: unknown): string {
  return encodeKeyAt(key, "key");
}

/**
 * The key `encoded` stands for: the exact inverse of {@link encodeKey}
 * (KEY-1). Dates and Uint8Arrays come back as new objects.
 *
 * @throws TxtDbError TXTDB_CORRUPT if `encoded` is not an encoding encodeKey
 *   can produce (KEY-5).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeKey, encodeKey } from "./key.ts";
 * assert.deepEqual(decodeKey(encodeKey(["acme", 18n])), ["acme", 18n]);
 * ```
 */
export function decodeKey(encoded: string): Key {
  if (typeof encoded !== "string") throw corrupt(`an encoded key must be a string, got ${typeof encoded}`);
  if (encoded.length === 0) throw corrupt("an encoded key is empty");
  if (encoded.length > keyBytesMax) {
    throw corrupt(`an encoded key is ${encoded.length} bytes, more than keyBytesMax (${keyBytesMax})`);
  }
  const reader = new KeyReader(encoded);
  const key = reader.part(0);
  if (reader.pos !== encoded.length) reader.fail("bytes after the end of the key");
  return key;
}

/**
 * Compares two keys in key order (contract 13): negative, zero or positive.
 *
 * @throws TxtDbError TXTDB_INVALID_KEY if either is not a key.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareKeys } from "./key.ts";
 * assert.ok(compareKeys(["a"], ["a", 1]) < 0);
 * assert.equal(compareKeys(-0, 0), 0);
 * ```
 */
export function compareKeys(a: Key, b: Key): number {
  const ea = encodeKey(a);
  const eb = encodeKey(b);
  return ea < eb ? -1 : ea > eb ? 1 : 0;
}

/**
 * The range of encoded keys a scan prefix covers (contract 7, KEY-6): a key
 * `k` matches iff `start <= encodeKey(k) < end`.
 *
 * - a string matches the string keys that start with it (by UTF-8 bytes);
 * - a Uint8Array matches the byte keys that start with its bytes;
 * - an array matches the composite keys whose first elements equal its
 *   elements, in order (`[]` matches every composite key);
 * - a number, bigint, boolean or Date matches exactly that key.
 *
 * @throws TxtDbError TXTDB_INVALID_KEY if `prefix` is not a key (or `[]`).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeKey, encodePrefix } from "./key.ts";
 * const { start, end } = encodePrefix(["acme"]);
 * const k = encodeKey(["acme", 18]);
 * assert.ok(start <= k && k < end);
 * ```
 */
export function encodePrefix(prefix: Key): { start: string; end: string } {
  if (Array.isArray(prefix) && prefix.length === 0) {
    return { start: String.fromCharCode(tagArray), end: String.fromCharCode(tagArray + 1) };
  }
  const encoded = encodeKeyAt(prefix, "prefix");
  const tag = encoded.charCodeAt(0);
  if (tag === tagString || tag === tagBytes) {
    // Without the terminator: any continuation of the escaped bytes matches.
    const start = encoded.slice(0, -1);
    return { start, end: successorOfPrefix(start) };
  }
  if (tag === tagArray) {
    // Without the array terminator, a match continues with that terminator or
    // a tag (0x00…0x07). Not 0xff: that would be an escaped NUL extending the
    // prefix's last string or byte string ("a" is no prefix of "a\0").
    const start = encoded.slice(0, -1);
    return { start, end: start + String.fromCharCode(tagArray + 1) };
  }
  // Exactly one key: the smallest string above `encoded` is encoded + "\0".
  return { start: encoded, end: encoded + "\x00" };
}

/**
 * A short human description of a key for messages: `"alice"`, `18`, `1n`,
 * `true`, `Date(2026-01-01T00:00:00.000Z)`, `bytes(0a0b)`, `["acme", 18]`.
 * Long strings and byte strings are cut with "…".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyToString } from "./key.ts";
 * assert.equal(keyToString(["acme", 18]), '["acme", 18]');
 * ```
 */
export function keyToString(key: Key): string {
  switch (typeof key) {
    case "string":
      return key.length > 64 ? JSON.stringify(key.slice(0, 64)).slice(0, -1) + `…" (${key.length} chars)` : JSON.stringify(key);
    case "number":
      return Object.is(key, -0) ? "0" : String(key);
    case "bigint":
      return `${key}n`;
    case "boolean":
      return String(key);
  }
  if (key instanceof Uint8Array) {
    const shown = Array.from(key.subarray(0, 32), (b) => b.toString(16).padStart(2, "0")).join("");
    return key.length > 32 ? `bytes(${shown}… ${key.length} bytes)` : `bytes(${shown})`;
  }
  if (key instanceof Date) {
    const time = Date.prototype.getTime.call(key);
    return time === time ? `Date(${Date.prototype.toISOString.call(key)})` : "Date(invalid)";
  }
  if (Array.isArray(key)) return `[${key.map((part: Key) => keyToString(part)).join(", ")}]`;
  return describe(key);
}

/**
 * The readable JSON form of a key, as log lines and page files show it
 * (KEY-7): strings, finite numbers and booleans as themselves, composite keys
 * as JSON arrays, and the value codec's tags for the rest:
 * `{"$bigint":"1"}`, `{"$date":"2026-01-01T00:00:00.000Z"}`,
 * `{"$bytes":"CgsM"}`, `{"$number":"Infinity"}`.
 *
 * @throws TxtDbError TXTDB_INVALID_KEY if `key` is not a key.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyToJson } from "./key.ts";
 * assert.equal(JSON.stringify(keyToJson(["acme", 18n])), '["acme",{"$bigint":"18"}]');
 * ```
 */
export function keyToJson(key: Key): JsonValue {
  encodeKey(key); // validates
  return keyPartToJson(key);
}

/**
 * The key whose readable JSON form is `json`: the inverse of
 * {@link keyToJson} (KEY-7).
 *
 * @throws TxtDbError TXTDB_CORRUPT if `json` is not the canonical JSON form
 *   of a key (an object, -0, NaN, an invalid Date, an unknown tag, …).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyFromJson } from "./key.ts";
 * assert.deepEqual(keyFromJson(JSON.parse('["acme",{"$bigint":"18"}]')), ["acme", 18n]);
 * ```
 */
export function keyFromJson(json: unknown): Key {
  const key = keyPartFromJson(json, [], 0);
  encodedKeyOf(key);
  return key;
}

/**
 * encodeKey(keyFromJson(json)) with the key encoded once: how pages, log
 * records and the manifest turn the keys they store into encodings.
 *
 * @throws TxtDbError TXTDB_CORRUPT as keyFromJson does.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeKey, encodedKeyFromJson } from "./key.ts";
 * assert.equal(encodedKeyFromJson(["acme", { $bigint: "18" }]), encodeKey(["acme", 18n]));
 * ```
 */
export function encodedKeyFromJson(json: unknown): string {
  return encodedKeyOf(typeof json === "string" ? json : keyPartFromJson(json, [], 0));
}

/** KEY-7: a key made from JSON that encodeKey refuses is damage, not a bad argument. */
function encodedKeyOf(key: Key): string {
  try {
    return encodeKey(key);
  } catch (err) {
    if (err instanceof TxtDbError) throw corrupt(`a key in JSON form is not a valid key: ${err.message}`, err);
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Encoding

function encodeKeyAt(key: unknown, root: string): string {
  // Fast paths: a plain ASCII string without NUL, a number.
  if (typeof key === "string") return encodeString(key, root, noPath);
  if (typeof key === "number") return encodeNumber(key, root, noPath);
  const encoded = encodePart(key, root, [], 0);
  if (encoded.length > keyBytesMax) throw tooLong(root, [], encoded.length);
  return encoded;
}

function encodePart(part: unknown, root: string, path: number[], depth: number): string {
  switch (typeof part) {
    case "string":
      return encodeString(part, root, path);
    case "number":
      return encodeNumber(part, root, path);
    case "bigint":
      return encodeBigint(part, root, path);
    case "boolean":
      return String.fromCharCode(tagBoolean, part ? 1 : 0);
    case "object":
      if (part instanceof Uint8Array) return encodeBytes(part, root, path);
      if (part instanceof Date) return encodeDate(part, root, path);
      if (Array.isArray(part)) return encodeArray(part, root, path, depth);
  }
  throw invalidKey(`${formatPath(root, path)} is ${describe(part)}`);
}

function encodeArray(parts: readonly unknown[], root: string, path: number[], depth: number): string {
  const where = (): string => formatPath(root, path);
  if (parts.length === 0) throw invalidKey(`${where()} is an empty composite: an array key needs at least one element`);
  if (parts.length > compositeKeyElementsMax) {
    throw invalidKey(`${where()} has ${parts.length} elements, more than compositeKeyElementsMax (${compositeKeyElementsMax})`);
  }
  if (depth >= keyDepthMax) {
    throw invalidKey(`${where()} nests arrays more than keyDepthMax (${keyDepthMax}) deep, so it cannot fit in keyBytesMax (${keyBytesMax} bytes)`);
  }
  let out = String.fromCharCode(tagArray);
  for (let i = 0; i < parts.length; i++) {
    path.push(i);
    out += encodePart(parts[i], root, path, depth + 1);
    path.pop();
  }
  // Elements are each at most keyBytesMax, so this check bounds the work.
  if (out.length >= keyBytesMax) throw tooLong(root, path, out.length + 1);
  return out + "\x00";
}

function encodeString(s: string, root: string, path: number[]): string {
  const n = s.length;
  // Each UTF-16 unit takes at least one UTF-8 byte: refuse before encoding.
  if (n + 2 > keyBytesMax) throw tooLong(root, path, n + 2, `a string of ${n} UTF-16 units`);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7f) return "\x02" + s.slice(0, i) + escapedUtf8(s, i, root, path) + "\x00";
  }
  return "\x02" + s + "\x00";
}

/** UTF-8 bytes of s from index `from`, each 0x00 escaped; refuses lone surrogates. */
function escapedUtf8(s: string, from: number, root: string, path: number[]): string {
  const bytes: number[] = [];
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0) bytes.push(terminator, escapeMark);
      else bytes.push(c);
    } else if (c < 0x800) {
      bytes.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    } else if (c < 0xd800 || c > 0xdfff) {
      bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    } else {
      const low = s.charCodeAt(i + 1);
      if (c > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) {
        throw invalidKey(
          `${formatPath(root, path)} is a string with a lone surrogate at index ${i}; it cannot round-trip through UTF-8`,
        );
      }
      const cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
      bytes.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
      i++;
    }
  }
  const total = from + bytes.length + 2; // tag + ASCII head + escaped rest + terminator
  if (total > keyBytesMax) throw tooLong(root, path, total);
  return String.fromCharCode(...bytes);
}

function encodeBytes(b: Uint8Array, root: string, path: number[]): string {
  if (b.length + 2 > keyBytesMax) throw tooLong(root, path, b.length + 2, `a Uint8Array of ${b.length} bytes`);
  const codes: number[] = [tagBytes];
  for (let i = 0; i < b.length; i++) {
    const byte = b[i]!;
    if (byte === 0) codes.push(terminator, escapeMark);
    else codes.push(byte);
  }
  codes.push(terminator);
  return String.fromCharCode(...codes);
}

function encodeNumber(n: number, root: string, path: number[]): string {
  if (n !== n) throw invalidKey(`${formatPath(root, path)} is NaN`);
  return orderedFloat(tagNumber, n);
}

function encodeDate(d: Date, root: string, path: number[]): string {
  const time = Date.prototype.getTime.call(d);
  if (time !== time) throw invalidKey(`${formatPath(root, path)} is an invalid Date`);
  return orderedFloat(tagDate, time);
}

/** `tag` then the 8 ordered IEEE-754 bytes of n (not NaN); -0 is written as 0. */
function orderedFloat(tag: number, n: number): string {
  float64.setFloat64(0, n === 0 ? 0 : n);
  let hi = float64.getUint32(0);
  let lo = float64.getUint32(4);
  if (hi >= 0x80000000) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
  } else {
    hi = (hi | 0x80000000) >>> 0;
  }
  return String.fromCharCode(
    tag,
    hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff,
    lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff,
  );
}

function encodeBigint(n: bigint, root: string, path: number[]): string {
  if (n === 0n) return String.fromCharCode(tagBigint, 0x80);
  const negative = n < 0n;
  const magnitude = magnitudeBytes(negative ? -n : n);
  const length = magnitude.length;
  if (length + 2 > keyBytesMax) throw tooLong(root, path, length + 2, `a bigint of ${length} bytes`);
  const codes: number[] = [tagBigint];
  if (length <= 126) codes.push(negative ? 0x7f - length : 0x80 + length);
  else codes.push(negative ? 0x00 : 0xff, ...uint32Bytes(negative ? ~length >>> 0 : length));
  for (const byte of magnitude) codes.push(negative ? 0xff - byte : byte);
  return String.fromCharCode(...codes);
}

/** The minimal big-endian bytes of m > 0. */
function magnitudeBytes(m: bigint): number[] {
  if (m <= 0x1fffffffffffffn) {
    // Fast path below 2^53: exact in a float, no hex string.
    const bytes: number[] = [];
    for (let x = Number(m); x > 0; x = Math.floor(x / 256)) bytes.push(x % 256);
    return bytes.reverse();
  }
  let hex = m.toString(16);
  if (hex.length % 2 === 1) hex = "0" + hex;
  const bytes: number[] = [];
  for (let i = 0; i < hex.length; i += 2) bytes.push(parseInt(hex.slice(i, i + 2), 16));
  return bytes;
}

function uint32Bytes(n: number): number[] {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** The smallest string above every string that starts with `prefix` (KEY-6). */
function successorOfPrefix(prefix: string): string {
  let end = prefix.length;
  while (end > 0 && prefix.charCodeAt(end - 1) === 0xff) end--;
  // The tag is never 0xff, so `end` stays above 0.
  return prefix.slice(0, end - 1) + String.fromCharCode(prefix.charCodeAt(end - 1) + 1);
}

// ---------------------------------------------------------------------------
// Decoding

/** Reads one encoded key, checking every byte (KEY-5). */
class KeyReader {
  pos = 0;
  /** Set by escapedEnd(). */
  plain = true;
  constructor(readonly s: string) {}

  fail(what: string): never {
    throw corrupt(`encoded key ${JSON.stringify(this.s)} is malformed at byte ${this.pos}: ${what}`);
  }

  byte(): number {
    const c = this.s.charCodeAt(this.pos);
    if (c !== c) this.fail("unexpected end");
    if (c > 0xff) this.fail(`char code ${c} is not a byte`);
    this.pos++;
    return c;
  }

  part(depth: number): Key {
    const tag = this.byte();
    switch (tag) {
      case tagBytes:
        return this.bytes();
      case tagString:
        return this.string();
      case tagNumber:
        return this.float("number");
      case tagBigint:
        return this.bigint();
      case tagBoolean:
        return this.boolean();
      case tagDate:
        return this.date();
      case tagArray:
        return this.array(depth);
    }
    this.pos--;
    return this.fail(`unknown type tag 0x${tag.toString(16).padStart(2, "0")}`);
  }

  /**
   * The index of the terminator of the escaped run starting at pos; sets
   * `plain` when the run is ASCII without escapes (then it is the string itself).
   */
  private escapedEnd(): number {
    const s = this.s;
    this.plain = true;
    for (let i = this.pos; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === terminator) {
        if (s.charCodeAt(i + 1) !== escapeMark) return i;
        this.plain = false;
        i++;
      } else if (c > 0x7f) {
        this.plain = false;
        if (c > 0xff) {
          this.pos = i;
          this.fail(`char code ${c} is not a byte`);
        }
      }
    }
    this.pos = s.length;
    return this.fail("missing terminator");
  }

  /** The unescaped bytes from pos to `end`; moves past the terminator. */
  private unescape(end: number): Uint8Array {
    const out = new Uint8Array(end - this.pos);
    let n = 0;
    for (let i = this.pos; i < end; i++) {
      const c = this.s.charCodeAt(i);
      out[n++] = c;
      if (c === terminator) i++; // skip the escape mark
    }
    this.pos = end + 1;
    return out.subarray(0, n);
  }

  private bytes(): Uint8Array {
    return this.unescape(this.escapedEnd()).slice();
  }

  private string(): string {
    const start = this.pos;
    const end = this.escapedEnd();
    if (this.plain) {
      this.pos = end + 1;
      return this.s.slice(start, end);
    }
    try {
      return utf8Decoder.decode(this.unescape(end));
    } catch {
      this.pos = start;
      return this.fail("a string that is not valid UTF-8");
    }
  }

  private float(kind: "number" | "Date"): number {
    const start = this.pos;
    let hi = 0;
    let lo = 0;
    for (let i = 0; i < 4; i++) hi = hi * 256 + this.byte();
    for (let i = 0; i < 4; i++) lo = lo * 256 + this.byte();
    if (hi >= 0x80000000) {
      hi -= 0x80000000;
    } else {
      hi = ~hi >>> 0;
      lo = ~lo >>> 0;
    }
    float64.setUint32(0, hi);
    float64.setUint32(4, lo);
    const n = float64.getFloat64(0);
    if (n !== n || Object.is(n, -0)) {
      this.pos = start;
      this.fail(`a ${kind} that is ${n !== n ? "NaN" : "-0"} (not canonical)`);
    }
    return n;
  }

  private date(): Date {
    const start = this.pos;
    const time = this.float("Date");
    if (!Number.isInteger(time) || Math.abs(time) > dateTimeMsMax) {
      this.pos = start;
      this.fail(`a Date with time ${time}, which no valid Date has`);
    }
    return new Date(time);
  }

  private boolean(): boolean {
    const b = this.byte();
    if (b > 1) {
      this.pos--;
      this.fail(`a boolean byte 0x${b.toString(16)}`);
    }
    return b === 1;
  }

  private bigint(): bigint {
    const header = this.byte();
    if (header === 0x80) return 0n;
    const negative = header < 0x80;
    let length: number;
    if (header === 0x00 || header === 0xff) {
      length = 0;
      for (let i = 0; i < 4; i++) length = length * 256 + this.byte();
      if (negative) length = 0xffffffff - length;
      if (length <= 126) this.fail("a bigint with a long length header for a short number");
    } else {
      length = negative ? 0x7f - header : header - 0x80;
      if (length === 0) this.fail("a negative bigint of length 0");
    }
    if (this.pos + length > this.s.length) this.fail("a bigint that runs past the end");
    let hex = "";
    for (let i = 0; i < length; i++) {
      const b = this.byte();
      hex += (negative ? 0xff - b : b).toString(16).padStart(2, "0");
    }
    if (hex.startsWith("00")) this.fail("a bigint with a leading zero byte (not canonical)");
    const magnitude = BigInt("0x" + hex);
    return negative ? -magnitude : magnitude;
  }

  private array(depth: number): Key[] {
    if (depth >= keyDepthMax) this.fail(`arrays nested more than keyDepthMax (${keyDepthMax}) deep`);
    const parts: Key[] = [];
    while (this.s.charCodeAt(this.pos) !== terminator) {
      if (this.pos >= this.s.length) this.fail("an array without its terminator");
      if (parts.length === compositeKeyElementsMax) this.fail(`an array of more than ${compositeKeyElementsMax} elements`);
      parts.push(this.part(depth + 1));
    }
    if (parts.length === 0) this.fail("an empty array");
    this.pos++;
    return parts;
  }
}

// ---------------------------------------------------------------------------
// Readable JSON form

function keyPartToJson(key: Key): JsonValue {
  if (typeof key === "number" && key === 0) return 0; // -0 is the key 0
  if (Array.isArray(key)) return key.map((part: Key) => keyPartToJson(part));
  return valueToJson(key);
}

function keyPartFromJson(json: unknown, path: number[], depth: number): Key {
  switch (typeof json) {
    case "string":
    case "boolean":
      return json;
    case "number":
      if (Number.isFinite(json) && !Object.is(json, -0)) return json;
      break;
    case "object":
      if (json === null) break;
      if (Array.isArray(json)) return arrayFromJson(json, path, depth);
      return taggedPartFromJson(json as JsonValue, path);
  }
  throw corrupt(`${formatPath("key", path)} is not a key in JSON form: ${shortJson(json)}`);
}

function arrayFromJson(json: readonly unknown[], path: number[], depth: number): Key[] {
  if (depth >= keyDepthMax) throw corrupt(`${formatPath("key", path)} nests arrays more than keyDepthMax (${keyDepthMax}) deep`);
  const parts: Key[] = [];
  for (let i = 0; i < json.length; i++) {
    path.push(i);
    parts.push(keyPartFromJson(json[i], path, depth + 1));
    path.pop();
  }
  return parts;
}

/** A tagged key part: `$bigint`, `$date`, `$bytes`, or `$number` ±Infinity. */
function taggedPartFromJson(json: JsonValue, path: number[]): KeyPart {
  let part: unknown;
  try {
    part = valueFromJson(json);
  } catch (err) {
    if (err instanceof TxtDbError) throw corrupt(`${formatPath("key", path)}: ${err.message}`, err);
    throw err;
  }
  if (typeof part === "bigint" || part instanceof Uint8Array) return part;
  if (part instanceof Date && part.getTime() === part.getTime()) return part;
  if (part === Infinity || part === -Infinity) return part;
  throw corrupt(`${formatPath("key", path)} is not a key in JSON form: ${shortJson(json)}`);
}

// ---------------------------------------------------------------------------
// Messages

function formatPath(root: string, path: readonly number[]): string {
  if (path.length <= 16) return root + path.map((i) => `[${i}]`).join("");
  const head = path.slice(0, 8).map((i) => `[${i}]`).join("");
  const tail = path.slice(-8).map((i) => `[${i}]`).join("");
  return `${root}${head}…(${path.length - 16} more)…${tail}`;
}

/** "an object", "null", "a Float64Array", "a symbol", … */
function describe(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (typeof v === "object") {
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) return "an object";
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === "string" && name !== "" ? `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}` : "an object of an anonymous class";
  }
  return typeof v === "function" ? "a function" : `a ${typeof v}`;
}

function shortJson(json: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(json) ?? String(json);
  } catch {
    text = String(json);
  }
  return text.length > 80 ? text.slice(0, 80) + "…" : text;
}

function tooLong(root: string, path: readonly number[], bytes: number, what?: string): TxtDbError {
  const size = what === undefined ? `encodes to ${bytes} bytes` : `is ${what}, so it encodes to at least ${bytes} bytes`;
  return invalidKey(`${formatPath(root, path)} ${size}, more than keyBytesMax (${keyBytesMax} bytes)`);
}

function invalidKey(message: string): TxtDbError {
  return new TxtDbError("TXTDB_INVALID_KEY", message);
}

function corrupt(message: string, cause?: unknown): TxtDbError {
  return new TxtDbError("TXTDB_CORRUPT", message, cause === undefined ? {} : { cause });
}
