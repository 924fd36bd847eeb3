/**
 * txtdb — an embedded ACID database for Node, Deno and Bun whose data is
 * human-readable text files.
 *
 * This is the public entry. Everything exported here is the contract of
 * ../shared/DESIGN.md ("Public API contract"): names never change.
 *
 * @module
 */
export { ConflictError, ErrorCode, TxtDbError, ValidationError } from "./errors.ts";
export type { TxtDbErrorOptions, ValidationIssue } from "./errors.ts";
export type {
  DatasyncOptions, DirectoryClaim, FileHandle, FileIO, FileStat, LockMode, LockOptions, LockScope, OpenOptions, ReadFileOptions,
} from "./io/file_io.ts";
export { MemoryIO, memoryIO } from "./io/memory_io.ts";
export type { CrashMode, CrashOptions, FaultRule, MemoryIOCounters, MemoryIOOptions, MemoryOp } from "./io/memory_io.ts";
export { claimFileName, nativeIO } from "./io/native_io.ts";
export type { NativeIOOptions } from "./io/native_io.ts";
export { basename, dirname, joinPath } from "./io/path.ts";
export { open } from "./open.ts";
export type { DatabaseOptions } from "./open.ts";
export { Database } from "./engine/database.ts";
export type { BeginOptions, CheckResult, DatabaseStats, LatencySummary, TransactionOptions, TxtDbWarning } from "./engine/database.ts";
export { Transaction } from "./engine/transaction.ts";
export type { CommitResult, Isolation, ScanOptions } from "./engine/transaction.ts";
export type { Key, KeyPart } from "./codec/key.ts";
export type { PageFormatName } from "./codec/page_format.ts";
export { applyEditsPlain } from "./engine/edits.ts";
export { convert } from "./convert.ts";
export type { ConvertOptions, ConvertProgress, ConvertResult } from "./convert.ts";
export type { AdoptEditsOptions, AdoptEditsResult, ApplyEdits, EditChange } from "./engine/edits.ts";
export { Table, TableTx } from "./table/table.ts";
export { TableIndex, TableIndexTx } from "./table/index.ts";
export type { IndexScanOptions } from "./table/index.ts";
export { applyRowChange } from "./table/row_change.ts";
export type { Fields, IndexBuildProgress, IndexDefinition, IndexOptions, TableDefinition, TableOptions } from "./table/schema.ts";
export type { StandardSchemaV1, Validator } from "./table/validate.ts";
