/**
 * One simulated machine: an emulated DIMM, daxfs mounted on it, and simulated processes. This is
 * the system-call surface the workload language, the xfs_io-style tool and the node process drive.
 *
 * Every call runs as an operation: its events carry its op id (the seq of its first event), it ends
 * with an Op event (name, arguments, result, errno or signal, the inode's size after), and it
 * returns a result instead of throwing for operating errors (errno) and signals. A fatal signal
 * kills the simulated process, as Linux's default action does.
 *
 * Power loss drops everything volatile (cache, page tables, processes, open files, page cache, the
 * running transaction), applies the DIMM's power-loss decision, and remounts with recovery; the
 * Mount event records the recovery, fsck's verdict and the media hash.
 */
import type { FaultOutcome, Persistence, PowerLossEvent, PowerLossPolicy } from "../proto/index.js";
import { Dimm } from "./dimm/dimm.js";
import type { DimmOptions } from "./dimm/dimm.js";
import { CHUNK_BYTES } from "./dimm/geometry.js";
import type { EventLog } from "./events/event_log.js";
import type { Errno, Signal } from "./fs/errors.js";
import { FsError, SignalError } from "./fs/errors.js";
import { FileData } from "./fs/file_data.js";
import { DaxFs, DEFAULT_MOUNT_OPTIONS, formatMountOptions } from "./fs/fs.js";
import type { FileStat, MountOptions } from "./fs/fs.js";
import { fsck } from "./fs/fsck.js";
import type { FsckReport } from "./fs/fsck.js";
import { isDir } from "./fs/layout.js";
import { MediaIo } from "./fs/media_io.js";
import { MemoryManager } from "./mm/mm.js";
import type { MmapRequest } from "./mm/mm.js";
import { Prng } from "./sim/prng.js";

export interface OpResult {
  ok: boolean;
  /** Return value: bytes, fd, pid, address; 0 when there is none. */
  value: number;
  errno?: Errno;
  signal?: Signal;
  message?: string;
  /** Bytes read or loaded. */
  data?: Buffer;
  /** Structured results (stat, readdir). */
  info?: unknown;
  faults: FaultOutcome[];
}

export interface OpenFlags {
  read: boolean;
  write: boolean;
  create: boolean;
  excl: boolean;
  trunc: boolean;
  append: boolean;
}

/** Thrown by an append listener to stop the running operation at an injected power loss. */
export class PowerLossInterrupt extends Error {
  override readonly name = "PowerLossInterrupt";
}

export class MachineStateError extends Error {
  override readonly name = "MachineStateError";
}

export interface MachineOptions {
  dimm: DimmOptions;
  mount?: MountOptions;
  /** Seeds mkfs's uuid. */
  seed?: bigint;
  /** mkfs parameters. */
  inodes?: number;
  journalBlocks?: number;
}

export class Machine {
  readonly dimm: Dimm;
  readonly io: MediaIo;
  fs!: DaxFs;
  data!: FileData;
  mm!: MemoryManager;
  mountOptions: MountOptions;
  lastMount: { recoveredTxns: number; orphansFreed: number; fsck: FsckReport } | undefined;
  /** Set when an operation was interrupted by an injected power loss that has not been applied yet. */
  private interrupted = false;

  private constructor(
    readonly log: EventLog,
    options: MachineOptions,
  ) {
    this.dimm = new Dimm(options.dimm, log);
    this.io = new MediaIo(this.dimm);
    this.mountOptions = options.mount ?? DEFAULT_MOUNT_OPTIONS;
  }

  /** A new machine with a freshly formatted, mounted filesystem. */
  static format(log: EventLog, options: MachineOptions): Machine {
    const machine = new Machine(log, options);
    const uuid = new Uint8Array(16);
    const prng = new Prng(options.seed ?? 0n).split("mkfs");
    for (let i = 0; i < 16; i++) uuid[i] = prng.below(256);
    DaxFs.mkfs(machine.io, { uuid, inodes: options.inodes, journalBlocks: options.journalBlocks });
    machine.mount(true);
    return machine;
  }

