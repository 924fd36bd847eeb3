/**
 * Path helpers on "/"-separated strings, free of any runtime (the engine may
 * use them). Windows accepts "/" too, so the engine never builds "\\" paths.
 */

/**
 * Joins path segments with "/", dropping empty segments and duplicate slashes.
 *
 * @example
 * ```ts
 * import { joinPath } from "txtdb";
 * console.log(joinPath("./data", "log", "00000001.log")); // "./data/log/00000001.log"
 * ```
 */
export function joinPath(...segments: string[]): string {
  const absolute = segments[0]?.startsWith("/") ?? false;
  const parts = segments.flatMap((s) => s.split("/")).filter((p) => p !== "");
  return (absolute ? "/" : "") + parts.join("/");
}

/** The directory part of a path: "a/b/c" → "a/b", "c" → ".", "/c" → "/". */
export function dirname(path: string): string {
  if (/^\/+$/.test(path)) return "/";
  const trimmed = path.replace(/\/+$/, "");
  const at = trimmed.lastIndexOf("/");
  if (at < 0) return ".";
  if (at === 0) return "/";
  return trimmed.slice(0, at);
}

/** The last segment of a path: "a/b/c" → "c". */
export function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}
