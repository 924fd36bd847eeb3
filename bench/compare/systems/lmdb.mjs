/**
 * LMDB through lmdb-js with its defaults. On Linux the default is
 * overlappingSync: its README says an awaited write resolves when the
 * transaction is committed (visible) and that `db.flushed` resolves when it is
 * flushed to disk; elsewhere it says the promise resolves "once data is written
 * and flushed to disk". The probe measures which one this version does.
 */
import { open } from "lmdb";

export default {
  name: "lmdb",
  driver: "lmdb-js defaults",
  documented: "lmdb-js defaults (overlappingSync on Linux): writes batched per event turn into one transaction; the fsync overlaps later transactions; db.flushed resolves when durable; multi-process safe",
  /** @param {string} dir */
  async open(dir) {
    const db = open({ path: dir });
    return {
      put: (k, v) => db.put(k, v),
      get: async (k) => db.get(k),
      bulk: (entries) => db.transaction(() => { for (const [k, v] of entries) db.put(k, v); }),
      async keys() {
        const out = new Set();
        for (const k of db.getKeys()) out.add(k);
        return out;
      },
      close: () => db.close(),
      extra: () => ({}),
      async table() { return { missing: "not run (W7 compares txtdb with SQLite)" }; },
    };
  },
};
