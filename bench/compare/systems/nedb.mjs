/**
 * @seald-io/nedb 4: documents in memory, each write appended to the data file
 * (fs.appendFile, no fsync); loading compacts the file (temp + fsync + rename).
 * A process sees others' writes only if it reloads.
 */
import Datastore from "@seald-io/nedb";

export default {
  name: "nedb",
  driver: "@seald-io/nedb",
  documented: "no fsync on writes (append); fsync only when compacting; one process only",
  /** @param {string} dir */
  async open(dir) {
    const db = new Datastore({ filename: `${dir}/db.nedb` });
    await db.loadDatabaseAsync();
    return {
      put: async (k, v) => { await db.updateAsync({ _id: k }, { _id: k, ...v }, { upsert: true }); },
      get: async (k) => { const d = await db.findOneAsync({ _id: k }); return d ?? undefined; },
      bulk: async (entries) => { await db.insertAsync(entries.map(([k, v]) => ({ _id: k, ...v }))); },
      async keys() {
        const docs = await db.findAsync({}, { _id: 1 });
        return new Set(docs.map((d) => d._id));
      },
      close: async () => {}, // NeDB compacts on load, not on close
      extra: () => ({}),
      async table() { return { missing: "not run (W7 compares txtdb with SQLite)" }; },
    };
  },
};
