/**
 * The commit log: segments of lines (src/engine/log_record.ts) in the
 * database's `log/` folder, each named after the TSN of its first record:
 *
 *     log/0000000000000001.jsonl
 *     log/0000000000004711.jsonl
 *
 * Every process on the database appends to the last segment, under the
 * writer lock, and reads what the others appended ("catch-up").
 *
 * - SEG-1  Appends go to the last segment only, under the writer lock, after
 *          catching up to its end. A new segment's name is durable (syncDir)
 *          before anything in it is; the old segment then gets a `next`
 *          marker and a datasync, so it is durable whole before the next one
 *          holds anything, and readers follow the marker. A reader that
 *          follows it datasyncs the old segment itself first (the rotator's
 *          datasync may have failed), after re-writing its unattested tail
 *          (SEG-8): its descriptor may have been opened after another
 *          handle's failed write-back, which left those bytes clean in the
 *          page cache, where a datasync does not carry them. The bytes are
 *          the ones it read, and a segment closed by its marker changes no
 *          more: no writer lock is needed.
 * - SEG-2  Recovery reads every segment that may hold a record above the
 *          checkpoint TSN. A bad line (LOG-1) at offset o is corruption —
 *          TXTDB_CORRUPT with file and offset — if a later valid line attests
 *          it was durable: one in the same segment whose `durable` exceeds o,
 *          or any valid line in a later segment. Otherwise it starts a torn
 *          tail: the lines of a batch whose datasync never completed, torn in
 *          any order by the power cut. The tail is cut off under the writer
 *          lock; nothing in it was acknowledged.
 * - SEG-3  A segment goes only when a checkpoint covers every record in it;
 *          the last one only at close, when no other handle is open — and
 *          not when it is empty and the only one: the next open uses it.
 * - SEG-4  Catch-up reads complete lines only. Without the writer lock an
 *          incomplete last line is a write in progress: it waits. Under the
 *          writer lock it is what a killed writer left: it is cut off. A
 *          complete bad line is never a write in progress: TXTDB_CORRUPT.
 * - SEG-6  An empty segment that no `next` marker leads to is a rotation killed
 *          half-way; open removes it (removeAbandonedSegments).
 * - SEG-5  In one process, catch-up, appends and cuts run one at a time: each
 *          moves the position this process reads and appends at.
 * - SEG-8  A handle re-writes the unattested tail of a segment before its first
 *          append through a descriptor it opened: the bytes after the last
 *          `durable` attestation (and its own datasyncs), as it read them.
 *          Linux reports a failed write-back only to descriptors open when it
 *          failed (errseq); another handle's failed datasync may have left
 *          those bytes in the page cache only, marked clean. Re-writing them
 *          makes this handle's own datasync carry them to disk, or fail and
 *          fail stop — never acknowledge a commit behind a hole. Until it
 *          has, a datasync through that descriptor claims nothing durable
 *          (datasync() says so, and PP-5 publishes nothing). A handle whose
 *          datasync failed appends nothing more and never datasyncs again
 *          (GC-5): errseq told it once, so its next datasync would succeed
 *          without the lost bytes, and its next line would attest them.
 * - SEG-10 Open (recovery, under the writer lock) does the same for the last
 *          segment that holds a line — the last one, or the one before an
 *          empty last one (SEG-6 keeps that only behind the `next` marker
 *          ending it): it re-writes the unattested tail and datasyncs it, so
 *          a handle opened after another's failed write-back serves only
 *          what its own datasync made durable. If that fails, open rejects
 *          with TXTDB_IO. No unattested tail (an empty log, or a lone empty
 *          segment, as a clean close leaves it), no datasync: a clean open
 *          costs none.
 * - SEG-11 Before the first line a handle writes or re-writes, it syncs the
 *          log folder, the database folder and its parent, once: the name
 *          of the segment it appends to (made by its open, or kept by a
 *          clean close that wrote nothing, SEG-3, and perhaps never synced),
 *          the log folder's and the database folder's are then durable,
 *          however they came to be (created by an older build, copied into
 *          place, by another handle that has written nothing yet). Open
 *          leaves that to the first line, so a handle that only reads never
 *          pays for it (DB-6). An empty segment lost to a power
 *          cut before any line is in it loses nothing: open makes another.
 * - SEG-9  Every change to a segment's lines — an append, a cut — moves the
 *          shared log generation (PP-6, src/engine/coordination.ts) from even
 *          to odd before it touches the file and to the next even number once
 *          it is in the file (a seqlock; a handle killed half-way leaves it
 *          odd). A handle that finds the generation where it was when its
 *          last catch-up began has every line there is: it need not read the
 *          log (unchangedNow) — and, found even, not even under the writer
 *          lock, where the read would look for a killed writer's partial
 *          line to cut (SEG-4): a lone writer's commit reads nothing.
 *          A catch-up counts only if it began at an even generation (one
 *          that began at an odd one may have read before the writer's line
 *          was in the file) and reached the end of the lines: one
 *          stopped after a `next` marker it could not follow (its segment
 *          removed by a checkpoint) follows it again first, and a resync
 *          that repositions this handle before lines it has not read
 *          forgets the generation it had caught up at.
 * - SEG-7  The last segment ends in padding (LOG-4) that appends overwrite: a
 *          writer that finds less than a quarter of it left writes more
 *          after its batch (FileIO.logPaddingBytes, default logPadBytes).
 *          On ext4 a datasync that must also make a new file size durable
 *          commits the journal; one that covers overwritten blocks only does
 *          not — about 1.5× the commits per second here (the trick SQLite's
 *          WAL plays by reusing its file). So
 *          the log's end is where the padding starts, not the file's size. A
 *          segment is cut back to its lines before its `next` marker, so a
 *          closed segment ends with the marker.
 */
