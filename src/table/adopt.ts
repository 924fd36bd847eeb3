/**
 * Hand edits of table pages (src/engine/edits.ts, ADOPT-5): a row edited in a
 * table's page file is adopted through the table layer, so it is validated
 * and its index entries follow it in the same transaction. Rows of other
 * namespaces are written as they are; edits of index or catalog pages are
 * refused (TXTDB_SCHEMA): indexes are derived from rows, never edited.
 *
 * - TADOPT-1  An adopted table row passes exactly the checks a put through
 *             the table would (key fields match the row's key, validator,
 *             unique indexes); a refusal names the edited file and line, and
 *             nothing of the adoption is committed.
 */
import { ErrorCode, TxtDbError, ValidationError } from "../errors.ts";
import type { Database } from "../engine/database.ts";
import type { ApplyEdits, EditChange } from "../engine/edits.ts";
import { applyRowChange } from "./row_change.ts";

/** The apply step adoptEdits() uses by default on `db`. */
export function applyEditsThroughTables(db: Database): ApplyEdits {
  return async (tx, changes) => {
    for (const change of changes) {
      const row = change.deleted ? undefined : change.value;
      let handled: boolean;
      try {
        handled = await applyRowChange(tx, change.namespace, change.key, row, db);
      } catch (err) {
        throw located(err, change);
      }
      if (handled) continue;
      if (change.deleted) await tx.delete(change.namespace, change.key);
      else await tx.put(change.namespace, change.key, change.value);
    }
  };
}

/** TADOPT-1: the table layer's refusal, with the place in the edited file it came from. */
function located(err: unknown, change: EditChange): unknown {
  if (!(err instanceof TxtDbError) || err.code === ErrorCode.CONFLICT) return err;
  const where = change.deleted ? `'${change.file}'` : `'${change.file}' line ${change.line}`;
  const message = `hand edit of ${where} refused: ${err.message}`;
  return err instanceof ValidationError
    ? new ValidationError(message, err.issues, { file: change.file, cause: err })
    : new TxtDbError(err.code, message, { file: change.file, cause: err });
}
