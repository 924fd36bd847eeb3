/**
 * The commit log's record format: one line of JSON per committed transaction.
 *
 *     {"tsn":42,"ops":[["put","accounts","alice",{"balance":10}],["del","accounts","bob"]],"durable":8192,"crc":"1a2b3c4d"}
 *
 * | field   | meaning                                                                |
 * |---------|------------------------------------------------------------------------|
 * | tsn     | the transaction sequence number: consecutive integers from 1 (contract 4) |
 * | ops     | the writes, applied in order: ["put", namespace, key, value],           |
 * |         | ["del", namespace, key], ["drop", namespace]                            |
 * | durable | bytes of this segment known to be on stable storage when the line was   |
 * |         | appended: what a later line attests about the lines before it (SEG-2)   |
 * | crc     | CRC-32C, 8 hex digits, of the line's UTF-8 bytes before `,"crc":"`      |
 *
 * Two marker lines carry no transaction; other processes follow them:
 *
 *     {"next":4711,"durable":65536,"crc":"…"}       this segment ends; the log goes on in 0000000000004711.jsonl
 *     {"checkpoint":4700,"durable":1024,"crc":"…"}  a checkpoint folded every TSN ≤ 4700 into the page files
 *
 * Keys and values are in their readable tagged JSON form (src/codec), so
 * `cat` or `jq` on a segment shows what each transaction did.
 *
 * - LOG-1  A line is valid if and only if it ends with `,"crc":"<8 hex>"}` and
 *          a newline, its checksum matches, and it parses to the shape above.
 * - LOG-2  Records are in TSN order with no gap, across segments.
 * - LOG-3  Within one transaction a key appears at most once; a "drop" comes
 *          before the puts that recreate the namespace.
 * - LOG-4  A segment may end in padding: spaces (or NULs, what a power cut
 *          can leave of spaces never synced) that no line starts with. The
 *          lines end where the padding starts; bytes other than padding after
 *          it are no line at all but damage (a torn write, SEG-2).
 */
import { ErrorCode, TxtDbError, assert, assertionFailed } from "../errors.ts";
import { parseJson } from "../codec/json.ts";
import { encodedKeyFromJson } from "../codec/key.ts";
import type { JsonValue } from "../codec/value.ts";
import { crc32c, crcHex } from "./_crc32c.ts";
import { batchBufferBytesFirst, batchBufferBytesMax, opsPerPiece } from "./_defaults.ts";

export type Op =
  | { readonly kind: "put"; readonly ns: string; readonly enc: string; readonly keyText: string; readonly valueText: string }
  | { readonly kind: "del"; readonly ns: string; readonly enc: string; readonly keyText: string }
  | { readonly kind: "drop"; readonly ns: string };

export interface LogRecord {
  readonly tsn: number;
  readonly ops: readonly Op[];
}

/** A record as read back: with the durable offset its line attests. */
export interface ReadRecord extends LogRecord {
  readonly durable: number;
}

/** A marker line: the segment continues elsewhere, or a checkpoint happened. */
export interface Marker {
  readonly marker: "next" | "checkpoint";
  readonly tsn: number;
  readonly durable: number;
}

/** Encodes a marker line (LOG-1). */
export function encodeMarker(marker: Marker["marker"], tsn: number, durable: number): Uint8Array {
  const body = `{"${marker}":${tsn},"durable":${durable}`; // ASCII: a byte per character
  const out = new Uint8Array(body.length + lineSuffixBytes);
  const { read, written } = encoder.encodeInto(body, out);
  assert(read === body.length, "a marker line is ASCII");
  return out.subarray(0, endLine(out, 0, written));
}

const crcSuffixChars = ',"crc":"00000000"}'.length;
/** `,"crc":"<8 hex>"}` and the newline. */
const lineSuffixBytes = crcSuffixChars + 1;
/** `{"tsn":` and a TSN of up to 16 digits (safe integers). */
const tsnHeadChars = 24;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The part of a line after the TSN, as pieces to write one after another —
 * built once per transaction, outside the writer lock. One piece up to
 * opsPerPiece ops; a larger transaction's text stays in pieces of that many,
 * so neither a string of the whole line (22 MB for 100,000 documents) nor its
 * flattened copy is ever made: BatchEncoder writes the pieces' bytes in turn.
 */
export function encodeOps(ops: readonly Op[]): readonly string[] {
  const pieces: string[] = [];
  for (let from = 0; from === 0 || from < ops.length; from += opsPerPiece) {
    const to = Math.min(ops.length, from + opsPerPiece);
    const texts: string[] = [];
    for (let i = from; i < to; i++) texts.push(opText(ops[i]!));
    pieces.push((from === 0 ? ',"ops":[' : ",") + texts.join(",") + (to === ops.length ? "]" : ""));
  }
  return pieces;
}

