/**
 * Namespace names (contract 15): non-empty strings of at most 255 UTF-8
 * bytes, without "/", "\", NUL, and not "." or "..". A name never becomes a
 * path as it is: its folder name is escaped (pages.ts folderFor), so no name
 * can reach outside the database directory.
 */
import { ErrorCode, TxtDbError } from "../errors.ts";

export const namespaceBytesMax = 255;

/** Names already checked: validation runs on every get(), and a process uses few names. */
const checked = new Set<string>();
const checkedMax = 4096;

export function validateNamespace(name: unknown): string {
  if (checked.has(name as string)) return name as string;
  const bad = (why: string): TxtDbError =>
    new TxtDbError(ErrorCode.INVALID_NAME, `invalid namespace name ${JSON.stringify(String(name)).slice(0, 80)}: ${why}`);
  if (typeof name !== "string") throw bad(`a namespace name is a string, not ${typeof name}`);
  if (name === "") throw bad("it is empty");
  if (name === "." || name === "..") throw bad(`"." and ".." are not allowed`);
  if (/[/\\\0]/.test(name)) throw bad(`it contains "/", "\\" or NUL`);
  if (name.length > namespaceBytesMax / 3 && new TextEncoder().encode(name).length > namespaceBytesMax) {
    throw bad(`it is longer than ${namespaceBytesMax} UTF-8 bytes`);
  }
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(name)) throw bad("it contains a lone surrogate");
  if (checked.size < checkedMax) checked.add(name);
  return name;
}
