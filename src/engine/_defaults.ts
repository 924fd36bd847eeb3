/**
 * Every bound and default of the engine, in one place, unit last (STYLE.md §5).
 * The codec's own bounds (key, value and transaction sizes) are in
 * src/codec/limits.ts.
 */

/** Page cache bound when open() is given none: the decoded pages kept in memory. */
export const cacheBytesDefault = 64 << 20;

/** Commits in one group-commit batch: one append and one datasync cover them all. */
export const batchCommitsMax = 1024;
/** Log bytes in one batch: one write call, built in memory. */
export const batchBytesMax = 8 << 20;
/** Commits queued behind the batch being flushed; commit() waits for room past this (backpressure). */
export const queueCommitsMax = 4096;

/**
 * GC-7: a lone commit's datasync runs on the JS thread only while the
 * handle's last datasync took at most this long — the longest the event loop
 * then waits for the disk, but for the one datasync that finds it slow.
 */
export const blockingSyncMaxMs = 1;
/** GC-7: lone commits awaited in a loop, each with a blocking datasync, give the event loop a turn at least this often. */
export const blockingSyncTurnMs = 2;
/** GC-9: a spare hold is re-published once it lags this many TSNs behind the visible snapshot (how far it may hold a checkpoint back). */
export const spareHoldLagMaxTsn = 64;
/** Under durability "relaxed", the log is datasync'd in the background at most this often. */
export const relaxedSyncIntervalMs = 1000;

/** A log segment is closed and a new one started past this size. */
export const segmentBytesMax = 64 << 20;
/**
 * Spaces a writer puts ahead of its appends each time the segment runs out of
 * them (SEG-7): one slow, size-changing datasync per this many bytes, instead
 * of one per commit.
 */
export const logPadBytes = 1 << 20;
/** The first read of a catch-up (SEG-4); doubled while the last line read is cut short. */
export const catchUpReadBytes = 4096;
/**
 * The read that asks "anything new?" at a begin() or commit where no mapped
 * log generation (PP-6) answers it, or while the generation is odd (SEG-7):
 * small enough that the runtime allocates its buffer on the JS heap
 * (a fresh 4 KiB buffer costs more than the read itself).
 */
export const catchUpProbeBytes = 32;
/** LOG-1: the buffer a log keeps for encoding batches starts at this size… */
export const batchBufferBytesFirst = 4096;
/** …and grows up to this; a larger batch gets a buffer of its own, let go after its write. */
export const batchBufferBytesMax = 64 << 10;
/** Ops per piece of a transaction's log text (encodeOps): a piece of documents of ~200 bytes is ~50 KB. */
export const opsPerPiece = 256;
/** An automatic checkpoint starts once this many log bytes were written since the last one. */
export const checkpointLogBytesDefault = 16 << 20;

/** Warn once when a live snapshot holds a checkpoint this many TSNs behind. */
export const snapshotLagWarnTsnDefault = 100_000;

/** A page is split in two when its file would exceed this size; a one-row change rewrites one page of at most this size. */
export const pageBytesMax = 64 << 10;

/** A checkpoint compresses at most this many base copies (page_base.ts) ahead of the page it is writing: overlap without holding every compressor's buffers at once. */
export const baseCompressionsAheadMax = 8;

/** db.adoptEdits() refuses an edited page file larger than this, before reading it: a hand edit is untrusted input. */
export const adoptPageBytesMax = 48 << 20;

/** A read that finds a page replaced waits at most this long for the checkpoint replacing it to install its manifest. */
export const checkpointWaitMsMax = 30_000;

/** Catch-up starts over from the manifest at most this many times in a row when checkpoints remove the segments it follows. */
export const resyncAttemptsMax = 16;

/** db.transaction() retries on conflict at most this many times when not told otherwise. */
export const transactionRetriesDefault = 10;
/** Retry backoff: the first wait, the ceiling, both in milliseconds; each wait is uniformly jittered in [0, bound). */
export const retryBackoffFirstMs = 1;
export const retryBackoffMaxMs = 100;

/**
 * The lock file holds no data: these byte ranges in it are the locks.
 *
 * | byte(s)            | mode      | held by / for                                              |
 * |--------------------|-----------|------------------------------------------------------------|
 * | 0                  | exclusive | the writer lock: catch up, validate, append (one process)  |
 * | 1                  | exclusive | the checkpoint lock: one checkpointer at a time             |
 * | 2                  | shared    | begin(): catch up and publish a snapshot                    |
 * |                    | exclusive | a checkpoint choosing its TSN (no snapshot is half-published) |
 * | 3                  | shared    | a handle that maps the lock file (PP-8), for its whole life |
 * | 4                  | shared    | a handle that cannot map it (PP-8), for its whole life      |
 * | 1024 … 2047        | exclusive | reader slots: one per open handle, for its whole life       |
 * | 2^40 + TSN         | shared    | a handle's oldest live snapshot TSN, published              |
 * | 2^41 + TSN         | shared    | "every record up to TSN is durable", published by the last  |
 * |                    |           | handle whose datasync proved it                             |
 */
export const lockWriterOffset = 0;
export const lockCheckpointOffset = 1;
export const lockSnapshotGateOffset = 2;
export const lockMappedOffset = 3;
export const lockUnmappedOffset = 4;
export const lockSlotsOffset = 1024;
export const lockSlotsMax = 1024;
export const lockSnapshotsOffset = 2 ** 40;
export const lockDurableOffset = 2 ** 41;

/** File and folder names inside a database directory. */
export const manifestFileName = "manifest.json";
export const manifestNextFileName = "manifest.next";
export const lockFileName = "lock";
/** PP-6, PP-7: the bytes of the lock file mapped shared: the log generation and the handle generation (8 bytes each), in one page. */
export const lockSharedBytes = 4096;
export const logDirName = "log";
export const pagesDirName = "pages";
export const tempSuffix = ".tmp";
