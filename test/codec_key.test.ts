/**
 * Tests of src/codec/key.ts: the invariants KEY-1…KEY-7 it states, the
 * pinned on-disk encodings, the ordering edge cases of contract 13 and every
 * error. Property tests print their seed; replay one with TXTDB_SEED=<n>.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import fc from "fast-check";
import { TxtDbError } from "../src/errors.ts";
import {
  compareKeys,
  decodeKey,
  encodeKey,
  encodePrefix,
  encodedKeyFromJson,
  keyFromJson,
  keyToJson,
  keyToString,
  type Key,
} from "../src/codec/key.ts";
import { compositeKeyElementsMax, keyBytesMax } from "../src/codec/limits.ts";
import { throwsCode } from "./_helpers/expect.ts";

const seed = process.env["TXTDB_SEED"] !== undefined ? Number(process.env["TXTDB_SEED"]) : Date.now() % 0x7fffffff;
console.log(`codec_key: seed=${seed} (replay: TXTDB_SEED=${seed})`);
const runs = (numRuns: number): fc.Parameters<unknown> => ({ seed, numRuns });

// ---------------------------------------------------------------------------
// Reference model, written on the typed values (never via the encoding)

const utf8 = new TextEncoder();

function typeRank(k: Key): number {
  if (k instanceof Uint8Array) return 0;
  if (typeof k === "string") return 1;
  if (typeof k === "number") return 2;
  if (typeof k === "bigint") return 3;
  if (typeof k === "boolean") return 4;
  if (k instanceof Date) return 5;
  return 6;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Contract 13, on the values themselves. */
function refCompare(a: Key, b: Key): number {
  const rank = typeRank(a) - typeRank(b);
  if (rank !== 0) return rank;
  if (a instanceof Uint8Array) return compareBytes(a, b as Uint8Array);
  if (typeof a === "string") return compareBytes(utf8.encode(a), utf8.encode(b as string));
  if (typeof a === "number" || typeof a === "bigint") return a < (b as typeof a) ? -1 : a > (b as typeof a) ? 1 : 0;
  if (typeof a === "boolean") return Number(a) - Number(b);
  if (a instanceof Date) return Math.sign(a.getTime() - (b as Date).getTime());
  const x = a as readonly Key[];
  const y = b as readonly Key[];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = refCompare(x[i]!, y[i]!);
    if (c !== 0) return c;
  }
  return x.length - y.length;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && compareBytes(bytes.subarray(0, prefix.length), prefix) === 0;
}

/** Contract 7: what a scan prefix matches. */
function refMatches(prefix: Key, k: Key): boolean {
  if (typeof prefix === "string") return typeof k === "string" && startsWith(utf8.encode(k), utf8.encode(prefix));
  if (prefix instanceof Uint8Array) return k instanceof Uint8Array && startsWith(k, prefix);
  if (Array.isArray(prefix)) {
    return Array.isArray(k) && k.length >= prefix.length && prefix.every((p: Key, i: number) => refCompare(p, k[i]) === 0);
  }
  return refCompare(prefix, k) === 0;
}

/** The key as decodeKey must return it: -0 becomes 0. */
function normalized(k: Key): Key {
  if (Array.isArray(k)) return k.map((part: Key) => normalized(part));
  return typeof k === "number" && k === 0 ? 0 : k;
}

// ---------------------------------------------------------------------------
// Arbitraries: small alphabets so that equal keys and shared prefixes are common

