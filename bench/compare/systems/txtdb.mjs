/**
 * txtdb adapter: the repo's build (../../../dist/src/mod.js; `npx tsc -p .` at
 * the repo root makes it), default options (durability "sync": a commit's
 * promise resolves after the fdatasync of the batch that holds it).
 *
 * W7 uses the table layer of issue 6 (`db.table`). Until that layer is merged
 * the adapter reports "n/a (table layer missing)" instead of a figure.
 */
import { open } from "../../../dist/src/mod.js";

const ns = "docs";

export default {
  name: "txtdb",
  driver: "txtdb (dist)",
  documented: "fdatasync per commit batch (group commit), before the commit promise resolves; multi-process safe (byte-range locks)",
  /** @param {string} dir @param {{ cacheBytes?: number }} [opts] */
  async open(dir, opts = {}) {
    const db = await open(dir, opts.cacheBytes === undefined ? {} : { cacheBytes: opts.cacheBytes });
    return {
      put: (k, v) => db.put(ns, k, v),
      get: (k) => db.get(ns, k),
      bulk: (entries) => db.transaction(async (tx) => { for (const [k, v] of entries) await tx.put(ns, k, v); }),
      async *scan() {
        const tx = await db.begin({ readOnly: true });
        try { for await (const [k, v] of tx.scan(ns)) yield [k, v]; } finally { await tx.rollback(); }
      },
      async keys() {
        const out = new Set();
        for await (const [k] of this.scan()) out.add(k);
        return out;
      },
      close: () => db.close(),
      extra: () => { const s = db.stats(); return { datasyncsPerCommit: s.datasyncsPerCommit }; },
      async table() {
        if (typeof db.table !== "function") return { missing: "n/a (table layer missing)" };
        const t = await db.table("users", { key: "id", indexes: { byEmail: { fields: "email", unique: true }, byTenantAge: { fields: ["tenant", "age"] } } });
        return {
          insert: (row) => t.insert(row),
          byEmail: (email) => t.index("byEmail").get(email),
          bulk: (rows) => db.transaction(async (tx) => {
            if (typeof tx.table !== "function") throw new Error("tx.table missing");
            const tt = tx.table(t);
            for (const r of rows) await tt.insert(r);
          }),
        };
      },
    };
  },
};
