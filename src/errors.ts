/**
 * Errors of the public API.
 *
 * Two failure channels, never mixed (STYLE.md §3):
 * - `assert()` for programmer errors inside txtdb: a failed assert is a bug
 *   in txtdb and is never caught;
 * - `TxtDbError` for operating errors a caller can meet and handle: every
 *   error the public API throws or rejects with is one, with a stable `code`
 *   (the set below never shrinks and a code never changes meaning), a message
 *   that says what failed and what to do, the `file` and `offset` where they
 *   apply, and the underlying error (an OS error, an AbortSignal reason) as
 *   `cause`.
 */

/** Every code a `TxtDbError` can carry, with what it means. */
export const ErrorCode = {
  /** An I/O operation failed; `cause` holds the OS error (`cause.code` e.g. "EIO", "ENOSPC"). */
  IO: "TXTDB_IO",
  /** A file or directory that must exist does not (ENOENT); or an unknown table. */
  NOT_FOUND: "TXTDB_NOT_FOUND",
  /** A file that must not exist does (EEXIST). */
  EXISTS: "TXTDB_EXISTS",
  /** Another process holds the database (or a lock) and this operation cannot wait for it. */
  LOCKED: "TXTDB_LOCKED",
  /** A wait was cancelled through its AbortSignal; `cause` is the signal's reason. */
  ABORTED: "TXTDB_ABORTED",
  /** The database, file handle or FileIO was used after close(). */
  CLOSED: "TXTDB_CLOSED",
  /** Data on disk is damaged; `file` and `offset` say where. */
  CORRUPT: "TXTDB_CORRUPT",
  /** A transaction lost a write–write (or, serializable, read–write) conflict; retry it. */
  CONFLICT: "TXTDB_CONFLICT",
  /** A transaction was used after commit() or rollback(). */
  TX_CLOSED: "TXTDB_TX_CLOSED",
  /** A write in a read-only transaction. */
  READ_ONLY: "TXTDB_READ_ONLY",
  /** A key that cannot be stored (NaN, an object, an empty composite, too long). */
  INVALID_KEY: "TXTDB_INVALID_KEY",
  /** A value that cannot be stored (a function, a symbol, a cycle, too large). */
  INVALID_VALUE: "TXTDB_INVALID_VALUE",
  /** A namespace or table name that is not allowed. */
  INVALID_NAME: "TXTDB_INVALID_NAME",
  /** An argument or option outside what the API accepts. */
  INVALID_ARGUMENT: "TXTDB_INVALID_ARGUMENT",
  /** The database was created with another page format. */
  FORMAT: "TXTDB_FORMAT",
  /** A page file was edited outside txtdb; `file` names it. */
  EDITED: "TXTDB_EDITED",
  /** A unique index already holds the value. */
  UNIQUE: "TXTDB_UNIQUE",
  /** A row with the primary key already exists. */
  DUPLICATE_KEY: "TXTDB_DUPLICATE_KEY",
  /** A table definition change that is not allowed (another primary key, an index redefined) or an index not ready yet. */
  SCHEMA: "TXTDB_SCHEMA",
  /** The native addon could not be loaded; txtdb runs single-process. */
  NO_NATIVE: "TXTDB_NO_NATIVE",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface TxtDbErrorOptions {
  /** The underlying error: an OS error, an AbortSignal reason, … */
  cause?: unknown;
  /** The file the error is about, as the FileIO named it. */
  file?: string;
  /** The byte offset in `file` the error is about. */
  offset?: number;
}

/**
 * The one error class of the public API.
 *
 * @example
 * ```ts
 * import { TxtDbError } from "txtdb";
 * try {
 *   throw new TxtDbError("TXTDB_LOCKED", "the database is open in another process");
 * } catch (err) {
 *   if (err instanceof TxtDbError && err.code === "TXTDB_LOCKED") console.log("try later");
 * }
 * ```
 */
export class TxtDbError extends Error {
  readonly code: ErrorCode;
  readonly file: string | undefined;
  readonly offset: number | undefined;

  constructor(code: ErrorCode, message: string, options: TxtDbErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.file = options.file;
    this.offset = options.offset;
  }

  override get name(): string {
    return "TxtDbError";
  }
}

/**
 * A transaction lost a conflict at commit (`code` "TXTDB_CONFLICT"). Nothing
 * of it was written; running it again is safe. `db.transaction()` does that.
 */
export class ConflictError extends TxtDbError {
  constructor(message: string, options: TxtDbErrorOptions = {}) {
    super(ErrorCode.CONFLICT, message, options);
  }

  override get name(): string {
    return "ConflictError";
  }
}

/** One problem a validator found in a row (the Standard Schema v1 issue shape). */
export interface ValidationIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/**
 * A row was refused by a table's `validate`, or lacks a primary-key field, or
 * holds a value that cannot be a key where one is needed (`code`
 * "TXTDB_INVALID_VALUE"). `issues` lists what is wrong; nothing was written.
 */
export class ValidationError extends TxtDbError {
  readonly issues: readonly ValidationIssue[];

  constructor(message: string, issues: readonly ValidationIssue[], options: TxtDbErrorOptions = {}) {
    super(ErrorCode.INVALID_VALUE, message, options);
    this.issues = issues;
  }

  override get name(): string {
    return "ValidationError";
  }
}

/** Thrown when an internal invariant does not hold: a bug in txtdb, never caught. */
export class AssertionError extends Error {
  override get name(): string {
    return "AssertionError";
  }
}

/** Checks a programmer-error invariant (STYLE.md §3). Not for input validation. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/**
 * assert() for a hot path whose message is built from values:
 * `if (!ok) assertionFailed(`…${x}…`)` formats the message only when the
 * invariant is broken, where assert(ok, `…${x}…`) would at every call.
 */
export function assertionFailed(message: string): never {
  throw new AssertionError(message);
}
