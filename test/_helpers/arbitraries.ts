/** fast-check arbitraries of keys and values, shared by the page-format and end-to-end tests. */
import fc from "fast-check";
import type { Key } from "../../src/codec/key.ts";

/** Words and characters that trip YAML, XML and JSON layouts. */
export const trickyStrings = [
  "", " ", "  x  ", "\n", "\r\n", "\t", "a\nb\n", "yes", "no", "on", "off", "y", "n", "true", "False", "null", "NULL", "~", "-", "- a", "? x",
  "12", "-0", "0x1f", "0o7", "1e3", ".inf", "-.nan", "1_000", "2001-12-14", "<<", "&a", "*a", "!tag", "%x", "@attr", "#text", "# c", "a: b", "[x]", "{y}",
  "'", '"', "\\", "<x>", "&amp;", "]]>", "<!DOCTYPE x>", "&lol;", "\u0000", "\u0001", "\u007f", "\u0085", "\u2028", "\ufeff", "\ufffe", "\uffff",
  "\ud800", "\udfff", "😀", "é", "__proto__", "constructor", "prototype", "toString", "$", "$$date",
];

/** Strings that trip the formats: tricky words, any code unit, and runs of characters to escape (backslashes, quotes, controls, lone surrogates). */
export const stringArb = fc.oneof(
  fc.constantFrom(...trickyStrings),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.string({ unit: fc.constantFrom("a", "$", " ", "\n", "\r", "\t", ":", "#", "-", "&", "<", ">", '"', "'", "\\", "\0", "\ud800", "\udfff", "😀", "\u2028"), maxLength: 6 }),
);
/** Object keys: tricky strings, and keys the codec must escape ("$…" is its tag prefix, VAL-5). */
const propertyKeyArb = fc.oneof(
  stringArb,
  fc.constantFrom("10", "9", "0", "", "$date", "$$x", "$", "$$", "$map", "$undefined", "a b"),
  fc.string({ maxLength: 4 }).map((s) => "$" + s),
);
const leafArb = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(), // NaN, ±Infinity and -0 included
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, 2 ** 53 + 1, Number.MAX_VALUE, Number.MIN_VALUE, 1e21, 1e-7),
  fc.integer(),
  fc.bigInt(),
  fc.constant(2n ** 53n + 1n),
  stringArb,
  fc.date(), // invalid Dates included
  fc.uint8Array({ maxLength: 8 }),
);

/** Any value the codec stores: nested arrays (with undefined), objects, Maps, Sets. */
export const { value: valueArb } = fc.letrec((tie) => {
  const member = fc.oneof({ weight: 5, arbitrary: tie("value") }, { weight: 1, arbitrary: fc.constant(undefined) });
  return {
    value: fc.oneof({ maxDepth: 4, depthIdentifier: "value" }, leafArb, tie("array"), tie("object"), tie("map"), tie("set")),
    array: fc.array(member, { maxLength: 4 }),
    object: fc.dictionary(propertyKeyArb, member, { maxKeys: 4, noNullPrototype: true }),
    map: fc.array(fc.tuple(member, member), { maxLength: 3 }).map((entries) => new Map(entries)),
    set: fc.array(member, { maxLength: 3 }).map((elements) => new Set(elements)),
  };
});

/** Strings a key may hold: no lone surrogates (keys are compared as UTF-8). */
const keyStringArb = fc.oneof(
  fc.constantFrom(...trickyStrings.filter((s) => !/[\ud800-\udfff]/.test(s) || s === "😀")),
  fc.string({ unit: "grapheme", maxLength: 6 }),
  fc.string({ unit: fc.constantFrom("a", " ", "\n", "\r", "\0", ":", "&", "<", "😀"), maxLength: 5 }),
);
const partArb: fc.Arbitrary<Key> = fc.oneof(
  keyStringArb,
  fc.double({ noNaN: true }),
  fc.bigInt(),
  fc.boolean(),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array({ maxLength: 6 }),
);

/** Any key: scalars and composites up to two levels. */
export const keyArb: fc.Arbitrary<Key> = fc.oneof(
  partArb,
  fc.array(partArb, { minLength: 1, maxLength: 3 }),
  fc.array(fc.oneof(partArb, fc.array(partArb, { minLength: 1, maxLength: 2 })), { minLength: 1, maxLength: 3 }),
);

/** Valid namespace names (contract 15). */
export const namespaceArb = fc.oneof(
  fc.constantFrom("accounts", "a b", "yes", "null", "~", "__proto__", "#text", "@x", "<ns>", "é😀", "\u0001", "x\ny"),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }).filter((s) => !/[/\\\0]/.test(s) && s !== "." && s !== ".."),
);
