/**
 * Tests of the page formats (src/codec/page_format*.ts): PAGE-1 round trip of
 * every key and value the codec accepts through JSON, YAML and XML (a
 * fast-check property), PAGE-2 stable layout, PAGE-3 errors, and hostile
 * hand-edited input (YAML-1…4, XML-1…4): alias bombs, entity expansion,
 * DTDs, a 50 MB single line. Replay a property with TXTDB_SEED=<n>.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import fc from "fast-check";
import { encodeKey, keyFromJson, keyToJson, type Key } from "../src/codec/key.ts";
import { decodeValue, encodeValue, valueToJson, type JsonValue } from "../src/codec/value.ts";
import type { PageEntry, PageFormat } from "../src/codec/page_format.ts";
import { pageFormats } from "./_helpers/page_formats.ts";
import { readCanonical } from "../src/codec/_xml_canonical.ts";
import { decodeGeneral } from "../src/codec/page_format_xml.ts";
import { ErrorCode, TxtDbError } from "../src/errors.ts";
import { keyArb, namespaceArb, trickyStrings, valueArb } from "./_helpers/arbitraries.ts";
import { testSeed } from "./_helpers/expect.ts";

const seed = testSeed("page_format");
const formats = Object.values(pageFormats) as PageFormat[];

function entriesOf(rows: Array<[Key, unknown]>): PageEntry[] {
  const byEnc = new Map<string, PageEntry>();
  for (const [k, v] of rows) byEnc.set(encodeKey(k), { key: keyToJson(k), valueText: encodeValue(v) });
  return [...byEnc].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

/** PAGE-1 at the level that matters: the same keys (encoded) and the same values (canonical encoding). */
function assertRoundTrip(format: PageFormat, ns: string, entries: PageEntry[]): void {
  const text = format.encode(ns, entries);
  const page = format.decode(text, "page");
  assert.equal(page.namespace, ns);
  assert.equal(page.entries.length, entries.length);
  for (const [i, [k, v]] of page.entries.entries()) {
    assert.equal(encodeKey(keyFromJson(k)), encodeKey(keyFromJson(entries[i]!.key)), `key ${i}`);
    assert.equal(encodeValue(decodeValue(JSON.stringify(v))), entries[i]!.valueText, `value ${i}`);
  }
}

function corruptOf(fn: () => unknown): TxtDbError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof TxtDbError, String(err));
    assert.equal(err.code, ErrorCode.CORRUPT, err.message);
    return err;
  }
  assert.fail("expected TXTDB_CORRUPT");
}

