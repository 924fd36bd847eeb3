/**
 * The commit log: segments of record lines (src/engine/log_record.ts) in the
 * database's `log/` folder, each named after the TSN of its first record:
 *
 *     log/0000000000000001.jsonl
 *     log/0000000000004711.jsonl
 *
 * - SEG-1  Appends go to the last segment only, under the writer lock; a new
 *          segment's name is made durable (syncDir) before anything in it is
 *          acknowledged.
 * - SEG-2  Recovery reads every segment that may hold a record above the
 *          checkpoint TSN. A bad line (LOG-1) at offset o is corruption —
 *          TXTDB_CORRUPT with file and offset — if a later valid line attests
 *          it was durable: one in the same segment whose `durable` exceeds o,
 *          or any valid line in a later segment (a segment is synced whole
 *          before the next one starts). Otherwise it starts a torn tail: the
 *          lines of a batch whose datasync never completed, torn in any order
 *          by the power cut. The tail is cut off under the writer lock; nothing
 *          in it was acknowledged.
 * - SEG-3  A segment goes only when a checkpoint covers every record in it,
 *          and the last one only at close (the next append starts a new one).
 */
import { assert } from "../errors.ts";
import type { FileHandle, FileIO } from "../io/file_io.ts";
import { ensureDirDurable } from "../io/durable_dir.ts";
import { joinPath } from "../io/path.ts";
import { logDirName, segmentBytesMax } from "./_defaults.ts";
import { BadLine, corruptLog, encodeBatch, parseLine, scanLines, type LogRecord } from "./log_record.ts";

interface Segment {
  readonly firstTsn: number;
  readonly path: string;
}

const segmentPattern = /^(\d{16})\.jsonl$/;

function segmentName(firstTsn: number): string {
  return `${String(firstTsn).padStart(16, "0")}.jsonl`;
}

export interface Replay {
  /** The records above `afterTsn`, in TSN order. */
  records: LogRecord[];
  /** Where a torn tail starts, if recovery found one (SEG-2). */
  tornTail: { path: string; offset: number; why: string } | null;
}

export class CommitLog {
  readonly #io: FileIO;
  readonly #dir: string;
  #segments: Segment[] = [];
  /** The last segment, open for appends; null until the first append. */
  #active: FileHandle | null = null;
  /** Bytes of the active segment known to hold valid records (SEG-1: we append here). */
  #activeEnd = 0;
  /** Bytes of the active segment covered by a completed datasync (SEG-2: what new lines attest). */
  #activeDurable = 0;
  /** Where the last batch was appended (GC-5: cut back to here if it fails). */
  #lastAppendAt = 0;
  #rotateRequested = false;
  /** Log bytes appended since the log was opened, for checkpoint scheduling. */
  bytesAppended = 0;

  constructor(io: FileIO, databaseDir: string) {
    this.#io = io;
    this.#dir = joinPath(databaseDir, logDirName);
  }

  get dir(): string {
    return this.#dir;
  }