  /** A machine whose DIMM starts with `media` (an image), mounted with recovery. */
  static fromMedia(log: EventLog, options: MachineOptions, media: (chunk: number) => Uint8Array | undefined): Machine {
    const machine = new Machine(log, options);
    for (let c = 0; c < machine.dimm.state.chunkCount; c++) {
      const content = media(c);
      if (content !== undefined) machine.dimm.state.loadMedia(c, content);
    }
    machine.mount(false);
    return machine;
  }

  /** A machine rebuilt by folding its own logged events (the node restarting after a kill). */
  static replayed(log: EventLog, options: MachineOptions, apply: (dimm: Dimm) => void): Machine {
    const machine = new Machine(log, options);
    apply(machine.dimm);
    machine.mount(false);
    return machine;
  }

  get persistence(): Persistence {
    return this.dimm.persistence;
  }

  private mount(formatted: boolean): void {
    const { fs, report } = DaxFs.mount(this.io, this.mountOptions, { now: () => this.log.now() });
    this.fs = fs;
    this.data = new FileData(fs);
    this.mm = new MemoryManager(fs, this.data, this.log);
    fs.hooks = this.mm;
    this.mm.spawn(1);
    const check = this.fsck();
    this.lastMount = { ...report, fsck: check };
    this.log.append({
      kind: "mount",
      seq: 0,
      boot: 0,
      time: 0,
      options: formatMountOptions(this.mountOptions),
      recoveredTxns: report.recoveredTxns,
      fsckClean: check.clean,
      fsckProblems: check.problems.length,
      mediaSha256: this.dimm.mediaSha256(),
      formatted,
    });
  }

  /** fsck of the media as it is now (loads see the newest stores; after a sync that is the media). */
  fsck(): FsckReport {
    return fsck((addr, length) => this.dimm.load(addr, length), this.dimm.sizeBytes);
  }

  /** fsck of what is durable now: what a power loss under `strict` would leave. */
  fsckDurable(): FsckReport {
    return fsck((addr, length) => this.dimm.loadDurable(addr, length), this.dimm.sizeBytes);
  }

  /** Power loss now: volatile state is dropped, the DIMM decides, the filesystem remounts. */
  powerLoss(policy: PowerLossPolicy, seed: bigint, reason = "injected"): PowerLossEvent {
    this.mm?.reset();
    const event = this.dimm.powerLoss(policy, seed, reason);
    this.interrupted = false;
    this.mount(false);
    return event;
  }

  /** Clean unmount and mount again with (possibly new) options, like xfstests' cycle mount. */
  remount(options?: MountOptions): void {
    this.unmount();
    if (options !== undefined) this.mountOptions = options;
    this.mount(false);
  }

  /** Clean unmount (for saving an image). The machine cannot be used afterwards. */
  unmount(): void {
    this.checkUsable();
    this.syncEverything();
    for (const pid of [...this.mm.processes.keys()]) this.mm.exit(pid);
    this.fs.unmount();
  }

  /**
   * What sync(2) and a clean unmount do: write back every page dirtied through a mapping (CLWB),
   * every dirty page-cache page (nodax), commit the journal and fence.
   */
  private syncEverything(): void {
    for (const ino of this.mm.dirtyInodes()) {
      const inode = this.fs.inode(ino);
      if (inode.mode !== 0) this.data.sync(inode, 0, Number.MAX_SAFE_INTEGER, false);
    }
    this.data.writebackAll();
    this.fs.commit();
    this.io.fence("syscall");
  }

  /** The durable media of chunk c (undefined when it was never written). */
  mediaChunk(c: number): Buffer | undefined {
    if (this.dimm.state.mem[c] === undefined) return undefined;
    return this.dimm.loadDurable(c * CHUNK_BYTES, CHUNK_BYTES);
  }

  private checkUsable(): void {
    if (this.interrupted)
      throw new MachineStateError("an operation was interrupted by a power loss that has not been applied");
    if (!this.fs.isMounted) throw new MachineStateError("the filesystem is unmounted");
  }

  // -------------------------------------------------------------------------------------------
  // Operations

