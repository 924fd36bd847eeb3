/**
 * Tests of src/engine/log_record.ts's encoding of log lines (LOG-1): what
 * BatchEncoder and encodeMarker write parses back line by line, whatever the
 * text (ASCII, 2-, 3- and 4-byte UTF-8) and whichever buffer the batch went
 * into (the kept one, the kept one grown, one of its own past
 * batchBufferBytesMax), and a transaction written in pieces (encodeOps).
 * Damaged lines are covered by recovery.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { batchBufferBytesFirst, batchBufferBytesMax, opsPerPiece } from "../src/engine/_defaults.ts";
import { BatchEncoder, encodeMarker, encodeOps, scanLines, type Op, type ScannedLine } from "../src/engine/log_record.ts";

function putOps(ns: string, key: string, text: string): readonly string[] {
  return encodeOps([{ kind: "put", ns, enc: key, keyText: JSON.stringify(key), valueText: JSON.stringify(text) }]);
}

/** The records a scan of `bytes` found, as [tsn, durable, value text]; a line that is no record fails the test. */
function recordsIn(bytes: Uint8Array): Array<[number, number, string | undefined]> {
  return scanLines(bytes).map((line: ScannedLine) => {
    assert.ok("record" in line, `not a record: ${JSON.stringify(line)}`);
    const op = line.record.ops[0];
    return [line.record.tsn, line.record.durable, op?.kind === "put" ? op.valueText : undefined];
  });
}

test("LOG-1: a BatchEncoder's lines parse back, in the buffer it keeps, the kept one grown, and one of a batch past batchBufferBytesMax (grown when its text is not ASCII)", () => {
  const encoder = new BatchEncoder();
  const texts = ["plain", "é ü ß", "日本語のテキスト", "😀 𝄞"];
  const threeByteUnits = Math.ceil(batchBufferBytesFirst / 3); // one line of these is past the first buffer
  const batches: Array<Array<{ tsn: number; text: string }>> = [
    texts.map((text, i) => ({ tsn: 1 + i, text })), // the first buffer
    [{ tsn: 5, text: "日".repeat(threeByteUnits) }], // grows the kept buffer: every unit takes the 3 bytes the bound allows
    [{ tsn: 6, text: "x" }, { tsn: 7, text: "😀".repeat(100) }], // the grown buffer, reused
    Array.from({ length: 4 }, (_, i) => ({ tsn: 8 + i, text: "語".repeat(batchBufferBytesMax / 8) })), // a buffer of its own, grown
    Array.from({ length: 3 }, (_, i) => ({ tsn: 12 + i, text: "a😀".repeat(batchBufferBytesMax / 8) })), // grown with surrogate pairs
    [{ tsn: 15, text: "after" }], // the kept buffer again
  ];
  for (const batch of batches) {
    const bytes = encoder.encode(batch.map(({ tsn, text }) => ({ tsn, opsPieces: putOps("ns", `k${tsn}`, text) })), 4096);
    assert.deepEqual(recordsIn(bytes), batch.map(({ tsn, text }) => [tsn, 4096, JSON.stringify(text)]));
    assert.equal(bytes.at(-1), 0x0a, "the batch ends with its last line's newline");
  }
});

test("LOG-1: a transaction of more ops than a piece holds is written piece by piece, as the same bytes its text in one piece gives, and parses back", () => {
  const ops: Op[] = [{ kind: "drop", ns: "old" }];
  for (let i = 0; ops.length < 2 * opsPerPiece + 3; i++) {
    const keyText = JSON.stringify(`k${i}`);
    ops.push(i % 5 === 0 ? { kind: "del", ns: "ns", enc: `k${i}`, keyText } : { kind: "put", ns: "ns", enc: `k${i}`, keyText, valueText: JSON.stringify({ i, text: "é 日本 😀".repeat(8 * (i % 4)) }) });
  }
  const pieces = encodeOps(ops);
  assert.equal(pieces.length, 3);
  const units = pieces.join("").length;
  assert.ok(3 * units > 2 * batchBufferBytesMax, "a buffer of its own, by a wide margin");
  assert.ok(new TextEncoder().encode(pieces.join("")).length > 1.5 * units, "which must grow: the text is far from ASCII");
  const others = [{ tsn: 8, opsPieces: putOps("ns", "before", "a") }];
  const inPieces = new BatchEncoder().encode([...others, { tsn: 9, opsPieces: pieces }], 77);
  const inOne = new BatchEncoder().encode([...others, { tsn: 9, opsPieces: [pieces.join("")] }], 77);
  assert.deepEqual(inPieces, inOne);
  const lines = scanLines(inPieces);
  assert.equal(lines.length, 2);
  const last = lines[1]!;
  assert.ok("record" in last, `not a record: ${JSON.stringify(last)}`);
  assert.deepEqual(last.record.ops.map(({ kind, ns, ...rest }) => [kind, ns, "keyText" in rest ? rest.keyText : undefined, "valueText" in rest ? rest.valueText : undefined]),
    ops.map(({ kind, ns, ...rest }) => [kind, ns, "keyText" in rest ? rest.keyText : undefined, "valueText" in rest ? rest.valueText : undefined]));
  assert.deepEqual(encodeOps([]), [',"ops":[]']);
});

test("LOG-1: encodeMarker's lines parse back as markers", () => {
  for (const [marker, tsn, durable] of [["next", 4711, 65536], ["checkpoint", 1, 0]] as const) {
    const lines = scanLines(encodeMarker(marker, tsn, durable));
    assert.deepEqual(lines.map((l) => ("marker" in l ? l.marker : l)), [{ marker, tsn, durable }]);
  }
});