import { ErrorCode, TxtDbError, assert } from "../errors.ts";
import type { FileHandle, FileIO } from "../io/file_io.ts";
import { ensureDirDurable } from "../io/durable_dir.ts";
import { dirname, joinPath } from "../io/path.ts";
import { catchUpProbeBytes, catchUpReadBytes, logDirName, logPadBytes, segmentBytesMax } from "./_defaults.ts";
import {
  BadLine, BatchEncoder, contentEnd, corruptLog, encodeMarker, isPadding, parseLine, scanLines, type LogRecord, type ReadRecord, type ScannedLine,
} from "./log_record.ts";
import { testFaults } from "./_test_faults.ts"; // TEST-FAULT (inert: TF-1)

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
  /** Where a torn tail starts, if recovery found one (SEG-2), and how many bytes other than padding it holds. */
  tornTail: { path: string; offset: number; why: string; bytes: number } | null;
}

/** Where catch-up delivers what other processes wrote. */
export interface LogSink {
  /** A record, in log order; records already known are the sink's to skip. */
  record(r: ReadRecord): void;
  /** Another process checkpointed at `tsn`. */
  checkpoint(tsn: number): Promise<void>;
}

/** Catch-up found the segment it needs gone (a checkpoint removed it): start over from the manifest. */
export class LogResync extends Error {}

export class CommitLog {
  readonly #io: FileIO;
  readonly #dir: string;
  #segments: Segment[] = [];
  /** The last segment known to this process, where it reads and appends. */
  #active: FileHandle | null = null;
  #activeSegment: Segment | null = null;
  /** Bytes of the active segment read or written by this process (SEG-1, SEG-4): where its lines end. */
  #end = 0;
  /** The active segment's size as last seen: #end plus the padding ahead of it (SEG-7). */
  #allocated = 0;
  /** Bytes of the active segment covered by a datasync of this process (what new lines attest). */
  #durable = 0;
  /** The highest `durable` attestation among the active segment's lines read or written (SEG-8). */
  #attested = 0;
  /** Whether the active descriptor may append without re-writing the unattested tail first (SEG-8). */
  #tailVerified = false;
  /** Whether this handle has made the log folder's entries (the segment it appends to), its name and the database folder's durable (SEG-11). */
  #foldersDurable = false;
  /** Where this process last appended a batch (GC-5: cut back to here if it fails). */
  #lastAppendAt = 0;
  /** Whether lines of other processes were read past #durable (GC-5: then nothing is cut). */
  #foreignAfterDurable = false;
  #rotateRequested = false;
  /** Log bytes appended by this process since it opened the log, for checkpoint scheduling. */
  bytesAppended = 0;
  /** SEG-7: the spaces written ahead of appends, a quarter of them left triggering the next. */
  readonly #paddingBytes: number;
  readonly #batchEncoder = new BatchEncoder();
  /** The spaces themselves, made at the first pad (a handle that only reads never needs the megabyte). */
  #padding: Uint8Array | null = null;
  /** SEG-5: reading and appending move #end; one of them at a time in this process. */
  #chain: Promise<void> = Promise.resolve();
  /** Operations queued on #chain and not settled (0: #end is not moving). */
  #chained = 0;
  /** Set when the datasync of a segment being followed failed (SEG-1): sticky, like GC-5. */
  #followFailure: unknown = null;
  /** Set when any datasync of this handle's failed (SEG-8, GC-5): sticky; it appends nothing more. */
  #syncFailure: unknown = null;
  /** SEG-9: the shared log generation (null: probe the log instead), and its value when this handle last caught up. */
  readonly #generation: BigInt64Array | null;
  #seenGeneration: bigint | null = null;
  /** A `next` marker read but not yet followed (its segment could not be opened): catch-up follows it first. */
  #pendingNext: number | null = null;
  /** What replay() found in the last segment it read, for openForAppend() to position at without reading it again; used once. */
  #replayed: { path: string; size: number; end: number; attested: number } | null = null;
  /** SEG-9: the generation when the change in progress began (#changing). */
  #changeFrom: bigint | null = null;

  constructor(io: FileIO, databaseDir: string, generation: BigInt64Array | null = null) {
    this.#io = io;
    this.#generation = generation;
    this.#paddingBytes = io.logPaddingBytes ?? logPadBytes;
    this.#dir = joinPath(databaseDir, logDirName);
  }

