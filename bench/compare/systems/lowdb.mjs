/**
 * lowdb 7 (lowdb/node JSONFilePreset): the whole database is one JSON object in
 * memory; every write() rewrites the whole file (steno: write a temp file, then
 * rename; no fsync). A process sees others' writes only if it re-reads.
 */
import fs from "node:fs";
import { JSONFilePreset } from "lowdb/node";

export default {
  name: "lowdb",
  driver: "lowdb/node JSONFilePreset",
  documented: "no fsync (temp file + rename); whole file rewritten per write; one process only (last writer wins)",
  /** @param {string} dir */
  async open(dir) {
    const file = `${dir}/db.json`;
    const existed = fs.existsSync(file);
    const db = await JSONFilePreset(file, { docs: {} });
    if (!existed) await db.write();
    return {
      put: async (k, v) => { db.data.docs[k] = v; await db.write(); },
      get: async (k) => db.data.docs[k],
      bulk: async (entries) => { for (const [k, v] of entries) db.data.docs[k] = v; await db.write(); },
      async keys() { await db.read(); return new Set(Object.keys(db.data.docs)); },
      close: async () => {},
      extra: () => ({}),
      async table() { return { missing: "not run (W7 compares txtdb with SQLite)" }; },
    };
  },
};