for (const format of formats) {
  describe(`${format.name} pages`, () => {
    test("PAGE-1: every key and value the codec accepts round-trips exactly (property)", () => {
      fc.assert(fc.property(namespaceArb, fc.array(fc.tuple(keyArb, valueArb), { maxLength: 8 }), (ns, rows) => {
        assertRoundTrip(format, ns, entriesOf(rows));
      }), { seed, numRuns: 300 });
    });

    test("PAGE-1: YAML- and XML-special strings, as values, object keys and keys, round-trip", () => {
      const rows: Array<[Key, unknown]> = trickyStrings.map((s, i) => [i, s]);
      rows.push(["obj", Object.fromEntries(trickyStrings.map((s) => [s, s]))]);
      rows.push(["proto", JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":2}}')]);
      rows.push(["numbers", [-0, NaN, Infinity, -Infinity, 2 ** 53 + 1, 2n ** 53n + 1n, 1e21, 5e-324, -1.5]]);
      rows.push(["types", { d: new Date(0), bad: new Date(NaN), b: new Uint8Array([0, 255]), m: new Map<unknown, unknown>([[1, "a"], ["1", [undefined]]]), s: new Set(["yes", null]) }]);
      rows.push(["holes", [1, , 3, undefined]]); // eslint-disable-line no-sparse-arrays
      for (const s of trickyStrings) if (!/[\ud800-\udfff]/.test(s)) rows.push([[s, s], 1]);
      assertRoundTrip(format, "accounts", entriesOf(rows));
      assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
    });

    test("an empty page round-trips", () => {
      assertRoundTrip(format, "empty", []);
    });

    test("PAGE-2: one entry per line or block; an unchanged row is unchanged text", () => {
      const rows: Array<[Key, unknown]> = Array.from({ length: 20 }, (_, i) => [`k${String(i).padStart(2, "0")}`, { i, text: `line ${i}\nnext`, tags: ["a", "b"] }]);
      const before = format.encode("ns", entriesOf(rows));
      rows[7] = ["k07", { i: 7, text: "changed", tags: [] }];
      const after = format.encode("ns", entriesOf(rows));
      const a = before.split("\n"), b = after.split("\n");
      const changed = a.filter((line) => !b.includes(line));
      assert.ok(changed.length >= 1 && changed.length <= 6, `changed lines: ${JSON.stringify(changed)}`);
      assert.ok(changed.every((line) => line.includes("7") || /text|tags|- |line|next|^\s*$/.test(line)), JSON.stringify(changed));
      assert.equal(format.encode("ns", entriesOf(rows)), after, "deterministic");
      for (let i = 0; i < rows.length; i++) {
        const at = format.entryOffset(after, i);
        assert.ok(after.slice(at, at + 200).includes(`k${String(i).padStart(2, "0")}`), `entryOffset(${i})`);
      }
    });

    test("PAGE-3: text that is not a page is TXTDB_CORRUPT naming the file", () => {
      const wrongRoot = format.encode("ns", []).replace(/"txtdb":"page"|txtdb: page|txtdb="page"/, (m) => m.replace("page", "pages"));
      assert.notEqual(wrongRoot, format.encode("ns", []));
      for (const text of ["", "[]", "x", "{", wrongRoot]) {
        const err = corruptOf(() => format.decode(text, "/db/pages/ns/000001" + format.extension));
        assert.equal(err.file, "/db/pages/ns/000001" + format.extension);
      }
    });

    test("PAGE-3: a non-finite number in a hand-edited page is refused, not turned into null", () => {
      const good = format.encode("ns", entriesOf([["a", 1.5]]));
      const bad = format.name === "json" ? good.replace("1.5", "1e999") : format.name === "yaml" ? good.replace("1.5", ".inf") : good.replace("<num>1.5</num>", "<num>1e999</num>");
      assert.notEqual(bad, good);
      const err = corruptOf(() => format.decode(bad, "f"));
      if (format.name !== "json") assert.match(err.message, /Infinity/);
    });

    test("a 50 MB single-line file is refused quickly with bounded memory", () => {
      const mb50 = 50 << 20;
      const prefix = format.name === "json" ? '{"txtdb":"page","namespace":"n","entries":[["k","'
        : format.name === "yaml" ? '{txtdb: page, namespace: n, entries: [{key: k, value: "'
        : '<page txtdb="page" namespace="n"><entry><key><str>k</str></key><value><str>';
      const text = prefix + "x".repeat(mb50 - prefix.length); // never closed
      const rss0 = process.memoryUsage().rss;
      const t0 = performance.now();
      corruptOf(() => format.decode(text, "big"));
      const ms = performance.now() - t0;
      const grewMb = (process.memoryUsage().rss - rss0) / (1 << 20);
      console.log(`${format.name}: 50 MB single line refused in ${ms.toFixed(0)} ms, rss +${grewMb.toFixed(0)} MB`);
      assert.ok(ms < 15_000, `took ${ms} ms`);
      assert.ok(grewMb < 400, `rss grew ${grewMb} MB`);
    });
  });
}

describe("hostile YAML (YAML-1…YAML-3)", () => {
  const yaml = pageFormats.yaml!;

  test("a billion-laughs alias bomb is refused at its first alias, fast", () => {
    const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i <= 9; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(",")}]`);
    const bomb = `txtdb: page\nnamespace: n\nentries:\n- key: k\n  value:\n${lines.map((l) => "    " + l).join("\n")}\n`;
    const t0 = performance.now();
    const err = corruptOf(() => yaml.decode(bomb, "bomb.yaml"));
    assert.ok(performance.now() - t0 < 200);
    assert.match(err.message, /alias/i);
  });

  test("one alias is refused too; anchors never expand", () => {
    const text = "txtdb: page\nnamespace: n\nentries:\n- key: &k a\n  value: *k\n";
    assert.match(corruptOf(() => yaml.decode(text, "f")).message, /alias/i);
  });

  test("language and custom tags are refused: nothing but JSON values is ever built", () => {
    for (const tag of ["!!js/function 'return 1'", "!!js/undefined ''", "!!binary aGk=", "!!timestamp 2001-12-14", "!custom x", "!!set {a}", "!!omap [a: 1]"]) {
      corruptOf(() => yaml.decode(`txtdb: page\nnamespace: n\nentries:\n- key: a\n  value: ${tag}\n`, "f"));
    }
  });

  test("deep nesting is refused before it exhausts the stack", () => {
    const deep = "txtdb: page\nnamespace: n\nentries:\n- key: a\n  value: " + "[".repeat(100_000) + "]".repeat(100_000) + "\n";
    const t0 = performance.now();
    corruptOf(() => yaml.decode(deep, "f"));
    assert.ok(performance.now() - t0 < 2000);
  });

  test("syntax errors name the file and a byte offset", () => {
    const err = corruptOf(() => yaml.decode("txtdb: page\nnamespace: n\nentries:\n- key: a\n  value: [1, 2\n", "/db/x.yaml"));
    assert.equal(err.file, "/db/x.yaml");
    assert.equal(typeof err.offset, "number");
  });
});

describe("PAGE-4: findEntry finds what decode finds", () => {
  for (const format of formats.filter((f) => f.findEntry !== undefined)) {
    test(`${format.name}: on pages txtdb writes, every key present and absent (property)`, () => {
      let searches = 0;
      fc.assert(fc.property(namespaceArb, fc.array(fc.tuple(keyArb, valueArb), { maxLength: 40 }), fc.array(keyArb, { maxLength: 4 }), (ns, rows, absent) => {
        const text = format.encode(ns, entriesOf(rows));
        const decoded = new Map(format.decode(text, "page").entries.map(([k, v]) => [encodeKey(keyFromJson(k)), v]));
        // Only a number literal JSON.parse may overflow (PAGE-3) sends the search back to decode.
        const mayStepAside = /[eE][+-]?\d{3}|\d{309}/.test(text);
        for (const key of [...rows.map(([k]) => k), ...absent]) {
          const enc = encodeKey(key);
          const found = format.findEntry!(text, (k) => {
            const at = encodeKey(keyFromJson(k));
            return at < enc ? -1 : at > enc ? 1 : 0;
          });
          searches++;
          if (found === undefined && mayStepAside) continue;
          if (!decoded.has(enc)) assert.equal(found, null, `key ${JSON.stringify(keyToJson(key))} is not in the page`);
          else assert.equal(JSON.stringify(found?.[1]), JSON.stringify(decoded.get(enc)), `key ${JSON.stringify(keyToJson(key))}`);
        }
      }), { seed, numRuns: 300 });
      assert.ok(searches > 1000, String(searches));
    });
  }
});

describe("the canonical XML reader (XMLC-1)", () => {
  test("on pages txtdb writes, and on any one-character change of them, it agrees with the general reader or steps aside", () => {
    const xml = pageFormats.xml!;
    let fastHits = 0, mutatedHits = 0;
    fc.assert(fc.property(namespaceArb, fc.array(fc.tuple(keyArb, valueArb), { maxLength: 5 }), fc.nat(), fc.string({ unit: "binary", minLength: 0, maxLength: 2 }), (ns, rows, at, insert) => {
      const text = xml.encode(ns, entriesOf(rows));
      const fast = readCanonical(text);
      assert.ok(fast !== undefined, "txtdb's own output takes the fast path");
      fastHits++;
      assert.equal(JSON.stringify(fast), JSON.stringify(decodeGeneral(text, "f")));
      const i = at % (text.length + 1);
      const mutated = text.slice(0, i) + insert + text.slice(i + 1);
      if (readCanonical(mutated) === undefined) return;
      mutatedHits++;
      // Through decode() (which takes the fast path here), the same rows or the same refusal as the general reader.
      const outcome = (read: () => unknown): string => {
        try {
          return JSON.stringify(read());
        } catch (err) {
          return `refused: ${String((err as { code?: unknown }).code)}`;
        }
      };
      assert.equal(outcome(() => xml.decode(mutated, "f")), outcome(() => decodeGeneral(mutated, "f")), JSON.stringify(mutated));
    }), { seed, numRuns: 500 });
    assert.ok(fastHits > 0 && mutatedHits > 0, `${fastHits} ${mutatedHits}`);
  });
});

describe("hostile XML (XML-3, XML-4)", () => {
  const xml = pageFormats.xml!;

  test("an entity-expansion (billion laughs) document is refused before parsing, fast", () => {
    let dtd = '<!DOCTYPE page [<!ENTITY lol0 "lol">';
    for (let i = 1; i <= 9; i++) dtd += `<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`;
    dtd += "]>";
    const bomb = `<?xml version="1.0"?>${dtd}<page txtdb="page" namespace="n"><entry><key><str>k</str></key><value><str>&lol9;</str></value></entry></page>`;
    const t0 = performance.now();
    const err = corruptOf(() => xml.decode(bomb, "bomb.xml"));
    assert.ok(performance.now() - t0 < 100);
    assert.match(err.message, /DOCTYPE/);
  });

  test("an external entity is never fetched: the DTD is refused", () => {
    const xxe = '<?xml version="1.0"?><!DOCTYPE page [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><page txtdb="page" namespace="n"><entry><key><str>k</str></key><value><str>&xxe;</str></value></entry></page>';
    corruptOf(() => xml.decode(xxe, "f"));
  });

  test("an undeclared entity reference is refused, not passed through", () => {
    const text = xml.encode("n", entriesOf([["k", "v"]])).replace("<str>v</str>", "<str>&lol9;</str>");
    assert.match(corruptOf(() => xml.decode(text, "f")).message, /&lol9;/);
  });

  test("the five escapes and character references decode; a bare & is refused", () => {
    const text = xml.encode("n", entriesOf([["k", "v"]])).replace("<str>v</str>", "<str>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#10;</str>");
    assert.deepEqual(xml.decode(text, "f").entries[0]![1], "<>&\"'AB\n");
    corruptOf(() => xml.decode(text.replace("&lt;", "& "), "f"));
  });

  test("unknown elements, text among elements and duplicate fields are refused with the entry's offset", () => {
    const base = xml.encode("n", entriesOf([["a", 1], ["b", { x: 1 }]]));
    for (const bad of [
      base.replace("<num>1</num>", "<int>1</int>"),
      base.replace("<num>1</num></value>", "<num>1</num>oops</value>"),
      base.replace('<field name="x"><num>1</num></field>', '<field name="x"><num>1</num></field><field name="x"><num>2</num></field>'),
      base.replace("<num>1</num>", "<num>01</num>"),
    ]) {
      const err = corruptOf(() => xml.decode(bad, "f"));
      assert.equal(typeof err.offset, "number");
    }
  });

  test("malformed XML names the line", () => {
    const err = corruptOf(() => xml.decode('<?xml version="1.0"?>\n<page txtdb="page" namespace="n">\n<entry><key></entry>\n</page>\n', "f"));
    assert.match(err.message, /line 3/);
  });
});

describe("page formats of the JSON forms", () => {
  test("decode returns plain JSON: __proto__ is an own key, never a prototype", () => {
    for (const format of formats) {
      const value = JSON.parse('{"__proto__":{"isAdmin":true}}') as JsonValue;
      const text = format.encode("n", [{ key: keyToJson("k"), valueText: JSON.stringify(value) }]);
      const v = format.decode(text, "f").entries[0]![1] as Record<string, unknown>;
      assert.ok(Object.hasOwn(v, "__proto__"), format.name);
      assert.equal((v as { isAdmin?: unknown }).isAdmin, undefined, format.name);
      assert.deepEqual(valueToJson(decodeValue(JSON.stringify(v))), value);
    }
  });
});
