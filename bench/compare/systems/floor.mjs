/**
 * The physical floor: append 256 bytes and fdatasync, in a loop, with node:fs
 * (the same calls in Node, Bun and Deno). No database does a durable commit
 * faster than this on the same disk.
 */
import fs from "node:fs";

export default {
  name: "floor",
  driver: "node:fs writeSync(256 B) + fdatasyncSync",
  documented: "fdatasync per append (the disk's floor, not a database)",
  /** @param {string} dir */
  async open(dir) {
    const fd = fs.openSync(`${dir}/log`, "a");
    const rec = new Uint8Array(256).fill(0x61);
    rec[255] = 10;
    return {
      put: async () => { fs.writeSync(fd, rec); fs.fdatasyncSync(fd); },
      close: async () => { fs.closeSync(fd); },
      extra: () => ({}),
    };
  },
};
