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

/** A log segment is closed and a new one started past this size. */
export const segmentBytesMax = 64 << 20;
/** An automatic checkpoint starts once this many log bytes were written since the last one. */
export const checkpointLogBytesDefault = 16 << 20;

/** A page is split in two when its file would exceed this size; a one-row change rewrites one page of at most this size. */
export const pageBytesMax = 64 << 10;

/** db.transaction() retries on conflict at most this many times when not told otherwise. */
export const transactionRetriesDefault = 10;
/** Retry backoff: the first wait, the ceiling, both in milliseconds; each wait is uniformly jittered in [0, bound). */
export const retryBackoffFirstMs = 1;
export const retryBackoffMaxMs = 100;

/** Byte offsets in the lock file: the writer lock, the checkpoint lock, and where reader slots begin. */
export const lockWriterOffset = 0;
export const lockCheckpointOffset = 1;
export const lockSlotsOffset = 1024;
/** Held exclusively for the life of a handle until several processes may share a database (issue 4). */
export const lockSoleOwnerOffset = 2;

/** File and folder names inside a database directory. */
export const manifestFileName = "manifest.json";
export const manifestNextFileName = "manifest.next";
export const lockFileName = "lock";
export const logDirName = "log";
export const pagesDirName = "pages";
export const tempSuffix = ".tmp";