const stringArb = fc.oneof(
  fc.string({ unit: fc.constantFrom("a", "b", "\0", "\x01", "\x7f", "é", "\u0800", "\uffff", "😀", "\ud7ff", "\ue000"), maxLength: 4 }),
  fc.string({ unit: "binary", maxLength: 8 }),
);
const numberArb = fc.oneof(
  fc.double({ noNaN: true }),
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(0, -0, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, 2 ** 53, -(2 ** 53), 0.5),
);
const bigintArb = fc.oneof(
  fc.bigInt({ min: -300n, max: 300n }),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
  fc.bigInt({ min: -(2n ** 1100n), max: 2n ** 1100n }), // 127+ byte magnitudes: the long bigint form
);
const dateArb = fc.oneof(fc.integer({ min: -3, max: 3 }).map((t) => new Date(t)), fc.date({ noInvalidDate: true }));
const bytesArb = fc.oneof(
  fc.array(fc.constantFrom(0, 1, 0xfe, 0xff), { maxLength: 4 }).map((a) => new Uint8Array(a)),
  fc.uint8Array({ maxLength: 8 }),
);
const partArb: fc.Arbitrary<Key> = fc.oneof(stringArb, numberArb, bigintArb, fc.boolean(), dateArb, bytesArb);
const level1Arb = fc.array(partArb, { minLength: 1, maxLength: 3 });
const level2Arb = fc.array(fc.oneof(partArb, level1Arb), { minLength: 1, maxLength: 3 });
const keyArb: fc.Arbitrary<Key> = fc.oneof(partArb, level1Arb, level2Arb);

// ---------------------------------------------------------------------------


