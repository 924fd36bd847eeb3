/**
 * The one place OS errors become TxtDbErrors (IO-8), for every adapter.
 */
import { ErrorCode, TxtDbError } from "../errors.ts";

/** What to do about an OS error, by its code. */
const hintByCode: Record<string, string> = {
  ENOSPC: "The disk is full: free space, then reopen the database.",
  EDQUOT: "The disk quota is exhausted: free space, then reopen the database.",
  EIO: "The storage device reported an error: check the disk and the system log.",
  EACCES: "Check the file's permissions and owner.",
  EPERM: "Check the file's permissions and owner.",
  EROFS: "The file system is mounted read-only.",
  EMFILE: "Too many open files: raise the limit (ulimit -n) or open fewer databases.",
  ENOLCK: "The file system does not support byte-range locks (a network file system?): put the database on a local disk.",
  EMISMATCH: "This runtime's file descriptors are not OS descriptors; the native addon cannot lock them.",
};

/** A Node-style OS error, as `node:fs` and the addon throw and as memoryIO fabricates. */
export interface OsError extends Error {
  code: string;
  syscall?: string;
  path?: string;
}

export function osError(code: string, syscall: string, path: string, detail = ""): OsError {
  const err = new Error(`${code}: ${syscall} '${path}'${detail === "" ? "" : `: ${detail}`}`) as OsError;
  err.code = code;
  err.syscall = syscall;
  err.path = path;
  return err;
}

/** Maps an error thrown by an OS call on `path` to a TxtDbError; a TxtDbError passes through. */
export function ioError(err: unknown, operation: string, path: string): TxtDbError {
  if (err instanceof TxtDbError) return err;
  const code = typeof (err as { code?: unknown })?.code === "string" ? (err as OsError).code : "EUNKNOWN";
  const what = `${operation} '${path}' failed with ${code}`;
  if (code === "ENOENT") return new TxtDbError(ErrorCode.NOT_FOUND, `${what}: it does not exist.`, { cause: err, file: path });
  if (code === "EEXIST") return new TxtDbError(ErrorCode.EXISTS, `${what}: it already exists.`, { cause: err, file: path });
  const detail = err instanceof Error ? err.message : String(err);
  const hint = hintByCode[code] ?? "";
  return new TxtDbError(ErrorCode.IO, `${what} (${detail}).${hint === "" ? "" : " " + hint}`, { cause: err, file: path });
}

export function closedError(path: string): TxtDbError {
  return new TxtDbError(ErrorCode.CLOSED, `the file handle of '${path}' is closed`, { file: path });
}