  /** Runs one operation: op id, Op event, errno and signal handling. */
  run(
    name: string,
    pid: number,
    args: Record<string, unknown>,
    body: () => Partial<OpResult> & { value?: number },
    inodeOf?: () => number,
  ): OpResult {
    this.checkUsable();
    const startSeq = this.log.nextSeq;
    this.io.ctx.pid = pid;
    this.io.ctx.opId = startSeq;
    this.mm.faultsTaken = [];
    let result: OpResult;
    try {
      const out = body();
      result = {
        ok: true,
        value: out.value ?? 0,
        faults: this.mm.faultsTaken,
        ...(out.data ? { data: out.data } : {}),
        ...(out.info !== undefined ? { info: out.info } : {}),
      };
    } catch (error) {
      if (error instanceof FsError) {
        result = { ok: false, value: -1, errno: error.errno, message: error.message, faults: this.mm.faultsTaken };
      } else if (error instanceof SignalError) {
        result = { ok: false, value: -1, signal: error.signal, message: error.message, faults: this.mm.faultsTaken };
        if (this.mm.processes.has(pid)) this.mm.exit(pid); // the default action of SIGBUS/SIGSEGV
      } else {
        if (error instanceof PowerLossInterrupt) this.interrupted = true;
        throw error;
      }
    }
    let inode = 0;
    let sizeAfter = 0;
    try {
      inode = inodeOf?.() ?? 0;
      sizeAfter = inode === 0 ? 0 : this.fs.inode(inode).size;
    } catch {
      inode = 0;
    }
    this.log.append({
      kind: "op",
      seq: 0,
      boot: 0,
      time: 0,
      startSeq,
      pid,
      name,
      argsJson: JSON.stringify(args, (_k, v: unknown) =>
        v instanceof Uint8Array ? `${v.length} bytes` : typeof v === "bigint" ? v.toString() : v,
      ),
      result: result.value,
      errno: result.errno ?? "",
      signal: result.signal ?? "",
      inode,
      sizeAfter,
    });
    return result;
  }

  private fdInode(pid: number, fd: number): () => number {
    return () => this.mm.fileOf(this.mm.process(pid), fd).ino;
  }

  open(pid: number, path: string, flags: OpenFlags, perms = 0o644): OpResult {
    let ino = 0;
    return this.run(
      "open",
      pid,
      { path, flags },
      () => {
        const proc = this.mm.process(pid);
        if (!flags.read && !flags.write) throw new FsError("EINVAL", "open: neither read nor write access requested");
        let inode;
        try {
          inode = this.fs.lookup(path);
          if (flags.create && flags.excl) throw new FsError("EEXIST", `${path}: exists (O_EXCL)`);
        } catch (error) {
          if (!(error instanceof FsError) || error.errno !== "ENOENT" || !flags.create) throw error;
          inode = this.fs.create(path, perms);
        }
        if (isDir(inode) && flags.write) throw new FsError("EISDIR", `${path}: is a directory`);
        if (flags.trunc && flags.write && inode.size > 0) this.data.truncate(inode, 0);
        ino = inode.ino;
        const fd = proc.nextFd();
        if (proc.fds.size >= 1024) throw new FsError("EMFILE", "too many open files (1024)");
        proc.fds.set(fd, {
          ino,
          readable: flags.read,
          writable: flags.write,
          append: flags.append,
          offset: 0,
          refs: 1,
        });
        this.fs.ref(ino);
        return { value: fd };
      },
      () => ino,
    );
  }

  close(pid: number, fd: number): OpResult {
    let ino = 0;
    return this.run(
      "close",
      pid,
      { fd },
      () => {
        const proc = this.mm.process(pid);
        ino = this.mm.fileOf(proc, fd).ino;
        this.mm.closeFd(proc, fd);
        return {};
      },
      () => ino,
    );
  }

  private file(
    pid: number,
    fd: number,
    need: "read" | "write",
  ): { ino: number; file: ReturnType<MemoryManager["fileOf"]> } {
    const file = this.mm.fileOf(this.mm.process(pid), fd);
    if (need === "read" && !file.readable) throw new FsError("EBADF", `fd ${fd} is not open for reading`);
    if (need === "write" && !file.writable) throw new FsError("EBADF", `fd ${fd} is not open for writing`);
    return { ino: file.ino, file };
  }

