/**
 * The floor for a log that is written into space already allocated: the file
 * is first filled with zeros (64 MiB) and fdatasynced; then each "commit"
 * writes 256 bytes at the next offset and fdatasyncs. The file's size never
 * changes, so fdatasync need not commit inode metadata; SQLite's WAL, reused
 * from its start after each checkpoint, gets this. Shown next to the append
 * floor to say what preallocating log segments could buy.
 */
import fs from "node:fs";

const fileBytes = 64 << 20;

export default {
  name: "floor-overwrite",
  driver: "node:fs writeSync(256 B in place) + fdatasyncSync",
  documented: "fdatasync per write into preallocated space (not a database)",
  /** @param {string} dir */
  async open(dir) {
    const fd = fs.openSync(`${dir}/log`, "w+");
    const zeros = new Uint8Array(1 << 20);
    for (let off = 0; off < fileBytes; off += zeros.length) fs.writeSync(fd, zeros, 0, zeros.length, off);
    fs.fdatasyncSync(fd);
    const rec = new Uint8Array(256).fill(0x61);
    rec[255] = 10;
    let pos = 0;
    return {
      put: async () => {
        fs.writeSync(fd, rec, 0, rec.length, pos);
        fs.fdatasyncSync(fd);
        pos = (pos + rec.length) % fileBytes;
      },
      close: async () => { fs.closeSync(fd); },
      extra: () => ({}),
    };
  },
};
