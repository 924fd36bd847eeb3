/**
 * txtdb — an embedded ACID database for Node, Deno and Bun whose data is
 * human-readable text files.
 *
 * This is the public entry. Everything exported here is the contract of
 * ../shared/DESIGN.md ("Public API contract"): names never change.
 *
 * @module
 */
export { ConflictError, ErrorCode, TxtDbError } from "./errors.ts";
export type { TxtDbErrorOptions } from "./errors.ts";
export type {
  DirectoryClaim, FileHandle, FileIO, FileStat, LockMode, LockOptions, LockScope, OpenOptions,
} from "./io/file_io.ts";
export { MemoryIO, memoryIO } from "./io/memory_io.ts";
export type { CrashMode, CrashOptions, FaultRule, MemoryIOCounters, MemoryOp } from "./io/memory_io.ts";
export { claimFileName, nativeIO } from "./io/native_io.ts";
export type { NativeIOOptions } from "./io/native_io.ts";
export { basename, dirname, joinPath } from "./io/path.ts";