  get dir(): string {
    return this.#dir;
  }

  /** Lists the segments; creates the folder of a new database. */
  async open(): Promise<void> {
    // An existing log folder is made durable at this handle's first line (SEG-11), not here (DB-6).
    if ((await this.#io.stat(this.#dir)) === undefined) await ensureDirDurable(this.#io, this.#dir);
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
    // The segments that may hold a record above afterTsn — and the one before
    // them, whose `next` marker a crash in a rotation may have torn.
    const first = this.#segments.findIndex((_, i) => (this.#segments[i + 1]?.firstTsn ?? Infinity) > afterTsn + 1);
    const needed = first < 0 ? [] : this.#segments.slice(Math.max(0, first - 1));
    for (const segment of needed) {
      const bytes = await this.#io.readFile(segment.path);
      const lines = scanLines(bytes);
      this.#replayed = { path: segment.path, size: bytes.length, end: linesEnd(lines), attested: attestedIn(lines) };
      for (const line of lines) {
        if (tornTail !== null) {
          const attests = !("bad" in line) && (tornTail.path !== segment.path || durableOf(line) > tornTail.offset);
          if (attests) throw corruptLog(tornTail.path, tornTail.offset, tornTail.why);
          continue;
        }
        if ("bad" in line) {
          if (testFaults.replayPastCorruptRecord) continue; // TEST-FAULT
          tornTail = { path: segment.path, offset: line.offset, why: line.bad, bytes: contentEnd(bytes) - line.offset };
          // A flipped newline can merge the bad line with the next ones: look
          // for a valid line anywhere after it, not only at line starts.
          if (attestedAfter(bytes, line.offset)) throw corruptLog(segment.path, line.offset, line.bad);
          continue;
        }
        if (!("record" in line)) continue; // a marker
        const { record } = line;
        if (record.tsn <= afterTsn) continue;
        if (record.tsn !== expected && testFaults.replayPastCorruptRecord) expected = record.tsn; // TEST-FAULT
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
      this.#changing();
      await f.truncate(tail.offset);
      this.#changed();
      await f.datasync();
    } finally {
      await f.close();
    }
    for (const later of this.#segments.splice(at + 1)) await this.#io.unlink(later.path);
    await this.#io.syncDir(this.#dir);
  }

  /**
   * SEG-6, at open under the writer lock: an empty segment is what a rotation
   * killed before its `next` marker left behind (the marker goes in after
   * the new file exists). Handles that were open then still read and append
   * to the segment before it, so it is removed — the last one too, when the
   * segment before it does not end with a marker pointing to it.
   */
  async removeAbandonedSegments(): Promise<void> {
    let removed = false;
    for (let i = 0; i < this.#segments.length; i++) {
      const segment = this.#segments[i]!;
      if (((await this.#io.stat(segment.path))?.size ?? 0) > 0) continue;
      const previous = this.#segments[i - 1];
      const isLast = i === this.#segments.length - 1;
      if (isLast && (previous === undefined || (await this.#endsWithNextMarker(previous, segment.firstTsn)))) continue;
      await this.#io.unlink(segment.path);
      this.#segments.splice(i--, 1);
      removed = true;
    }
    if (removed) await this.#io.syncDir(this.#dir);
  }

  async #endsWithNextMarker(segment: Segment, next: number): Promise<boolean> {
    return (await this.#nextMarkerOf(segment)) === next;
  }

  /**
   * After recovery, under the writer lock: reads and appends continue at the
   * end of the last segment (a new database gets its first one, starting at
   * `nextTsn`) — once the unattested tail of the last segment that holds a
   * line is durable (SEG-10). After a process crash, or another handle's
   * failed write-back, it may sit in the page cache only: it is made durable
   * before this handle serves it or any new line attests it (SEG-2).
   * Having read every line under the writer lock, the handle is caught up at
   * the log generation of now (SEG-9): its first begin() reads nothing —
   * unless the generation is odd (a writer died half-way through a change),
   * which the first catch-up settles.
   */
  async openForAppend(nextTsn: number): Promise<void> {
    await this.#dropStaleEmptySegment(nextTsn);
    const last = this.#segments.at(-1) ?? (await this.#createSegment(nextTsn, false)); // its name: SEG-11
    const previous = this.#segments.at(-2);
    await this.#readWhole(last);
    if (this.#end === 0 && previous !== undefined) {
      // SEG-6 kept this empty segment: the `next` marker ending the one before leads to it.
      await this.#readWhole(previous);
      await this.#syncTail();
      await this.#readWhole(last);
    }
    await this.#syncTail();
    const generation = this.#generation === null ? null : Atomics.load(this.#generation, 0);
    if (generation !== null && (generation & 1n) === 0n) this.#seenGeneration = generation;
  }

  /**
   * SEG-3: the lone empty segment a clean close kept is named after the TSN
   * that was next then. If that is no longer the next one — the manifest and
   * pages were restored from a backup or git, which left log/ as it was —
   * records would go into a segment whose name lies about them (a later
   * rotation's segment would sort before it): it goes, and open makes one.
   */
  async #dropStaleEmptySegment(nextTsn: number): Promise<void> {
    const only = this.#segments.length === 1 ? this.#segments[0]! : undefined;
    if (only === undefined || only.firstTsn === nextTsn || ((await this.#io.stat(only.path))?.size ?? 0) > 0) return;
    await this.#io.unlink(only.path);
    this.#segments = [];
    // Not synced: if a power cut brings the name back, it is an empty last
    // segment behind one that ends with no `next` marker, which open removes (SEG-6).
  }

  /**
   * Makes `segment` the active one, positioned at the end of its lines
   * (recovery cut any torn tail, SEG-7). The last segment replay() read
   * under the same writer lock is not read again while its size is what
   * replay read: nothing but a cut (which changes the size) writes it
   * meanwhile. With an 11 MB log that read was 190 ms of a 350 ms open.
   */
  async #readWhole(segment: Segment): Promise<void> {
    await this.#switchTo(segment);
    const size = await this.#active!.size();
    const replayed = this.#replayed;
    this.#replayed = null;
    if (replayed !== null && replayed.path === segment.path && replayed.size === size) {
      this.#end = replayed.end;
      this.#attested = replayed.attested;
    } else {
      const lines = scanLines(await this.#active!.readAll());
      this.#end = linesEnd(lines);
      this.#attested = attestedIn(lines);
    }
    this.#allocated = size;
    this.#durable = 0;
    this.#foreignAfterDurable = false;
  }

  /**
   * SEG-4: delivers the lines other processes appended since this process
   * last looked, following `next` markers. Throws LogResync when a segment
   * it must read next is gone.
   */
  catchUp(sink: LogSink, holdsWriterLock: boolean): Promise<void> {
    return this.#exclusive(async () => {
      const generation = this.#generation === null ? 0n : Atomics.load(this.#generation, 0);
      if (this.#generation !== null && generation === this.#seenGeneration && (generation & 1n) === 0n) return; // SEG-9
      await this.#catchUp(sink, holdsWriterLock);
      // SEG-9: every line there was when it began has been read — unless the
      // generation was odd: a writer was changing the lines, and what it
      // finishes after this read is not in it.
      if ((generation & 1n) === 0n) this.#seenGeneration = generation;
    });
  }

  /** SEG-9: before a change to the lines, under the writer lock: the generation odd until #changed(). */
  #changing(): void {
    const generation = this.#generation;
    if (generation === null) return;
    const before = Atomics.load(generation, 0);
    this.#changeFrom = before;
    if ((before & 1n) === 0n) Atomics.add(generation, 0, 1n); // odd already: a change killed half-way, which this one settles
  }

  /**
   * SEG-9: after a change to the lines, under the writer lock: the next even
   * generation. A handle that was caught up before the change, and whose
   * position moved with it (`known`), is caught up after it.
   */
  #changed(known = true): void {
    const generation = this.#generation;
    if (generation === null) return;
    assert(this.#changeFrom !== null && (Atomics.load(generation, 0) & 1n) === 1n, "a change to the log's lines ends without having begun (#changing)");
    const after = Atomics.add(generation, 0, 1n) + 1n;
    if (known && this.#changeFrom === this.#seenGeneration) this.#seenGeneration = after;
    this.#changeFrom = null;
  }

  /** SEG-5; and after #follow's datasync failed, every operation rethrows that failure. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.#chained++;
    const run = this.#chain.then(() => (this.#followFailure === null ? fn() : Promise.reject(this.#followFailure)));
    this.#chain = run.then(() => void this.#chained--, () => void this.#chained--);
    return run;
  }

  /**
   * The hot path of begin() and single reads: true when, right now, nothing
   * follows what this handle has read — the log generation unchanged since
   * it last caught up (SEG-9), or else padding where the next line would
   * start (SEG-7, which needs the FileIO's readNow). Synchronous; false
   * means "ask catchUp()", never "something changed".
   */
  unchangedNow(): boolean {
    const active = this.#active;
    if (active === null || this.#chained > 0 || this.#followFailure !== null) return false;
    if (this.#generation !== null) return Atomics.load(this.#generation, 0) === this.#seenGeneration; // SEG-9
    if (active.readNow === undefined) return false;
    const bytes = active.readNow(this.#end, 1);
    // An empty segment (a new one, before its first append) cannot have shrunk.
    return bytes.length === 0 ? this.#end === 0 : isPadding(bytes[0]!);
  }

  async #catchUp(sink: LogSink, holdsWriterLock: boolean): Promise<void> {
    if (this.#pendingNext !== null) await this.#followNext(this.#pendingNext); // LogResync again while its segment is gone
    // With the generation mapped and even, a catch-up runs only after another
    // handle changed the lines (SEG-9): nearly always something to read, so no
    // probe. An odd one (a writer died half-way) has every begin() probe until
    // the next writer settles it.
    const generation = this.#generation === null ? null : Atomics.load(this.#generation, 0);
    let want = generation !== null && (generation & 1n) === 0n ? catchUpReadBytes : catchUpProbeBytes;
    for (;;) {
      const active = this.#active!;
      // SEG-7: the file's size says nothing about new lines (appends
      // overwrite padding): read at the end of what this handle knows, until
      // the padding. Nothing there at all is the end of the file.
      const bytes = await active.read(this.#end, want);
      if (bytes.length === 0) {
        const size = await active.size();
        if (size < this.#end) {
          // Another handle cut records this one had read: its state is no longer the log's.
          throw new TxtDbError(ErrorCode.IO, `the commit log '${this.#activeSegment!.path}' shrank below what this handle read ` +
            `(${size} < ${this.#end} bytes): close and reopen the database.`, { file: this.#activeSegment!.path, offset: size });
        }
        return;
      }
      if (isPadding(bytes[0]!)) return; // nothing new (the common case, so not scanned further)
      if (want < catchUpReadBytes) {
        want = catchUpReadBytes; // something new: read it in earnest
        continue;
      }
      const toFileEnd = bytes.length < want; // IO: a short read only at the end of the file
      let consumed = 0;
      let next: number | null = null;
      let readOn = false;
      for (const line of scanLines(bytes)) {
        if ("bad" in line) {
          if (line.incomplete === true && !toFileEnd) readOn = true; // the line goes on past this read
          else if (!holdsWriterLock) {
            // A write in progress: appends overwrite padding, so a read racing
            // one can see any mix of old and new bytes. Its CRC tells; the
            // writer lock, taken before anything is built on it, settles it.
          } else if (line.incomplete === true) {
            this.#changing();
            await active.truncate(this.#end + line.offset); // a killed writer's partial batch
            this.#changed();
          }
          else throw corruptLog(this.#activeSegment!.path, this.#end + line.offset, line.bad);
          break;
        }
        consumed = line.end;
        this.#attested = Math.max(this.#attested, durableOf(line));
        if ("record" in line) sink.record(line.record);
        else if (line.marker.marker === "checkpoint") await sink.checkpoint(line.marker.tsn);
        else {
          next = line.marker.tsn;
          break;
        }
      }
      this.#end += consumed;
      if (consumed > 0) this.#foreignAfterDurable = true;
      if (next !== null) {
        await this.#followNext(next);
        want = catchUpReadBytes;
      } else if (readOn) {
        if (consumed === 0) want *= 2; // one line longer than the read
      } else if (consumed < bytes.length || toFileEnd) {
        return; // the padding (or a write in progress) starts here
      }
    }
  }

  /**
   * Follows a `next` marker just read. Until it has, the position stays after
   * the marker and every catch-up tries again: one that found nothing more
   * in the old segment must not count as caught up (SEG-9), or a writer
   * would append after the marker. On LogResync the resync repositions.
   */
  async #followNext(firstTsn: number): Promise<void> {
    this.#pendingNext = firstTsn;
    await this.#follow(firstTsn);
    this.#pendingNext = null;
  }

  /** Moves to the segment a `next` marker names. */
  async #follow(firstTsn: number): Promise<void> {
    const segment = this.#segments.find((s) => s.firstTsn === firstTsn) ?? { firstTsn, path: joinPath(this.#dir, segmentName(firstTsn)) };
    // SEG-1: nothing may be appended to the next segment before this one is
    // durable whole; its rotator's datasync may have failed, and another
    // handle's failed write-back may have left its tail clean in the page
    // cache: re-written, then synced. The segment ends with the marker just
    // read, so everything before it is read.
    // A failed datasync is never retried (GC-5): this handle reads and appends no more.
    await this.#syncTail().catch((err: unknown) => Promise.reject((this.#followFailure = err)));
    await this.#switchTo(segment); // LogResync if a checkpoint removed it meanwhile
    if (!this.#segments.includes(segment)) {
      this.#segments.push(segment);
      this.#segments.sort((a, b) => a.firstTsn - b.firstTsn);
    }
    this.#end = 0;
    this.#allocated = 0;
    this.#durable = 0;
    this.#foreignAfterDurable = false;
  }

  /**
   * After a resync: re-lists the segments and positions reading at the start
   * of the one that holds `tsn + 1` (catch-up then skips what is known).
   */
  repositionAfter(tsn: number): Promise<void> {
    return this.#exclusive(() => this.#repositionAfter(tsn));
  }

  async #repositionAfter(tsn: number): Promise<void> {
    await this.open();
    // The newest segment that can hold tsn + 1 — passing over an empty one a
    // killed rotation may have left (SEG-6): the records went on before it.
    let segment: Segment | undefined;
    for (const candidate of [...this.#segments].reverse()) {
      if (candidate.firstTsn > tsn + 1) continue;
      segment ??= candidate;
      if (((await this.#io.stat(candidate.path))?.size ?? 0) > 0) {
        segment = candidate;
        break;
      }
    }
    segment ??= this.#segments[0];
    if (segment === undefined) throw new LogResync("the log has no segments");
    await this.#switchTo(segment);
    this.#end = 0;
    this.#allocated = 0;
    this.#durable = 0;
    this.#pendingNext = null;
    this.#seenGeneration = null; // SEG-9: positioned before lines it has not read; the next catch-up reads them
  }

  async #switchTo(segment: Segment): Promise<void> {
    if (this.#activeSegment?.path === segment.path && this.#active !== null) return;
    let handle: FileHandle;
    try {
      handle = await this.#io.open(segment.path);
    } catch (err) {
      if (err instanceof TxtDbError && err.code === ErrorCode.NOT_FOUND) throw new LogResync(`log segment ${segment.path} is gone`);
      throw err;
    }
    await this.#active?.close();
    this.#active = handle;
    this.#activeSegment = segment;
    this.#attested = 0;
    this.#tailVerified = false;
  }

  /**
   * SEG-8: re-writes the active segment's unattested tail, as read. Under the
   * writer lock and caught up — or in a segment a `next` marker closed
   * (SEG-1), whose lines no longer change.
   */
  async #verifyTail(): Promise<void> {
    const from = Math.max(this.#attested, this.#durable);
    if (from < this.#end) {
      const active = this.#active!;
      await active.write(from, await active.read(from, this.#end - from));
    }
    this.#tailVerified = true;
  }

  /**
   * SEG-10, SEG-1: makes the active segment's lines durable by this handle's
   * own datasync, their unattested tail re-written first (SEG-8). Nothing
   * unattested: nothing to write, no datasync.
   */
  async #syncTail(): Promise<void> {
    const unattested = Math.max(this.#attested, this.#durable) < this.#end;
    if (unattested) await this.#makeFoldersDurable();
    await this.#verifyTail();
    if (unattested) await this.#sync(this.#active!);
    this.#durable = this.#end;
  }

  /**
   * SEG-11: once per handle, the log folder (the entry of the segment it
   * appends to), the database folder (the log folder's entry) and its parent
   * (the database folder's entry) synced.
   */
  async #makeFoldersDurable(): Promise<void> {
    if (this.#foldersDurable) return;
    const databaseDir = dirname(this.#dir);
    await Promise.all([this.#io.syncDir(this.#dir), this.#io.syncDir(databaseDir), this.#io.syncDir(dirname(databaseDir))]);
    this.#foldersDurable = true;
  }

  /** A datasync of this handle's. GC-5, SEG-8: one that fails is never retried, and nothing is appended after it. */
  async #sync(handle: FileHandle, blocking = false): Promise<void> {
    if (this.#syncFailure !== null) throw this.#stoppedError();
    try {
      await handle.datasync({ blocking });
    } catch (err) {
      this.#syncFailure ??= err;
      throw err;
    }
  }

  #stoppedError(): TxtDbError {
    const path = this.#activeSegment?.path ?? this.#dir;
    const why = this.#syncFailure instanceof Error ? this.#syncFailure.message : String(this.#syncFailure);
    return new TxtDbError(ErrorCode.IO, `a datasync of the commit log '${path}' failed earlier (${why}): this handle writes ` +
      "nothing more, and reads the log no further than its current segment (its next datasync could succeed without the lost bytes). " +
      "Close and reopen the database.", { cause: this.#syncFailure, file: path });
  }

  /** The next append starts a new segment (after a checkpoint made the current one removable). */
  requestRotation(): void {
    this.#rotateRequested = true;
  }

  /** Appends a batch of records as one write; the caller holds the writer lock and has caught up (SEG-1). */
  append(records: ReadonlyArray<{ tsn: number; opsPieces: readonly string[] }>): Promise<void> {
    return this.#exclusive(async () => {
      const rotate = this.#rotateRequested || this.#end >= segmentBytesMax;
      if (rotate && this.#syncFailure === null) await this.#rotate(records[0]!.tsn); // else #write refuses (SEG-8): no segment for nothing
      await this.#write(this.#batchEncoder.encode(records, this.#durable));
    });
  }

  /** Tells the other processes that a checkpoint folded every TSN ≤ `tsn`; under the writer lock, caught up. */
  appendCheckpointMarker(tsn: number): Promise<void> {
    return this.#exclusive(() => this.#write(encodeMarker("checkpoint", tsn, this.#durable)));
  }

  async #write(bytes: Uint8Array, pad = true): Promise<void> {
    this.#lastAppendAt = this.#end;
    if (this.#syncFailure !== null) throw this.#stoppedError(); // SEG-8: nothing after a failed datasync (GC-5 then cuts nothing)
    if (!this.#foldersDurable) await this.#makeFoldersDurable();
    if (!this.#tailVerified) await this.#verifyTail();
    const active = this.#active!;
    this.#changing();
    try {
      await active.write(this.#end, bytes);
    } catch (err) {
      this.#changed(false); // SEG-9: a failed write may have left whole lines, which this handle has not read either
      throw err;
    }
    this.#end += bytes.length;
    this.#changed();
    this.bytesAppended += bytes.length;
    if (pad && this.#paddingLow()) await this.#padAhead();
  }

  /** SEG-7: whether less than a quarter of the padding is left past the end. */
  #paddingLow(): boolean {
    return this.#end + this.#paddingBytes / 4 > this.#allocated;
  }

  /** SEG-7: pads past the end, unless another handle has already. */
  async #padAhead(): Promise<void> {
    const active = this.#active!;
    this.#allocated = Math.max(this.#end, await active.size());
    if (!this.#paddingLow()) return;
    try {
      this.#padding ??= padding(this.#paddingBytes);
      await active.write(this.#allocated, this.#padding);
      this.#allocated += this.#padding.length;
    } catch {
      // Padding only makes later datasyncs cheaper; the batch is written.
      // A full disk fails the next append that needs the room.
      this.#allocated = Math.max(this.#end, await active.size().catch(() => this.#end));
    }
  }

  /**
   * Makes every byte appended so far durable (other processes' too: it is
   * one file). Resolves with whether that holds for every line this handle
   * has read: not before its descriptor re-wrote the unattested tail
   * (SEG-8) — lines a failed write-back of another handle left clean are
   * not carried (PP-5 must not publish them). `blocking`: on the calling
   * thread (DatasyncOptions).
   */
  async datasync(blocking = false): Promise<boolean> {
    const active = this.#active!;
    const end = this.#end;
    const verified = this.#tailVerified;
    await this.#sync(active, blocking);
    if (!verified) return false;
    // The file may have been cut meanwhile (GC-5): never claim more than it holds.
    const covered = Math.min(end, this.#end);
    if (this.#active === active && covered > this.#durable) {
      this.#durable = covered;
      if (covered === this.#end) this.#foreignAfterDurable = false;
    }
    return true;
  }

  /**
   * After a failed append or datasync (GC-5): cuts this process's
   * unacknowledged lines out of the segment — back to what it made durable
   * ("sync"), or, right after its own append failed, the bytes of that
   * append ("relaxed", where written means acknowledged: after any other
   * failure nothing is cut) — unless another process's lines lie among them
   * (then their fate is shared). The caller holds the writer lock. Returns
   * whether it cut.
   */
  discardUnacknowledged(durability: "sync" | "relaxed", afterOwnFailedWrite: boolean): Promise<boolean> {
    return this.#exclusive(() => this.#discard(durability, afterOwnFailedWrite));
  }

  async #discard(durability: "sync" | "relaxed", afterOwnFailedWrite: boolean): Promise<boolean> {
    const active = this.#active;
    if (active === null) return false;
    // "relaxed": every line written was acknowledged, so only this handle's own write that just failed goes.
    if (durability === "relaxed" && !afterOwnFailedWrite) return false;
    // Bytes past #end are this process's partial write right after it failed
    // (still under the lock); at any other time they are another process's.
    const size = await active.size();
    if (size < this.#end) return false;
    // SEG-7: lines past #end, not padding, are another process's or (right after it) this one's failed write.
    const after = await active.read(this.#end, Math.min(catchUpReadBytes, size - this.#end));
    if (contentEnd(after) > 0 && !afterOwnFailedWrite) return false;
    if (durability === "sync" && this.#foreignAfterDurable) return false;
    const to = durability === "sync" ? this.#durable : this.#lastAppendAt;
    this.#changing();
    await active.truncate(to);
    this.#changed();
    this.#end = to;
    this.#allocated = to;
    this.#lastAppendAt = Math.min(this.#lastAppendAt, to);
    return true;
  }

  /** SEG-1: a new segment at `firstTsn`, the old one closed by a `next` marker and synced whole. */
  async #rotate(firstTsn: number): Promise<void> {
    this.#rotateRequested = false;
    if (this.#activeSegment?.firstTsn === firstTsn) return; // empty already: nothing to rotate away from
    const segment = await this.#createSegment(firstTsn);
    const marker = encodeMarker("next", firstTsn, this.#durable);
    try {
      await this.#active!.truncate(this.#end); // SEG-7: the closed segment ends with its marker
      await this.#write(marker, false);
    } catch (err) {
      // A failed write may still have put the whole marker in the file, and
      // readers follow a whole line at once: then the new segment stays
      // (removing it would send them after a segment that is gone). Otherwise
      // no marker leads to it: leave no empty segment behind (SEG-6).
      if (!(await this.#holdsAt(this.#end, marker))) {
        await this.#io.unlink(segment.path).catch(() => {});
        this.#segments = this.#segments.filter((s) => s !== segment);
      }
      throw err;
    }
    // Once the marker is in the file others may follow it: the rotation
    // stands even if this datasync fails (this handle then fails stop, and
    // whoever follows the marker syncs the old segment itself, SEG-1) — and
    // this handle reads on in the new segment too.
    try {
      await this.#sync(this.#active!);
    } finally {
      await this.#switchTo(segment);
      this.#end = 0;
      this.#allocated = 0;
      this.#durable = 0;
      this.#foreignAfterDurable = false;
    }
  }

  /** Whether the active segment holds `bytes` at `offset`; true when it cannot tell (the read fails). */
  async #holdsAt(offset: number, bytes: Uint8Array): Promise<boolean> {
    const found = await this.#active!.read(offset, bytes.length).catch(() => bytes);
    return found.length === bytes.length && found.every((b, i) => b === bytes[i]);
  }

  /** A new, empty segment; its name made durable now (SEG-1), or — the first segment, at open — before the first line (SEG-11). */
  async #createSegment(firstTsn: number, syncName = true): Promise<Segment> {
    const segment = { firstTsn, path: joinPath(this.#dir, segmentName(firstTsn)) };
    const f = await this.#io.open(segment.path, { create: true }); // a crashed rotation may have left it, empty
    await f.close();
    if (syncName) await this.#io.syncDir(this.#dir);
    if (!this.#segments.some((s) => s.path === segment.path)) this.#segments.push(segment);
    this.#segments.sort((a, b) => a.firstTsn - b.firstTsn);
    return segment;
  }

  /** SEG-3: removes the segments whose records all have TSN ≤ `tsn`, never the one this process uses. */
  async removeThrough(tsn: number): Promise<number> {
    let removed = 0;
    // A segment's records all lie below the TSN its `next` marker names: only
    // that marker proves it (an empty segment a killed rotation left behind
    // proves nothing about the segment before it, SEG-6).
    while (this.#segments.length > 1 && this.#segments[0] !== this.#activeSegment) {
      const next = await this.#nextMarkerOf(this.#segments[0]!);
      if (next === null || next > tsn + 1) break;
      const segment = this.#segments.shift()!;
      await this.#io.unlink(segment.path).catch(() => {}); // another process may have removed it first
      removed++;
    }
    if (removed > 0) await this.#io.syncDir(this.#dir);
    return removed;
  }

  /** The TSN a segment's final `next` marker names, or null (read from its last bytes). */
  async #nextMarkerOf(segment: Segment): Promise<number | null> {
    let f: FileHandle;
    try {
      f = await this.#io.open(segment.path, { readOnly: true });
    } catch (err) {
      if (err instanceof TxtDbError && err.code === ErrorCode.NOT_FOUND) return null;
      throw err;
    }
    try {
      const size = await f.size();
      const tail = await f.read(Math.max(0, size - 256), Math.min(size, 256));
      const start = tail.lastIndexOf(0x0a, tail.length - 2) + 1;
      const last = scanLines(tail.subarray(start)).at(-1);
      return last !== undefined && "marker" in last && last.marker.marker === "next" ? last.marker.tsn : null;
    } finally {
      await f.close();
    }
  }

  /**
   * At close, when a checkpoint covers every record and no other handle is
   * open: removes every segment, so the next open reads no log at all — but
   * a lone segment that is empty (a handle that wrote nothing) stays: the
   * next open appends to it instead of making one, and neither close pays
   * for the removal nor open for the creation (#dropStaleEmptySegment, at
   * open, replaces one whose name is not the next TSN). The caller holds
   * the writer lock.
   */
  async retire(): Promise<void> {
    const only = this.#segments.length === 1 ? this.#segments[0]! : undefined;
    const untouched = only !== undefined && (await this.#io.stat(only.path))?.size === 0;
    await this.close();
    if (untouched) return;
    for (const segment of this.#segments.splice(0)) await this.#io.unlink(segment.path).catch(() => {});
    await this.#io.syncDir(this.#dir);
  }

  /** Every segment, for check(). */
  segments(): readonly Segment[] {
    return this.#segments;
  }

  async close(): Promise<void> {
    await this.#active?.close();
    this.#active = null;
    this.#activeSegment = null;
  }
}

/** SEG-8: the highest `durable` attestation among the valid lines at the start of a segment. */
function attestedIn(lines: readonly ScannedLine[]): number {
  let attested = 0;
  for (const line of lines) {
    if ("bad" in line) break;
    attested = Math.max(attested, durableOf(line));
  }
  return attested;
}

/** Where the valid lines at the start of a segment end. */
function linesEnd(lines: readonly ScannedLine[]): number {
  let end = 0;
  for (const line of lines) {
    if ("bad" in line) break;
    end = line.end;
  }
  return end;
}

let padBytes: Uint8Array | null = null;

/** SEG-7: `bytes` spaces (shared: never written to). */
function padding(bytes: number): Uint8Array {
  if (padBytes?.length !== bytes) padBytes = new Uint8Array(bytes).fill(0x20);
  return padBytes;
}

function durableOf(line: { record: ReadRecord } | { marker: { durable: number } }): number {
  return "record" in line ? line.record.durable : line.marker.durable;
}

const lineStart = new TextEncoder().encode('{"');

/** SEG-2: whether a valid line after `offset` in the segment attests that `offset` was durable. */
function attestedAfter(bytes: Uint8Array, offset: number): boolean {
  for (let pos = bytes.indexOf(lineStart[0]!, offset + 1); pos >= 0; pos = bytes.indexOf(lineStart[0]!, pos + 1)) {
    if (bytes[pos + 1] !== lineStart[1]) continue;
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