function opText(op: Op): string {
  const ns = JSON.stringify(op.ns);
  if (op.kind === "put") return `["put",${ns},${op.keyText},${op.valueText}]`;
  if (op.kind === "del") return `["del",${ns},${op.keyText}]`;
  return `["drop",${ns}]`;
}

/**
 * Encodes the lines of a batch (LOG-1) into one buffer: one write covers the
 * batch. Up to batchBufferBytesMax the buffer is the same at every batch, so
 * a commit allocates no bytes here: what encode() returned is valid until the
 * next encode() (the log writes it first: appends are one at a time, SEG-5,
 * and a write does not use its bytes once it settled, IO-1). That buffer is
 * sized for the worst case, 3 bytes per UTF-16 unit. A larger batch gets a
 * buffer of its own, sized at one byte per unit (exact for ASCII, which most
 * JSON is) and grown when its text is not: a fresh buffer three times the
 * size made writing the 22 MB line of 100,000 documents 4× slower (60
 * against 15 ms), though the pages past the bytes written are never touched.
 */
export class BatchEncoder {
  #buffer = new Uint8Array(batchBufferBytesFirst);

  encode(records: ReadonlyArray<{ tsn: number; opsPieces: readonly string[] }>, durable: number): Uint8Array {
    const tail = `,"durable":${durable}`;
    let units = 0;
    for (const r of records) {
      assert(r.opsPieces.length > 0, "a record has its ops text");
      units += tsnHeadChars + tail.length + lineSuffixBytes;
      for (const piece of r.opsPieces) units += piece.length;
    }
    let out = this.#buffer;
    if (3 * units > out.length) {
      if (3 * units <= batchBufferBytesMax) out = this.#buffer = new Uint8Array(Math.min(batchBufferBytesMax, Math.max(3 * units, 2 * out.length)));
      else out = new Uint8Array(units);
    }
    let at = 0;
    /**
     * Room for `bytes` more, and for what is left of the batch at a byte a unit (at least
     * units - at of it) and an eighth more: most text that does not fit is ASCII with a few
     * wider characters. Only a batch in a buffer of its own gets here.
     */
    const grow = (bytes: number): void => {
      assert(out !== this.#buffer, "the kept buffer is sized for 3 bytes per unit");
      const grown = new Uint8Array(at + bytes + Math.max(0, units - at) + (out.length >> 3));
      grown.set(out.subarray(0, at));
      out = grown;
    };
    const write = (text: string): void => {
      for (let from = 0; ;) {
        const { read, written } = encoder.encodeInto(from === 0 ? text : text.slice(from), out.subarray(at));
        at += written;
        from += read;
        if (from === text.length) return;
        assert((text.charCodeAt(from - 1) & 0xfc00) !== 0xd800, "encodeInto stops between code points, never inside a surrogate pair");
        grow(3 * (text.length - from));
      }
    };
    for (const { tsn, opsPieces } of records) {
      const start = at;
      if (opsPieces.length === 1) {
        write(`{"tsn":${tsn}${opsPieces[0]}${tail}`); // most records: one piece, one write
      } else {
        write(`{"tsn":${tsn}`);
        for (const piece of opsPieces) write(piece);
        write(tail);
      }
      if (at + lineSuffixBytes > out.length) grow(lineSuffixBytes);
      at = endLine(out, start, at);
    }
    return out.subarray(0, at);
  }
}

/** Ends the line whose body is out[start, end) with its checksum suffix (LOG-1); returns where the line ends. */
function endLine(out: Uint8Array, start: number, end: number): number {
  if (end + lineSuffixBytes > out.length) assertionFailed(`a log line's buffer has no room for its checksum (${out.length - end} bytes left)`);
  const suffix = `,"crc":"${crcHex(crc32c(out, start, end))}"}\n`;
  for (let i = 0; i < suffix.length; i++) out[end + i] = suffix.charCodeAt(i);
  return end + suffix.length;
}

/** Where a line failed LOG-1, for the caller to decide torn tail or corruption. */
export class BadLine extends Error {}

/** Parses one line (without its newline) of `file` at `offset`; throws BadLine when it is not valid (LOG-1). */
export function parseLine(bytes: Uint8Array, start: number, end: number): ReadRecord | Marker {
  if (end - start < crcSuffixChars + 8) throw new BadLine("too short");
  const crcAt = end - crcSuffixChars;
  const recorded = recordedCrc(bytes, crcAt);
  if (recorded === null) throw new BadLine("no checksum at the end of the line");
  if (crc32c(bytes, start, crcAt) !== recorded) throw new BadLine("checksum mismatch");
  let parsed: { tsn?: unknown; ops?: unknown; durable?: unknown; next?: unknown; checkpoint?: unknown };
  try {
    parsed = parseJson(decoder.decode(bytes.subarray(start, end))) as typeof parsed;
  } catch (err) {
    throw new BadLine(`not JSON: ${(err as Error).message}`);
  }
  const { tsn, ops, durable } = parsed;
  if (typeof durable !== "number" || !Number.isSafeInteger(durable) || durable < 0) throw new BadLine("not a log line (durable)");
  for (const marker of ["next", "checkpoint"] as const) {
    const at = parsed[marker];
    if (at === undefined) continue;
    if (typeof at !== "number" || !Number.isSafeInteger(at) || at < 0) throw new BadLine(`bad ${marker} marker`);
    return { marker, tsn: at, durable };
  }
  if (typeof tsn !== "number" || !Number.isSafeInteger(tsn) || tsn < 1 || !Array.isArray(ops)) throw new BadLine("not a log record");
  return { tsn, ops: ops.map(parseOp), durable };
}

const crcPrefix = Uint8Array.from(',"crc":"', (c) => c.charCodeAt(0));

/** The checksum `,"crc":"<8 lowercase hex>"}` at `at` records, or null: read off the bytes, as no line's tail needs a string. */
function recordedCrc(bytes: Uint8Array, at: number): number | null {
  for (let i = 0; i < crcPrefix.length; i++) if (bytes[at + i] !== crcPrefix[i]) return null;
  let crc = 0;
  for (let i = at + crcPrefix.length; i < at + crcPrefix.length + 8; i++) {
    const b = bytes[i]!;
    const digit = b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : -1; // 0-9, a-f
    if (digit < 0) return null;
    crc = crc * 16 + digit;
  }
  const close = at + crcPrefix.length + 8;
  return bytes[close] === 0x22 && bytes[close + 1] === 0x7d ? crc : null; // "}
}

function parseOp(op: unknown): Op {
  if (!Array.isArray(op) || typeof op[1] !== "string") throw new BadLine(`bad op ${JSON.stringify(op)}`);
  const [kind, ns, key, value] = op as [unknown, string, JsonValue, JsonValue];
  if (kind === "drop" && op.length === 2) return { kind, ns };
  if ((kind === "put" && op.length === 4) || (kind === "del" && op.length === 3)) {
    let enc: string;
    try {
      enc = encodedKeyFromJson(key);
    } catch (err) {
      throw new BadLine(`bad key: ${(err as Error).message}`);
    }
    const keyText = JSON.stringify(key);
    return kind === "put" ? { kind, ns, enc, keyText, valueText: JSON.stringify(value) } : { kind, ns, enc, keyText };
  }
  throw new BadLine(`bad op ${JSON.stringify(op).slice(0, 80)}`);
}

/** One line found in a segment: a record, or why it is not one. */
export type ScannedLine =
  | { readonly offset: number; readonly end: number; readonly record: ReadRecord }
  | { readonly offset: number; readonly end: number; readonly marker: Marker }
  | { readonly offset: number; readonly end: number; readonly bad: string; readonly incomplete?: true };

/**
 * Splits a segment's bytes into lines, up to the padding (LOG-4). A last
 * line without its newline is reported as bad ("no newline"): it is a torn
 * append, or one in progress.
 */
export function scanLines(bytes: Uint8Array): ScannedLine[] {
  const out: ScannedLine[] = [];
  let start = 0;
  while (start < bytes.length) {
    if (isPadding(bytes[start]!)) {
      const after = paddingEnd(bytes, start);
      if (after < bytes.length) out.push({ offset: start, end: bytes.length, bad: `byte ${after - start} past the end-of-log padding is not padding` });
      break;
    }
    const nl = bytes.indexOf(0x0a, start);
    if (nl < 0) {
      out.push({ offset: start, end: bytes.length, bad: "incomplete line (no newline)", incomplete: true });
      break;
    }
    try {
      const line = parseLine(bytes, start, nl);
      out.push("marker" in line ? { offset: start, end: nl + 1, marker: line } : { offset: start, end: nl + 1, record: line });
    } catch (err) {
      assert(err instanceof BadLine, `unexpected error parsing a log line: ${String(err)}`);
      out.push({ offset: start, end: nl + 1, bad: err.message });
    }
    start = nl + 1;
  }
  return out;
}

/** LOG-4: a padding byte. */
export function isPadding(byte: number): boolean {
  return byte === 0x20 || byte === 0x00;
}

/** The first byte at or after `from` that is not padding (bytes.length if none). */
export function paddingEnd(bytes: Uint8Array, from: number): number {
  let at = from;
  while (at < bytes.length && isPadding(bytes[at]!)) at++;
  return at;
}

/** Where the content of a segment ends: after its last byte that is not padding. */
export function contentEnd(bytes: Uint8Array): number {
  let end = bytes.length;
  while (end > 0 && isPadding(bytes[end - 1]!)) end--;
  return end;
}

export function corruptLog(file: string, offset: number, why: string): TxtDbError {
  return new TxtDbError(ErrorCode.CORRUPT, `the commit log '${file}' is damaged at byte ${offset}: ${why}. ` +
    "A later record attests that this one was already on stable storage, so it is not a torn write: restore the database from a backup.", { file, offset });
}