const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const hex = (s: string): string => Array.from(s, (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join(" ");

describe("encodeKey / decodeKey properties", () => {
  test("decodeKey(encodeKey(k)) is k with the same types (KEY-1)", () => {
    fc.assert(
      fc.property(keyArb, (k) => {
        assert.deepStrictEqual(decodeKey(encodeKey(k)), normalized(k));
      }),
      runs(500),
    );
  });

  test("encoded order and equality are the reference key order (KEY-2)", () => {
    fc.assert(
      fc.property(keyArb, keyArb, (a, b) => {
        const ea = encodeKey(a);
        const eb = encodeKey(b);
        const expected = Math.sign(refCompare(a, b));
        assert.equal(ea < eb ? -1 : ea > eb ? 1 : 0, expected, `${keyToString(a)} vs ${keyToString(b)}`);
        assert.equal(ea === eb, expected === 0);
        assert.equal(Math.sign(compareKeys(a, b)), expected);
      }),
      runs(2000),
    );
  });

  test("sorting by encoding sorts a whole list like the reference (KEY-2)", () => {
    fc.assert(
      fc.property(fc.array(keyArb, { maxLength: 30 }), (keys) => {
        const byEncoding = keys.map((k) => [encodeKey(k), k] as const).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
        for (let i = 1; i < byEncoding.length; i++) assert.ok(refCompare(byEncoding[i - 1]![1], byEncoding[i]![1]) <= 0);
      }),
      runs(200),
    );
  });

  test("encodings hold only bytes and fit keyBytesMax (KEY-3)", () => {
    fc.assert(
      fc.property(keyArb, (k) => {
        const e = encodeKey(k);
        assert.ok(e.length <= keyBytesMax);
        for (let i = 0; i < e.length; i++) assert.ok(e.charCodeAt(i) <= 0xff);
      }),
      runs(300),
    );
  });

  test("decodeKey accepts only canonical encodings: anything else is TXTDB_CORRUPT (KEY-5)", () => {
    const mutated = fc.tuple(keyArb, fc.nat(), fc.nat({ max: 0xff }), fc.constantFrom("flip", "cut", "insert")).map(([k, at, byte, how]) => {
      const e = encodeKey(k);
      const i = at % (e.length + 1);
      const c = String.fromCharCode(byte);
      return how === "flip" ? e.slice(0, i) + c + e.slice(i + 1) : how === "cut" ? e.slice(0, i) : e.slice(0, i) + c + e.slice(i);
    });
    const anyBinary = fc.string({ unit: fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 12 });
    fc.assert(
      fc.property(fc.oneof(mutated, anyBinary, fc.string({ maxLength: 6 })), (s) => {
        let key: Key;
        try {
          key = decodeKey(s);
        } catch (err) {
          assert.ok(err instanceof TxtDbError && err.code === "TXTDB_CORRUPT", String(err));
          return;
        }
        assert.equal(encodeKey(key), s, "a decodable string must be the canonical encoding of its key");
      }),
      runs(3000),
    );
  });
});

describe("encodePrefix", () => {
  const prefixArb: fc.Arbitrary<Key> = fc.oneof(partArb, level1Arb, level2Arb, fc.constant([] as Key[]));
  const suffixArb = fc.record({ str: stringArb, bytes: bytesArb, parts: fc.array(partArb, { maxLength: 2 }) });

  /** Keys that extend `prefix`: the interesting candidates. */
  function extensions(prefix: Key, s: { str: string; bytes: Uint8Array; parts: Key[] }): Key[] {
    if (typeof prefix === "string") return [prefix + s.str, s.str + prefix];
    if (prefix instanceof Uint8Array) return [new Uint8Array([...prefix, ...s.bytes]), new Uint8Array([...s.bytes, ...prefix])];
    if (Array.isArray(prefix)) return [[...prefix, ...s.parts], [...s.parts, ...prefix]].filter((k) => k.length > 0);
    return [prefix];
  }

  test("a key matches iff start <= encodeKey(key) < end, as the reference predicate says (KEY-6)", () => {
    fc.assert(
      fc.property(prefixArb, suffixArb, fc.array(keyArb, { maxLength: 8 }), (prefix, suffix, others) => {
        const { start, end } = encodePrefix(prefix);
        assert.ok(start < end);
        for (const k of [...extensions(prefix, suffix), ...others]) {
          const e = encodeKey(k);
          assert.equal(start <= e && e < end, refMatches(prefix, k), `prefix ${keyToString(prefix)}, key ${keyToString(k)}`);
        }
      }),
      runs(1000),
    );
  });

  test("a string prefix is the encoding without its terminator; end is its successor", () => {
    assert.deepEqual(encodePrefix("ab"), { start: "\x02ab", end: "\x02ac" });
    assert.deepEqual(encodePrefix(""), { start: "\x02", end: "\x03" });
  });

  test("a NUL at the end of a string prefix stays escaped, so 'a' itself does not match 'a\\0'", () => {
    const { start, end } = encodePrefix("a\0");
    assert.deepEqual({ start, end }, { start: "\x02a\x00\xff", end: "\x02a\x01" });
    const inRange = (k: Key): boolean => start <= encodeKey(k) && encodeKey(k) < end;
    assert.equal(inRange("a"), false);
    assert.equal(inRange("a\0"), true);
    assert.equal(inRange("a\0\0"), true);
    assert.equal(inRange("a\0z"), true);
    assert.equal(inRange("a\x01"), false);
  });

  test("a byte prefix ending in 0xff still covers every longer byte key (end skips trailing 0xff)", () => {
    const { start, end } = encodePrefix(bytes(1, 0xff));
    assert.deepEqual({ start, end }, { start: "\x01\x01\xff", end: "\x01\x02" });
    const inRange = (k: Key): boolean => start <= encodeKey(k) && encodeKey(k) < end;
    assert.equal(inRange(bytes(1, 0xff, 0xff, 0xff)), true);
    assert.equal(inRange(bytes(1, 0xff, 0)), true);
    assert.equal(inRange(bytes(1)), false);
    assert.equal(inRange(bytes(1, 0xfe, 0xff)), false);
    assert.equal(inRange(bytes(2)), false);
  });

  test("an array prefix matches composites that start with its elements, whole elements only", () => {
    const { start, end } = encodePrefix(["acme"]);
    const inRange = (k: Key): boolean => start <= encodeKey(k) && encodeKey(k) < end;
    assert.equal(inRange(["acme"]), true);
    assert.equal(inRange(["acme", 18]), true);
    assert.equal(inRange(["acme", ["x"]]), true);
    assert.equal(inRange(["acmeX", 1]), false, "a composite prefix does not prefix-match its strings");
    assert.equal(inRange(["acme\0"]), false, "not even by an escaped NUL right after the prefix");
    assert.equal(inRange(["acme\0", 1]), false);
    assert.equal(inRange("acme"), false);
    assert.equal(inRange([["acme"]]), false);
  });

  test("an array prefix ending in a string or bytes does not match a longer last element (0xff after the prefix)", () => {
    for (const [prefix, longer] of [[[bytes()], [bytes(0)]], [["a", ""], ["a", "\0"]], [[bytes(1, 0)], [bytes(1, 0, 0)]]] as Key[][][]) {
      const { start, end } = encodePrefix(prefix!);
      const e = encodeKey(longer!);
      assert.ok(e.startsWith(start), "the plain string prefix test would wrongly match");
      assert.equal(start <= e && e < end, false, `${keyToString(prefix!)} must not match ${keyToString(longer!)}`);
      assert.equal(start <= encodeKey([...(prefix as Key[]), 1]) && encodeKey([...(prefix as Key[]), 1]) < end, true);
    }
  });

  test("[] matches every composite key and nothing else", () => {
    const { start, end } = encodePrefix([]);
    const inRange = (k: Key): boolean => start <= encodeKey(k) && encodeKey(k) < end;
    assert.equal(inRange([0]), true);
    assert.equal(inRange([[[new Date(0)]]]), true);
    assert.equal(inRange(new Date(0)), false);
    assert.equal(inRange(true), false);
  });

  test("a number, bigint, boolean or Date prefix matches exactly that key", () => {
    for (const k of [5, -0, 5n, true, new Date(7)] as Key[]) {
      const { start, end } = encodePrefix(k);
      assert.equal(start, encodeKey(k));
      assert.equal(end, encodeKey(k) + "\x00");
    }
  });

  test("an invalid prefix is TXTDB_INVALID_KEY naming the prefix", () => {
    throwsCode(() => encodePrefix(["a", {} as unknown as Key]), "TXTDB_INVALID_KEY", /^prefix\[1\] is an object$/);
    throwsCode(() => encodePrefix(NaN), "TXTDB_INVALID_KEY", /^prefix is NaN$/);
  });
});

describe("the on-disk encoding is pinned", () => {
  const cases: [Key, string][] = [
    [bytes(), "01 00"],
    [bytes(0, 1, 0xff), "01 00 ff 01 ff 00"],
    ["", "02 00"],
    ["alice", "02 61 6c 69 63 65 00"],
    ["a\0b", "02 61 00 ff 62 00"],
    ["é😀", "02 c3 a9 f0 9f 98 80 00"],
    [0, "03 80 00 00 00 00 00 00 00"],
    [-0, "03 80 00 00 00 00 00 00 00"],
    [1, "03 bf f0 00 00 00 00 00 00"],
    [-1, "03 40 0f ff ff ff ff ff ff"],
    [Infinity, "03 ff f0 00 00 00 00 00 00"],
    [-Infinity, "03 00 0f ff ff ff ff ff ff"],
    [0n, "04 80"],
    [1n, "04 81 01"],
    [256n, "04 82 01 00"],
    [-1n, "04 7e fe"],
    [-256n, "04 7d fe ff"],
    [false, "05 00"],
    [true, "05 01"],
    [new Date(0), "06 80 00 00 00 00 00 00 00"],
    [["acme", 18], "07 02 61 63 6d 65 00 03 c0 32 00 00 00 00 00 00 00"],
    [[["x"]], "07 07 02 78 00 00 00"],
  ];
  for (const [key, expected] of cases) {
    test(`${keyToString(key)} encodes to ${expected}`, () => {
      assert.equal(hex(encodeKey(key)), expected);
    });
  }

  test("a bigint of 127 or more bytes uses the long form with a 4-byte length", () => {
    const big = 2n ** (8n * 127n) - 1n; // 127 bytes of 0xff
    assert.equal(hex(encodeKey(big).slice(0, 6)), "04 ff 00 00 00 7f");
    assert.equal(hex(encodeKey(-big).slice(0, 7)), "04 00 ff ff ff 80 00");
    assert.equal(hex(encodeKey(2n ** (8n * 126n) - 1n).slice(0, 3)), "04 fe ff", "126 bytes still use the short form");
    assert.equal(decodeKey(encodeKey(-big)), -big);
  });
});

describe("key order edge cases (contract 13)", () => {
  /** Asserts that `keys` are strictly increasing both by encoding and by compareKeys. */
  function assertIncreasing(keys: Key[]): void {
    for (let i = 1; i < keys.length; i++) {
      const [a, b] = [keys[i - 1]!, keys[i]!];
      assert.ok(encodeKey(a) < encodeKey(b), `${keyToString(a)} < ${keyToString(b)}`);
      assert.equal(compareKeys(a, b), -1);
      assert.equal(compareKeys(b, a), 1);
    }
  }

  test("types: Uint8Array < string < number < bigint < boolean < Date < array", () => {
    assertIncreasing([bytes(0xff, 0xff), "", "\uffff", -Infinity, Infinity, -(2n ** 70n), 2n ** 70n, false, true, new Date(-8.64e15), new Date(8.64e15), [bytes()]]);
  });

  test('"" and an empty Uint8Array are two valid keys, the bytes first', () => {
    assertIncreasing([bytes(), bytes(0), ""]);
  });

  test("numbers: -Infinity, -MAX_VALUE, -1, -MIN_VALUE, 0, MIN_VALUE, 1, 2^53, 2^53 + 2, MAX_VALUE, Infinity", () => {
    assertIncreasing([-Infinity, -Number.MAX_VALUE, -1, -Number.MIN_VALUE, 0, Number.MIN_VALUE, 1, 2 ** 53, 2 ** 53 + 2, Number.MAX_VALUE, Infinity]);
  });

  test("-0 is the same key as 0 and reads back as 0", () => {
    assert.equal(encodeKey(-0), encodeKey(0));
    assert.equal(compareKeys(-0, 0), 0);
    assert.ok(Object.is(decodeKey(encodeKey(-0)), 0));
    assert.equal(encodeKey([-0]), encodeKey([0]));
  });

  test("bigints of any size and sign, -2^70 < -2^64 < -256 < -255 < -1 < 0 < 1 < 255 < 256 < 2^64 < 2^70 < 2^1100", () => {
    const big = 2n ** 1100n;
    assertIncreasing([-big - 1n, -big, -(2n ** 70n), -(2n ** 64n), -256n, -255n, -1n, 0n, 1n, 255n, 256n, 2n ** 64n, 2n ** 70n, big, big + 1n]);
  });

  test("number 1, bigint 1n and string '1' are three keys", () => {
    assertIncreasing(["1", 1, 1n]);
    assert.equal(typeof decodeKey(encodeKey(1n)), "bigint");
    assert.equal(typeof decodeKey(encodeKey(1)), "number");
  });

  test("k and [k] are different keys; a shorter composite prefix sorts first", () => {
    assertIncreasing(["a", ["a"], ["a", 1], ["a", 1, 2], ["a", 2], ["a", true], [["a"]]]);
    assertIncreasing([["a", "b"], ["a", 1]]); // string < number inside composites too
  });

  test("strings order by UTF-8 bytes: U+FFFF sorts before an astral character (unlike UTF-16)", () => {
    assert.ok("\uffff" > "😀", "JS compares UTF-16 code units the other way");
    assertIncreasing(["\u007f", "\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff", "😀", "\u{10ffff}"]);
  });

  test("strings containing NUL: '' < '\\0' < '\\0\\0' < '\\x01' < 'a' < 'a\\0' < 'a\\0b' < 'a\\x01' < 'ab'", () => {
    assertIncreasing(["", "\0", "\0\0", "\x01", "a", "a\0", "a\0b", "a\x01", "ab"]);
    assertIncreasing([["a"], ["a\0"], ["a", 0]].slice(0, 2));
    assertIncreasing([["a", 0], ["a\0"]]);
  });

  test("bytes containing 0x00 and 0xff order bytewise", () => {
    assertIncreasing([bytes(), bytes(0), bytes(0, 0), bytes(0, 0xff), bytes(1), bytes(0xff), bytes(0xff, 0)]);
  });

  test("Dates order by time; false < true", () => {
    assertIncreasing([new Date(-1), new Date(0), new Date(1)]);
    assertIncreasing([false, true]);
  });
});

describe("decodeKey", () => {
  test("returns Dates and Uint8Arrays as new objects of exactly those classes", () => {
    const d = new Date(1234);
    const decodedDate = decodeKey(encodeKey(d));
    assert.ok(decodedDate instanceof Date && decodedDate !== d && decodedDate.getTime() === 1234);
    const decodedBytes = decodeKey(encodeKey(bytes(1, 2)));
    assert.equal(Object.getPrototypeOf(decodedBytes), Uint8Array.prototype);
    assert.equal((decodedBytes as Uint8Array).buffer.byteLength, 2, "its own compact buffer");
  });

  test("a string with a BOM or U+FFFF reads back unchanged", () => {
    for (const s of ["\ufeff", "\ufeffabc", "a\uffff"]) assert.equal(decodeKey(encodeKey(s)), s);
  });

  const malformed: [string, string, RegExp][] = [
    ["an empty string", "", /empty/],
    ["an unknown tag", "\x09", /unknown type tag 0x09/],
    ["a zero tag", "\x00", /unknown type tag 0x00/],
    ["a string without terminator", "\x02abc", /missing terminator/],
    ["bytes after the key", "\x02a\x00x", /bytes after the end/],
    ["a char code above 255", "\x02\u0100\x00", /not a byte/],
    ["invalid UTF-8", "\x02\xff\x00", /not valid UTF-8/],
    ["an encoded surrogate", "\x02\xed\xa0\x80\x00", /not valid UTF-8/],
    ["a short number", "\x03\x80\x00", /unexpected end/],
    ["-0", "\x03\x7f\xff\xff\xff\xff\xff\xff\xff", /-0/],
    ["NaN", "\x03\xff\xf8\x00\x00\x00\x00\x00\x00", /NaN/],
    ["a boolean byte 2", "\x05\x02", /boolean/],
    ["a bigint with a leading zero byte", "\x04\x82\x00\x01", /leading zero/],
    ["a negative bigint of length 0", "\x04\x7f", /length 0/],
    ["a long-form bigint that is short", "\x04\xff\x00\x00\x00\x01\x01", /long length header/],
    ["a bigint past the end", "\x04\x83\x01", /past the end/],
    ["a fractional Date", "\x06\xbf\xf8\x00\x00\x00\x00\x00\x00", /no valid Date/],
    ["a Date out of range", "\x06\xc3\x40\x00\x00\x00\x00\x00\x00", /no valid Date/],
    ["an empty array", "\x07\x00", /empty array/],
    ["an array without terminator", "\x07\x05\x01", /without its terminator/],
    ["too long", "\x02" + "a".repeat(keyBytesMax) + "\x00", /keyBytesMax/],
  ];
  for (const [what, encoded, message] of malformed) {
    test(`${what} is TXTDB_CORRUPT (KEY-5)`, () => throwsCode(() => decodeKey(encoded), "TXTDB_CORRUPT", message));
  }

  test(`an array of more than compositeKeyElementsMax elements is TXTDB_CORRUPT`, () => {
    const e = "\x07" + "\x05\x01".repeat(compositeKeyElementsMax + 1) + "\x00";
    throwsCode(() => decodeKey(e), "TXTDB_CORRUPT", /more than 64 elements/);
  });
});

describe("encodeKey errors: TXTDB_INVALID_KEY naming the part", () => {
  const invalid: [string, unknown, RegExp][] = [
    ["NaN", NaN, /^key is NaN$/],
    ["an invalid Date", new Date(NaN), /^key is an invalid Date$/],
    ["null", null, /^key is null$/],
    ["undefined", undefined, /^key is undefined$/],
    ["an object", { a: 1 }, /^key is an object$/],
    ["a null-prototype object", Object.create(null), /^key is an object$/],
    ["a symbol", Symbol("s"), /^key is a symbol$/],
    ["a function", () => 1, /^key is a function$/],
    ["a Float64Array", new Float64Array(1), /^key is a Float64Array$/],
    ["an Int8Array", new Int8Array(1), /^key is an Int8Array$/],
    ["a Map", new Map(), /^key is a Map$/],
    ["an empty composite", [], /^key is an empty composite/],
    ["a nested empty composite", ["a", []], /^key\[1\] is an empty composite/],
    ["an object in a composite", ["a", 1, {}], /^key\[2\] is an object$/],
    ["NaN deep in a composite", [1, [2, NaN]], /^key\[1\]\[1\] is NaN$/],
    ["a lone high surrogate", "a\ud800", /^key is a string with a lone surrogate at index 1/],
    ["a lone low surrogate", ["\udc00b"], /^key\[0\] is a string with a lone surrogate at index 0/],
    ["a reversed surrogate pair", "\udc00\ud800", /lone surrogate at index 0/],
    ["a hole in a composite", [1, , 2], /^key\[1\] is undefined$/],
  ];
  for (const [what, key, message] of invalid) {
    test(`${what}`, () => throwsCode(() => encodeKey(key), "TXTDB_INVALID_KEY", message));
  }

  test(`a composite of compositeKeyElementsMax elements is fine; one more is refused`, () => {
    encodeKey(Array.from({ length: compositeKeyElementsMax }, (_, i) => i));
    throwsCode(
      () => encodeKey(Array.from({ length: compositeKeyElementsMax + 1 }, (_, i) => i)),
      "TXTDB_INVALID_KEY",
      /^key has 65 elements, more than compositeKeyElementsMax \(64\)$/,
    );
  });

  test("a key of exactly keyBytesMax bytes is fine; one byte more is refused with the size and the limit", () => {
    const fits = "a".repeat(keyBytesMax - 2);
    assert.equal(encodeKey(fits).length, keyBytesMax);
    throwsCode(() => encodeKey(fits + "a"), "TXTDB_INVALID_KEY", /^key is a string of 2047 UTF-16 units, so it encodes to at least 2049 bytes, more than keyBytesMax \(2048 bytes\)$/);
    throwsCode(() => encodeKey(fits.slice(1) + "é"), "TXTDB_INVALID_KEY", /^key encodes to 2049 bytes, more than keyBytesMax \(2048 bytes\)$/);
    throwsCode(() => encodeKey([fits.slice(3), 1]), "TXTDB_INVALID_KEY", /^key encodes to 2056 bytes, more than keyBytesMax/);
    throwsCode(() => encodeKey(new Uint8Array(keyBytesMax)), "TXTDB_INVALID_KEY", /^key is a Uint8Array of 2048 bytes/);
    throwsCode(() => encodeKey(new Uint8Array(1200)), "TXTDB_INVALID_KEY", /^key encodes to 2402 bytes/); // every 0x00 doubles
    throwsCode(() => encodeKey(2n ** 20000n), "TXTDB_INVALID_KEY", /^key is a bigint of 2501 bytes/);
    throwsCode(() => encodeKey(["x", "a".repeat(5000)]), "TXTDB_INVALID_KEY", /^key\[1\] is a string of 5000 UTF-16 units/);
  });

  test("deep or cyclic composites fail fast instead of overflowing the stack", () => {
    let deep: unknown = [1];
    for (let i = 0; i < 5000; i++) deep = [deep];
    throwsCode(() => encodeKey(deep), "TXTDB_INVALID_KEY", /keyDepthMax/);
    const cyclic: unknown[] = [1];
    cyclic.push(cyclic);
    throwsCode(() => encodeKey(cyclic), "TXTDB_INVALID_KEY", /^key\[1\]\[1\]\[1\]\[1\].*keyDepthMax/);
  });

  test("a Buffer-like subclass of Uint8Array is a byte key and reads back as a plain Uint8Array", () => {
    class Bytes extends Uint8Array {}
    const decoded = decodeKey(encodeKey(new Bytes([1, 2])));
    assert.equal(Object.getPrototypeOf(decoded), Uint8Array.prototype);
    assert.deepEqual(Array.from(decoded as Uint8Array), [1, 2]);
  });

  test("a Uint8Array view encodes only its own bytes", () => {
    const view = new Uint8Array([9, 1, 2, 9]).subarray(1, 3);
    assert.equal(encodeKey(view), encodeKey(bytes(1, 2)));
  });
});

describe("keyToString", () => {
  test("writes the short readable forms used in messages", () => {
    assert.equal(keyToString("alice"), '"alice"');
    assert.equal(keyToString(18), "18");
    assert.equal(keyToString(-0), "0");
    assert.equal(keyToString(-Infinity), "-Infinity");
    assert.equal(keyToString(1n), "1n");
    assert.equal(keyToString(true), "true");
    assert.equal(keyToString(new Date(Date.UTC(2026, 0, 1))), "Date(2026-01-01T00:00:00.000Z)");
    assert.equal(keyToString(bytes(0x0a, 0x0b)), "bytes(0a0b)");
    assert.equal(keyToString(["acme", 18]), '["acme", 18]');
    assert.equal(keyToString([["a"], [1n]]), '[["a"], [1n]]');
  });

  test("cuts long strings and byte strings", () => {
    assert.equal(keyToString("x".repeat(100)), `"${"x".repeat(64)}…" (100 chars)`);
    assert.equal(keyToString(new Uint8Array(40)), `bytes(${"00".repeat(32)}… 40 bytes)`);
  });
});

describe("keyToJson / keyFromJson (KEY-7)", () => {
  test("strings, finite numbers and booleans are themselves; the rest use the value tags", () => {
    const cases: [Key, string][] = [
      ["alice", '"alice"'],
      [18, "18"],
      [-0, "0"],
      [1.5, "1.5"],
      [true, "true"],
      [Infinity, '{"$number":"Infinity"}'],
      [-Infinity, '{"$number":"-Infinity"}'],
      [-123n, '{"$bigint":"-123"}'],
      [new Date(Date.UTC(2026, 0, 1)), '{"$date":"2026-01-01T00:00:00.000Z"}'],
      [bytes(0x0a, 0x0b, 0x0c), '{"$bytes":"CgsM"}'],
      [["acme", 18], '["acme",18]'],
      [["acme", [1n, "x"]], '["acme",[{"$bigint":"1"},"x"]]'],
    ];
    for (const [key, json] of cases) {
      assert.equal(JSON.stringify(keyToJson(key)), json);
      assert.deepStrictEqual(keyFromJson(JSON.parse(json)), normalized(key));
    }
  });

  test("keyFromJson(JSON.parse(JSON.stringify(keyToJson(k)))) is k", () => {
    fc.assert(
      fc.property(keyArb, (k) => {
        const back = keyFromJson(JSON.parse(JSON.stringify(keyToJson(k))));
        assert.deepStrictEqual(back, normalized(k));
        assert.equal(encodeKey(back), encodeKey(k));
      }),
      runs(300),
    );
  });

  test("keyToJson refuses what is not a key with TXTDB_INVALID_KEY", () => {
    throwsCode(() => keyToJson({} as unknown as Key), "TXTDB_INVALID_KEY", /key is an object/);
    throwsCode(() => keyToJson([NaN]), "TXTDB_INVALID_KEY", /key\[0\] is NaN/);
  });

  const corrupt: [string, unknown, RegExp][] = [
    ["an object", { a: 1 }, /not a key in JSON form/],
    ["null", null, /^key is not a key in JSON form: null$/],
    ["-0", -0, /not a key/],
    ["NaN as a tag", { $number: "NaN" }, /not a key/],
    ["-0 as a tag", { $number: "-0" }, /not a key/],
    ["a finite number as a tag", { $number: "5" }, /malformed \$number/],
    ["an invalid Date", { $date: null }, /not a key/],
    ["a Map", { $map: [] }, /not a key/],
    ["undefined as a tag", { $undefined: true }, /not a key|\$undefined/],
    ["an unknown tag", { $foo: 1 }, /unknown tag/],
    ["a non-canonical bigint", { $bigint: "01" }, /malformed \$bigint/],
    ["an empty composite", [], /empty composite/],
    ["a lone surrogate", "\ud800", /lone surrogate/],
    ["an object inside a composite", ["a", { b: 1 }], /^key\[1\] is not a key/],
    ["a too long key", "a".repeat(keyBytesMax), /keyBytesMax/],
  ];
  for (const [what, json, message] of corrupt) {
    test(`keyFromJson: ${what} is TXTDB_CORRUPT`, () => throwsCode(() => keyFromJson(json), "TXTDB_CORRUPT", message));
    test(`encodedKeyFromJson: ${what} is TXTDB_CORRUPT`, () => throwsCode(() => encodedKeyFromJson(json), "TXTDB_CORRUPT", message));
  }

  test("encodedKeyFromJson(j) is encodeKey(keyFromJson(j)), strings (its shortcut) included", () => {
    fc.assert(
      fc.property(keyArb, (k) => {
        const json = JSON.parse(JSON.stringify(keyToJson(k))) as unknown;
        assert.equal(encodedKeyFromJson(json), encodeKey(keyFromJson(json)));
      }),
      runs(300),
    );
  });
});