  /** read() at the file offset (advances it), or pread() at `offset`. */
  read(pid: number, fd: number, length: number, offset?: number): OpResult {
    return this.run(
      offset === undefined ? "read" : "pread",
      pid,
      { fd, length, offset },
      () => {
        const { ino, file } = this.file(pid, fd, "read");
        const inode = this.fs.inode(ino);
        if (isDir(inode)) throw new FsError("EISDIR", `fd ${fd} is a directory`);
        const data = this.data.read(inode, offset ?? file.offset, length);
        if (offset === undefined) file.offset += data.length;
        return { value: data.length, data };
      },
      this.fdInode(pid, fd),
    );
  }

  /** write() at the file offset (or EOF with O_APPEND), or pwrite() at `offset`. `data` is handed over. */
  write(pid: number, fd: number, data: Uint8Array, offset?: number): OpResult {
    return this.run(
      offset === undefined ? "write" : "pwrite",
      pid,
      { fd, length: data.length, offset },
      () => {
        const { ino, file } = this.file(pid, fd, "write");
        const inode = this.fs.inode(ino);
        const at = offset ?? (file.append ? inode.size : file.offset);
        const n = this.data.write(inode, at, data);
        if (offset === undefined) file.offset = at + n;
        return { value: n };
      },
      this.fdInode(pid, fd),
    );
  }

  lseek(pid: number, fd: number, offset: number): OpResult {
    return this.run(
      "lseek",
      pid,
      { fd, offset },
      () => {
        const file = this.mm.fileOf(this.mm.process(pid), fd); // any access mode may seek
        if (!Number.isSafeInteger(offset) || offset < 0) throw new FsError("EINVAL", `lseek offset ${offset}`);
        file.offset = offset;
        return { value: offset };
      },
      this.fdInode(pid, fd),
    );
  }

  ftruncate(pid: number, fd: number, size: number): OpResult {
    return this.run(
      "ftruncate",
      pid,
      { fd, size },
      () => {
        const file = this.mm.fileOf(this.mm.process(pid), fd);
        if (!file.writable) throw new FsError("EINVAL", `ftruncate: fd ${fd} is not open for writing`); // as Linux, not EBADF
        const { ino } = file;
        this.data.truncate(this.fs.inode(ino), size);
        return {};
      },
      this.fdInode(pid, fd),
    );
  }

  fallocate(
    pid: number,
    fd: number,
    offset: number,
    length: number,
    mode: { keepSize?: boolean; punchHole?: boolean; zeroRange?: boolean } = {},
  ): OpResult {
    const name = mode.punchHole ? "punch" : mode.zeroRange ? "zero" : "fallocate";
    return this.run(
      name,
      pid,
      { fd, offset, length, ...mode },
      () => {
        const { ino } = this.file(pid, fd, "write");
        const inode = this.fs.inode(ino);
        if (mode.punchHole) this.data.punchHole(inode, offset, length);
        else if (mode.zeroRange) this.data.zeroRange(inode, offset, length, mode.keepSize ?? false);
        else this.data.fallocate(inode, offset, length, mode.keepSize ?? false);
        return {};
      },
      this.fdInode(pid, fd),
    );
  }

  fsync(pid: number, fd: number, datasync = false): OpResult {
    return this.run(
      datasync ? "fdatasync" : "fsync",
      pid,
      { fd },
      () => {
        const file = this.mm.fileOf(this.mm.process(pid), fd);
        this.data.sync(this.fs.inode(file.ino), 0, Number.MAX_SAFE_INTEGER, datasync);
        return {};
      },
      this.fdInode(pid, fd),
    );
  }

  /** sync(): commits everything and fences. */
  sync(pid: number): OpResult {
    return this.run("sync", pid, {}, () => {
      this.mm.process(pid);
      this.syncEverything();
      return {};
    });
  }

  unlink(pid: number, path: string): OpResult {
    return this.run("unlink", pid, { path }, () => {
      this.mm.process(pid);
      this.fs.unlink(path);
      return {};
    });
  }