  /** Lists the segments; creates the folder of a new database. */
  async open(): Promise<void> {
    await ensureDirDurable(this.#io, this.#dir);
    const names = await this.#io.readdir(this.#dir);
    this.#segments = names
      .map((name) => segmentPattern.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ firstTsn: Number(m[1]), path: joinPath(this.#dir, m[0]) }))
      .sort((a, b) => a.firstTsn - b.firstTsn);
  }

  /** SEG-2: the records above `afterTsn`, and where a torn tail starts. */
  async replay(afterTsn: number): Promise<Replay> {
    const records: LogRecord[] = [];
    let tornTail: Replay["tornTail"] = null;
    let expected = afterTsn + 1;
    const needed = this.#segments.filter((s, i) => (this.#segments[i + 1]?.firstTsn ?? Infinity) > afterTsn + 1);
    for (const segment of needed) {
      const bytes = await this.#io.readFile(segment.path);
      for (const line of scanLines(bytes)) {
        if (tornTail !== null) {
          const attests = "record" in line && (tornTail.path !== segment.path || line.record.durable > tornTail.offset);
          if (attests) throw corruptLog(tornTail.path, tornTail.offset, tornTail.why);
          continue;
        }
        if ("bad" in line) {
          tornTail = { path: segment.path, offset: line.offset, why: line.bad };
          // A flipped newline can merge the bad line with the next ones: look
          // for a valid record anywhere after it, not only at line starts.
          if (attestedAfter(bytes, line.offset)) throw corruptLog(segment.path, line.offset, line.bad);
          continue;
        }
        const { record } = line;
        if (record.tsn <= afterTsn) continue;
        if (record.tsn !== expected) throw corruptLog(segment.path, line.offset, `TSN ${record.tsn} where ${expected} was expected`);
        expected++;
        records.push(record);
      }
    }
    return { records, tornTail };
  }

  /** Cuts a torn tail off (SEG-2); the caller holds the writer lock. Later segments, which hold no valid line, go too. */
  async cutTornTail(tail: { path: string; offset: number }): Promise<void> {
    const at = this.#segments.findIndex((s) => s.path === tail.path);
    assert(at >= 0, `torn tail in an unknown segment ${tail.path}`);
    const f = await this.#io.open(tail.path);
    try {
      await f.truncate(tail.offset);
      await f.datasync();
    } finally {
      await f.close();
    }
    for (const later of this.#segments.splice(at + 1)) await this.#io.unlink(later.path);
    await this.#io.syncDir(this.#dir);
  }

  /** After recovery: appends continue at the end of the last segment. */
  async openForAppend(): Promise<void> {
    const last = this.#segments.at(-1);
    if (last === undefined) return;
    this.#active = await this.#io.open(last.path);
    this.#activeEnd = await this.#active.size();
    // After a process crash the tail may sit in the page cache only: make it
    // durable before any new line attests it (SEG-2).
    await this.#active.datasync();
    this.#activeDurable = this.#activeEnd;
  }

  /** The next append starts a new segment (after a checkpoint made the current one removable). */
  requestRotation(): void {
    this.#rotateRequested = true;
  }

  /** Appends a batch of records as one write; the caller holds the writer lock (SEG-1). */
  async append(records: ReadonlyArray<{ tsn: number; opsText: string }>): Promise<void> {
    if (this.#active === null || this.#rotateRequested || this.#activeEnd >= segmentBytesMax) {
      await this.#startSegment(records[0]!.tsn);
    }
    const bytes = encodeBatch(records, this.#activeDurable);
    const active = this.#active!;
    this.#lastAppendAt = this.#activeEnd;
    await active.write(this.#activeEnd, bytes);
    this.#activeEnd += bytes.length;
    this.bytesAppended += bytes.length;
  }

  /** Makes every appended byte durable; nothing is appended meanwhile (the caller holds the writer lock). */
  async datasync(): Promise<void> {
    assert(this.#active !== null, "datasync before any append");
    const end = this.#activeEnd;
    await this.#active.datasync();
    this.#activeDurable = end;
  }

  /**
   * After a failed append or datasync (GC-5): cuts the last batch out of the
   * active segment (everything before it was acknowledged: durable under
   * "sync", written under "relaxed"). The caller holds the writer lock.
   */
  async discardLastAppend(): Promise<void> {
    if (this.#active === null) return;
    await this.#active.truncate(this.#lastAppendAt);
    this.#activeEnd = this.#lastAppendAt;
  }

  async #startSegment(firstTsn: number): Promise<void> {
    this.#rotateRequested = false;
    const last = this.#segments.at(-1);
    if (last?.firstTsn === firstTsn) {
      // The last segment starts at this very TSN: a cut torn tail left it empty.
      this.#active ??= await this.#io.open(last.path);
      this.#activeEnd = await this.#active.size();
      this.#activeDurable = this.#activeEnd;
      assert(this.#activeEnd === 0, `log segment ${last.path} should be empty before TSN ${firstTsn}`);
      return;
    }
    const path = joinPath(this.#dir, segmentName(firstTsn));
    // SEG-2: a segment is durable whole before the next one starts, even
    // under durability "relaxed", so a later segment attests all of it.
    if (this.#active !== null && this.#activeDurable < this.#activeEnd) await this.datasync();
    await this.#active?.close();
    this.#active = await this.#io.open(path, { create: true });
    this.#activeEnd = await this.#active.size();
    this.#activeDurable = 0;
    assert(this.#activeEnd === 0, `a new log segment ${path} is not empty`);
    this.#segments.push({ firstTsn, path });
    await this.#io.syncDir(this.#dir); // SEG-1
  }

  /** SEG-3: removes the segments whose records all have TSN ≤ `tsn`. */
  async removeThrough(tsn: number): Promise<number> {
    let removed = 0;
    while (this.#segments.length > 1 && this.#segments[1]!.firstTsn <= tsn + 1) {
      const segment = this.#segments.shift()!;
      await this.#io.unlink(segment.path);
      removed++;
    }
    if (removed > 0) await this.#io.syncDir(this.#dir);
    return removed;
  }

  /**
   * At close, once a checkpoint covers every record: removes every segment,
   * so the next open reads no log at all. The caller holds the writer lock.
   */
  async retire(): Promise<void> {
    await this.close();
    for (const segment of this.#segments.splice(0)) await this.#io.unlink(segment.path);
    await this.#io.syncDir(this.#dir);
  }

  /** Every segment, for check(): path and the lines in it. */
  segments(): readonly Segment[] {
    return this.#segments;
  }

  async close(): Promise<void> {
    await this.#active?.close();
    this.#active = null;
  }
}

const recordStart = new TextEncoder().encode('{"tsn":');

/** SEG-2: whether a valid record after `offset` in the segment attests that `offset` was durable. */
function attestedAfter(bytes: Uint8Array, offset: number): boolean {
  for (let pos = bytes.indexOf(recordStart[0]!, offset + 1); pos >= 0; pos = bytes.indexOf(recordStart[0]!, pos + 1)) {
    if (!recordStart.every((b, i) => bytes[pos + i] === b)) continue;
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) return false;
    try {
      if (parseLine(bytes, pos, nl).durable > offset) return true;
    } catch (err) {
      if (!(err instanceof BadLine)) throw err;
    }
  }
  return false;
}
