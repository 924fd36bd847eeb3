/**
 * Every bound and default of the table layer, in one place, unit last
 * (STYLE.md §5). The engine's are in src/engine/_defaults.ts, the codec's in
 * src/codec/limits.ts.
 */

/**
 * The namespace of the catalog: one entry per table, keyed by the table's
 * name. Table names may not contain ".", and "txtdb" is not a table name, so
 * no table or index namespace can be this one.
 */
export const catalogNamespace = "txtdb.tables";

/** A table name that is refused, so that `<table>.<index>` can never be the catalog's namespace. */
export const reservedTableName = "txtdb";

/** The catalog entry format this version writes and reads. */
export const catalogFormatVersion = 1;

/** Rows indexed per transaction when an index is built over existing rows: bounds each transaction's size and how long it holds a snapshot. */
export const indexBuildChunkRows = 1000;

/** Conflict retries of one build chunk (or one catalog change) before the build gives up with the ConflictError. */
export const schemaRetriesMax = 50;

/**
 * Before backfilling a new index, its builder waits until no transaction
 * that began before the index was declared is still open (in any process):
 * such a transaction could write rows without maintaining the new index.
 * After this long the build stops with TXTDB_LOCKED (the index stays
 * "building" and the next db.table() resumes it).
 */
export const indexBuildWaitMsMax = 30_000;

/** The poll interval of that wait, in milliseconds. */
export const indexBuildPollMs = 2;

/** Compiled table definitions kept per process (they are tiny; the bound only stops a leak from many distinct definitions). */
export const compiledDefinitionsMax = 256;
