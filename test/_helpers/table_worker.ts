/**
 * A child process for test/table_multiprocess.test.ts, runnable in Node
 * (built), Deno and Bun:
 *
 *   table_worker <dir> <mode> <who> [n]
 *
 * Opens the database and the table "users" (key "id", unique index byEmail),
 * prints {"ready":true}, waits for a "go" line on stdin, then:
 *
 *   race     inserts {id: who, email: "same@example.com"} in a transaction begun
 *            before "go" and commits it after: prints {"commit":"ok"|code};
 *            after a conflict, retries with users.insert: {"retry":"ok"|code}
 *   loop     inserts n rows {id: "<who>-<i>", email: "e<i>@example.com"} one
 *            by one: prints {"ok":…, "unique":…, "other":[codes]}
 *   build    opens the table with one more index, byWho (non-unique on
 *            "who"): prints {"built":true,"rowsIndexed":…} once it is ready
 *   catalog  prints {"tables":…, "definition":…, "count":…} (ignores "go")
 */
import process from "node:process";
import readline from "node:readline";
import { open, TxtDbError } from "../../src/mod.ts";

const [dir, mode, who, nText] = process.argv.slice(2);
if (dir === undefined || mode === undefined || who === undefined) throw new Error("usage: table_worker <dir> <mode> <who> [n]");
const print = (o: unknown): void => void process.stdout.write(JSON.stringify(o) + "\n");
const codeOf = (err: unknown): string => (err instanceof TxtDbError ? err.code : `JS:${String((err as Error)?.stack ?? err)}`);

type User = { id: number | string; email: string; who: string };
const db = await open(dir);
if (mode === "catalog") {
  const users = await db.table<User>("users");
  print({ tables: await db.tables(), definition: users.definition(), count: await users.count(), byEmail: await users.index("byEmail").get("e1@example.com") ?? null });
  await db.close();
  process.exit(0);
}
const users = await db.table<User>("users", { key: "id", indexes: { byEmail: { fields: "email", unique: true } } });
if (mode === "build") {
  print({ ready: true });
  let rowsIndexed = 0;
  await db.table<User>("users", {
    key: "id",
    indexes: { byEmail: { fields: "email", unique: true }, byWho: { fields: "who" } },
    onProgress: (p) => void (rowsIndexed = p.rowsIndexed),
  });
  print({ built: true, rowsIndexed });
  await db.close();
  process.exit(0);
}
const go = new Promise<void>((resolve) => {
  const lines = readline.createInterface({ input: process.stdin });
  lines.on("line", (l) => {
    if (l.trim() === "go") resolve();
  });
});
if (mode === "race") {
  const tx = await db.begin();
  await tx.table(users).insert({ id: Number(who), email: "same@example.com", who });
  print({ ready: true });
  await go;
  let commit = "ok";
  try {
    await tx.commit();
  } catch (err) {
    commit = codeOf(err);
  }
  print({ commit });
  if (commit === "TXTDB_CONFLICT") {
    let retry = "ok";
    try {
      await users.insert({ id: Number(who), email: "same@example.com", who });
    } catch (err) {
      retry = codeOf(err);
    }
    print({ retry });
  }
} else if (mode === "loop") {
  print({ ready: true });
  await go;
  let ok = 0;
  let unique = 0;
  const other: string[] = [];
  for (let i = 0; i < Number(nText ?? 100); i++) {
    try {
      await users.insert({ id: `${who}-${i}`, email: `e${i}@example.com`, who });
      ok++;
    } catch (err) {
      if (codeOf(err) === "TXTDB_UNIQUE") unique++;
      else other.push(codeOf(err));
    }
  }
  print({ ok, unique, other });
}
await db.close();
process.exit(0);
