/**
 * A FileIO wrapper that reports every sync point (datasync of a file, syncDir
 * of a directory) before and after it happens, so a test can take a crash
 * image of memoryIO() at each one (the same wrapper as in
 * test/recovery.test.ts, shared for the table-layer crash tests).
 */
import type { FileHandle, FileIO, FileStat, LockMode, LockOptions, LockScope, OpenOptions } from "../../src/mod.ts";

export interface SyncPoint {
  op: "datasync" | "syncDir";
  path: string;
  phase: "before" | "after";
}

class HookHandle implements FileHandle {
  readonly path: string;
  constructor(readonly h: FileHandle, readonly onSync: (p: SyncPoint) => void) {
    this.path = h.path;
  }
  read(position: number, length: number): Promise<Uint8Array> {
    return this.h.read(position, length);
  }
  readAll(): Promise<Uint8Array> {
    return this.h.readAll();
  }
  write(position: number, data: Uint8Array): Promise<void> {
    return this.h.write(position, data);
  }
  append(data: Uint8Array): Promise<number> {
    return this.h.append(data);
  }
  truncate(size: number): Promise<void> {
    return this.h.truncate(size);
  }
  size(): Promise<number> {
    return this.h.size();
  }
  async datasync(): Promise<void> {
    this.onSync({ op: "datasync", path: this.path, phase: "before" });
    await this.h.datasync();
    this.onSync({ op: "datasync", path: this.path, phase: "after" });
  }
  tryLock(start: number, length: number, mode: LockMode): boolean {
    return this.h.tryLock(start, length, mode);
  }
  lock(start: number, length: number, mode: LockMode, options?: LockOptions): Promise<void> {
    return this.h.lock(start, length, mode, options);
  }
  unlock(start: number, length: number): void {
    this.h.unlock(start, length);
  }
  testLock(start: number, length: number, mode: LockMode): LockMode | null {
    return this.h.testLock(start, length, mode);
  }
  close(): Promise<void> {
    return this.h.close();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

export class SyncHookIO implements FileIO {
  readonly name = "hook";
  readonly lockScope: LockScope;
  readonly logPaddingBytes: number | undefined;
  constructor(readonly io: FileIO, readonly onSync: (p: SyncPoint) => void) {
    this.lockScope = io.lockScope;
    this.logPaddingBytes = io.logPaddingBytes;
  }
  async open(p: string, options?: OpenOptions): Promise<FileHandle> {
    return new HookHandle(await this.io.open(p, options), this.onSync);
  }
  readFile(p: string): Promise<Uint8Array> {
    return this.io.readFile(p);
  }
  rename(from: string, to: string): Promise<void> {
    return this.io.rename(from, to);
  }
  unlink(p: string): Promise<void> {
    return this.io.unlink(p);
  }
  mkdir(p: string): Promise<void> {
    return this.io.mkdir(p);
  }
  rmdir(p: string): Promise<void> {
    return this.io.rmdir(p);
  }
  readdir(p: string): Promise<string[]> {
    return this.io.readdir(p);
  }
  stat(p: string): Promise<FileStat | undefined> {
    return this.io.stat(p);
  }
  async syncDir(p: string): Promise<void> {
    this.onSync({ op: "syncDir", path: p, phase: "before" });
    await this.io.syncDir(p);
    this.onSync({ op: "syncDir", path: p, phase: "after" });
  }
}
