/**
 * SQLite adapters, two variants:
 *   sqlite-full    journal_mode=WAL, synchronous=FULL: the WAL is fsynced at every commit
 *   sqlite-normal  journal_mode=WAL, synchronous=NORMAL (the common setup): the WAL is fsynced
 *                  only at checkpoints, so a commit survives a process crash but not power loss
 *
 * Driver by runtime: Node → better-sqlite3 (a V8-API addon: it loads only in
 * Node); Bun → bun:sqlite; Deno → node:sqlite. The driver used is reported with
 * every row. All three expose exec(), prepare().run() and prepare().get().
 * busy_timeout lets several processes wait for the write lock (W6).
 */
import { runtime } from "../_common.mjs";

async function driver() {
  if (runtime === "bun") {
    const { Database } = await import("bun:sqlite");
    return { name: "bun:sqlite", open: (f) => new Database(f) };
  }
  if (runtime === "deno") {
    const { DatabaseSync } = await import("node:sqlite");
    return { name: "node:sqlite", open: (f) => new DatabaseSync(f) };
  }
  const { default: Database } = await import("better-sqlite3");
  return { name: "better-sqlite3", open: (f) => new Database(f) };
}

const drv = await driver();

/** @param {"FULL" | "NORMAL"} sync */
function variant(sync) {
  return {
    name: sync === "FULL" ? "sqlite-full" : "sqlite-normal",
    driver: `${drv.name} WAL synchronous=${sync}`,
    documented: sync === "FULL"
      ? "fsync of the WAL at every commit, before the call returns (synchronous API: no group commit); multi-process safe (file locks)"
      : "NOT DURABLE on power loss: WAL fsynced only at checkpoints; a commit survives a process crash; multi-process safe",
    /** @param {string} dir */
    async open(dir) {
      const db = drv.open(`${dir}/db.sqlite`);
      db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=${sync}; PRAGMA busy_timeout=20000;`);
      db.exec("CREATE TABLE IF NOT EXISTS docs (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
      const put = db.prepare("INSERT OR REPLACE INTO docs (k, v) VALUES (?, ?)");
      const get = db.prepare("SELECT v FROM docs WHERE k = ?");
      return {
        put: async (k, v) => { put.run(k, JSON.stringify(v)); },
        get: async (k) => { const r = get.get(k); return r === undefined || r === null ? undefined : JSON.parse(r.v); },
        bulk: async (entries) => {
          db.exec("BEGIN");
          try { for (const [k, v] of entries) put.run(k, JSON.stringify(v)); db.exec("COMMIT"); } catch (e) { db.exec("ROLLBACK"); throw e; }
        },
        async keys() {
          return new Set(db.prepare("SELECT k FROM docs").all().map((r) => r.k));
        },
        close: async () => { db.close(); },
        extra: () => ({}),
        async table() {
          db.exec(`CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL, age INTEGER NOT NULL, tenant TEXT NOT NULL);
                   CREATE UNIQUE INDEX IF NOT EXISTS byEmail ON users (email);
                   CREATE INDEX IF NOT EXISTS byTenantAge ON users (tenant, age);`);
          const ins = db.prepare("INSERT INTO users (id, email, name, age, tenant) VALUES (?, ?, ?, ?, ?)");
          const byEmail = db.prepare("SELECT id, email, name, age, tenant FROM users WHERE email = ?");
          const insert = (r) => ins.run(r.id, r.email, r.name, r.age, r.tenant);
          return {
            insert: async (r) => { insert(r); },
            byEmail: async (e) => byEmail.get(e) ?? undefined,
            bulk: async (rows) => {
              db.exec("BEGIN");
              try { for (const r of rows) insert(r); db.exec("COMMIT"); } catch (e) { db.exec("ROLLBACK"); throw e; }
            },
          };
        },
      };
    },
  };
}

export const full = variant("FULL");
export const normal = variant("NORMAL");