  rename(pid: number, from: string, to: string): OpResult {
    return this.run("rename", pid, { from, to }, () => {
      this.mm.process(pid);
      this.fs.rename(from, to);
      return {};
    });
  }

  mkdir(pid: number, path: string): OpResult {
    let ino = 0;
    return this.run(
      "mkdir",
      pid,
      { path },
      () => {
        this.mm.process(pid);
        ino = this.fs.mkdir(path).ino;
        return {};
      },
      () => ino,
    );
  }

  rmdir(pid: number, path: string): OpResult {
    return this.run("rmdir", pid, { path }, () => {
      this.mm.process(pid);
      this.fs.rmdir(path);
      return {};
    });
  }

  readdir(pid: number, path: string): OpResult {
    return this.run("readdir", pid, { path }, () => {
      this.mm.process(pid);
      const entries = this.fs.readdir(path);
      return { value: entries.length, info: entries };
    });
  }

  stat(pid: number, target: { path: string } | { fd: number }): OpResult {
    let ino = 0;
    return this.run(
      "stat",
      pid,
      target,
      () => {
        const proc = this.mm.process(pid);
        const inode =
          "path" in target ? this.fs.lookup(target.path) : this.fs.inode(this.mm.fileOf(proc, target.fd).ino);
        ino = inode.ino;
        const st: FileStat = this.fs.stat(inode);
        return { value: st.size, info: st };
      },
      () => ino,
    );
  }

  mmap(pid: number, req: MmapRequest): OpResult {
    return this.run("mmap", pid, { ...req }, () => ({ value: this.mm.mmap(pid, req) }), this.fdInode(pid, req.fd));
  }

  munmap(pid: number, addr: number, length: number): OpResult {
    return this.run("munmap", pid, { addr, length }, () => {
      this.mm.munmap(pid, addr, length);
      return {};
    });
  }

  mremap(pid: number, addr: number, newLength: number, mayMove: boolean): OpResult {
    return this.run("mremap", pid, { addr, newLength, mayMove }, () => ({
      value: this.mm.mremap(pid, addr, newLength, mayMove),
    }));
  }

  msync(
    pid: number,
    addr: number,
    length: number,
    flags: { sync?: boolean; async?: boolean; invalidate?: boolean },
  ): OpResult {
    return this.run("msync", pid, { addr, length, ...flags }, () => {
      this.mm.msync(pid, addr, length, {
        sync: flags.sync ?? false,
        async: flags.async ?? false,
        invalidate: flags.invalidate ?? false,
      });
      return {};
    });
  }

  load(pid: number, addr: number, length: number): OpResult {
    return this.run("load", pid, { addr, length }, () => {
      const data = this.mm.load(pid, addr, length);
      return { value: data.length, data };
    });
  }

  /** A user store through a mapping; `data` is handed over. */
  store(pid: number, addr: number, data: Uint8Array, nonTemporal = false): OpResult {
    return this.run(nonTemporal ? "ntstore" : "store", pid, { addr, length: data.length }, () => {
      this.mm.store(pid, addr, data, nonTemporal);
      return { value: data.length };
    });
  }

  flush(pid: number, addr: number, length: number, kind: "clwb" | "clflushopt" | "clflush"): OpResult {
    return this.run(kind, pid, { addr, length }, () => {
      this.mm.flush(pid, addr, length, kind);
      return {};
    });
  }

  sfence(pid: number): OpResult {
    return this.run("sfence", pid, {}, () => {
      this.mm.sfence(pid);
      return {};
    });
  }

  fork(pid: number): OpResult {
    return this.run("fork", pid, {}, () => ({ value: this.mm.fork(pid).pid }));
  }

  exit(pid: number): OpResult {
    return this.run("exit", pid, {}, () => {
      this.mm.exit(pid);
      return {};
    });
  }

  /** Starts a new process (pid chosen by the machine unless given). */
  spawn(pid?: number): OpResult {
    return this.run("spawn", pid ?? 0, { pid }, () => ({ value: this.mm.spawn(pid).pid }));
  }
}
