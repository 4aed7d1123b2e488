/**
 * An xfs_io work-alike over a simulated Machine: the command subset xfstests' mmap, truncate, punch
 * and zero-range tests use, with xfs_io's syntax (getopt options, cvtnum numbers, "w"/"r"/"t"…
 * short names), its file and mapping tables, its iteration of -c commands over every open file, and
 * its output lines byte for byte; plus persistence extensions in the same style (clwb, clflushopt,
 * clflush, sfence, powerloss). See docs/io.md for the list and the known differences.
 *
 * It owns the interpreter state of one "xfs_io process": open files (fds of pid `pid`), mappings,
 * the current file and mapping, and the exit code. Invariant: every file and mapping in the tables
 * belongs to the live simulated process; when that process dies of a signal, the interpreter stops
 * and runs nothing more (the caller prints nothing else and exits 128 + signal number).
 */
import type { PowerLossPolicy } from "../../proto/index.js";
import { isPowerLossPolicy } from "../../proto/index.js";
import type { Errno, Signal } from "../fs/errors.js";
import type { Machine, OpenFlags, OpResult } from "../machine.js";
import type { FileStat } from "../fs/fs.js";
import { STRERROR, ctime, getopt, strtoul } from "./c_lib.js";
import type { GetoptResult } from "./c_lib.js";
import { PAGE_BYTES } from "../dimm/geometry.js";
import { FS_BLOCK_BYTES, cvtnum, dumpBuffer, reportIoTimes, timeval } from "./xfs_io_format.js";

/** Exit statuses a shell reports for a process killed by these signals (128 + signal number). */
export const SIGNAL_EXIT_STATUS: Readonly<Record<Signal, number>> = { SIGBUS: 135, SIGSEGV: 139 };
/** What the shell prints on stderr when a process dies of these signals. */
export const SIGNAL_MESSAGE: Readonly<Record<Signal, string>> = { SIGBUS: "Bus error", SIGSEGV: "Segmentation fault" };

/** Largest pwrite/pread buffer (-b): bounds the memory one command uses. */
export const IO_BUFFER_BYTES_MAX = 256 << 20;
/** Open files and mappings the tables hold. */
const TABLE_ENTRIES_MAX = 1024;

export interface OpenOptions {
  readOnly: boolean;
  create: boolean;
  trunc: boolean;
  append: boolean;
  sync: boolean;
  direct: boolean;
}

export const DEFAULT_OPEN_OPTIONS: Readonly<OpenOptions> = Object.freeze({
  readOnly: false,
  create: false,
  trunc: false,
  append: false,
  sync: false,
  direct: false,
});

interface FileEntry {
  name: string;
  fd: number;
  flags: OpenOptions;
}

interface MapEntry {
  addr: number;
  length: number;
  offset: number;
  name: string;
  prot: { read: boolean; write: boolean; exec: boolean };
  sync: boolean;
}

interface CommandSpec {
  name: string;
  alt?: string;
  argmin: number;
  /** -1: unbounded. */
  argmax: number;
  nofileOk: boolean;
  nomapOk: boolean;
  oneshot: boolean;
  args: string;
  oneline: string;
  /** Returns non-zero to stop processing further commands (quit). */
  run: (argv: string[]) => number;
}

export interface XfsIoOptions {
  machine: Machine;
  /** Standard output and standard error of the "process". */
  out: (text: string) => void;
  err: (text: string) => void;
  /** Simulated time in nanoseconds (the rate lines are computed from it). */
  nowNs: () => number;
  progname?: string;
  /** Seed of `powerloss` when -s is not given. */
  powerLossSeed?: bigint;
}

/** Internal: unwinds the interpreter when the simulated process dies. */
class ProcessKilled extends Error {
  override readonly name = "ProcessKilled";
  constructor(readonly signal: Signal) {
    super(`killed by ${signal}`);
  }
}

export class XfsIo {
  readonly pid = 1;
  private readonly machine: Machine;
  private readonly out: (text: string) => void;
  private readonly err: (text: string) => void;
  private readonly nowNs: () => number;
  private readonly powerLossSeed: bigint;
  readonly progname: string;
  private files: FileEntry[] = [];
  private fileIndex = -1;
  private maps: MapEntry[] = [];
  private mapIndex = -1;
  private readonly commands: CommandSpec[];
  /** xfs_io's exitcode: 1 once a command failed. */
  exitCode = 0;
  /** Set when the process died; nothing runs afterwards. */
  killedBy: Signal | undefined;

  constructor(options: XfsIoOptions) {
    this.machine = options.machine;
    this.out = options.out;
    this.err = options.err;
    this.nowNs = options.nowNs;
    this.powerLossSeed = options.powerLossSeed ?? 0n;
    this.progname = options.progname ?? "xfs_io";
    this.commands = this.commandTable();
  }

  /** The exit status of the invocation: 128 + signal if the process died, else the exit code. */
  get status(): number {
    return this.killedBy !== undefined ? SIGNAL_EXIT_STATUS[this.killedBy] : this.exitCode;
  }

  private get file(): FileEntry | undefined {
    return this.files[this.fileIndex];
  }

  private get mapping(): MapEntry | undefined {
    return this.maps[this.mapIndex];
  }

  // -------------------------------------------------------------------------------------------
  // Start-up and the command loop

  /** Opens the files named on the command line; false (after perror) if one cannot be opened. */
  openInitial(paths: readonly string[], flags: OpenOptions, mode: number): boolean {
    for (const path of paths) {
      const entry = this.openFile(path, flags, mode);
      if (entry === undefined) return false;
      this.addFile(entry);
    }
    return true;
  }

  /** Runs -c commands in order (xfs_io's command_loop). Stops at quit or when the process dies. */
  runCommands(lines: readonly string[]): void {
    for (const line of lines) {
      if (this.killedBy !== undefined) return;
      try {
        if (this.processInput(line) !== 0) return;
      } catch (error) {
        if (!(error instanceof ProcessKilled)) throw error;
        this.killedBy = error.signal;
        this.err(`${SIGNAL_MESSAGE[error.signal]}\n`);
        return;
      }
    }
  }

  private processInput(line: string): number {
    const argv = line.split(" ").filter((word) => word !== "");
    if (argv.length === 0) return 0;
    const spec = this.commands.find((c) => c.name === argv[0] || c.alt === argv[0]);
    if (spec === undefined) {
      this.err(`command "${argv[0]}" not found\n`);
      return 0;
    }
    if (spec.oneshot) return this.command(spec, argv);
    // Like xfs_io, a command that is not one-shot runs once per open file, each in turn current.
    let status = 0;
    for (let i = 0; i < this.files.length && status === 0; i++) {
      this.fileIndex = i;
      status = this.command(spec, argv);
    }
    return status;
  }

  private command(spec: CommandSpec, argv: string[]): number {
    const n = argv.length - 1;
    if (n < spec.argmin || (spec.argmax !== -1 && n > spec.argmax)) {
      const expected =
        spec.argmax === -1
          ? `expected at least ${spec.argmin} arguments`
          : spec.argmin === spec.argmax
            ? `expected ${spec.argmin} arguments`
            : `expected between ${spec.argmin} and ${spec.argmax} arguments`;
      this.err(`bad argument count ${n} to ${argv[0]}, ${expected}\n`);
      return 0;
    }
    if (this.file === undefined && !spec.nofileOk) {
      this.err("no files are open, try 'help open'\n");
      return 0;
    }
    if (this.mapping === undefined && !spec.nomapOk) {
      this.err("no mapped regions, try 'help mmap'\n");
      return 0;
    }
    return spec.run(argv);
  }

  private usage(spec: CommandSpec): number {
    this.out(`${spec.name} ${spec.args} -- ${spec.oneline}\n`);
    return 0;
  }

  // -------------------------------------------------------------------------------------------
  // Helpers

  /** The result's signal kills the process; an errno is reported as perror(what) would. */
  private ok(result: OpResult, what: string): boolean {
    if (result.signal !== undefined) throw new ProcessKilled(result.signal);
    if (result.ok) return true;
    this.perror(what, result.errno);
    return false;
  }

  private perror(what: string, errno: Errno | undefined): void {
    this.err(`${what}: ${errno === undefined ? "Unknown error" : STRERROR[errno]}\n`);
    this.exitCode = 1;
  }

  /** A number argument; prints xfs_io's complaint and returns undefined when it is not one. */
  private number(text: string, complaint: string): number | undefined {
    const value = cvtnum(text);
    if (value >= 0) return value;
    this.out(`non-numeric ${complaint} -- ${text}\n`);
    this.exitCode = 1;
    return undefined;
  }

  private offsetLength(offsetText: string, lengthText: string): { offset: number; length: number } | undefined {
    const offset = this.number(offsetText, "offset argument");
    if (offset === undefined) return undefined;
    const length = this.number(lengthText, "length argument");
    if (length === undefined) return undefined;
    return { offset, length };
  }

  private elapsed(startNs: number): ReturnType<typeof timeval> {
    return timeval(this.nowNs() - startNs);
  }

  private machinePath(name: string): string {
    return name.startsWith("/") ? name : `/${name}`;
  }

  private openFile(name: string, flags: OpenOptions, mode: number): FileEntry | undefined {
    const request: OpenFlags = {
      read: true,
      write: !flags.readOnly,
      create: flags.create,
      excl: false,
      trunc: flags.trunc,
      append: flags.append,
    };
    let result = this.machine.open(this.pid, this.machinePath(name), request, mode);
    let effective = flags;
    if (!result.ok && result.errno === "EISDIR" && !flags.readOnly) {
      // xfs_io retries a directory read-only.
      effective = { ...flags, readOnly: true };
      result = this.machine.open(this.pid, this.machinePath(name), { ...request, write: false }, mode);
    }
    if (!this.ok(result, name)) return undefined;
    return { name, fd: result.value, flags: effective };
  }

  private addFile(entry: FileEntry): void {
    if (this.files.length >= TABLE_ENTRIES_MAX) throw new Error(`more than ${TABLE_ENTRIES_MAX} open files`);
    this.files.push(entry);
    this.fileIndex = this.files.length - 1;
  }

  /** check_mapping_range, including xfs_io's own comparison of relative + length. */
  private mappingRange(offset: number, length: number, pageAlign: boolean): number | undefined {
    const m = this.mapping!;
    let complaint: string | undefined;
    const relative = offset - m.offset;
    if (offset < m.offset) complaint = `offset (${offset}) is before start of mapping (${m.offset})`;
    else if (relative > m.length) complaint = `offset (${relative}) is beyond end of mapping (${m.offset})`;
    else if (relative + length > m.offset + m.length)
      complaint = `range (${offset}:${relative}) is beyond mapping (${m.offset}:${m.length})`;
    else if (pageAlign && (m.addr + relative) % PAGE_BYTES !== 0)
      complaint = `offset address (0x${(m.addr + relative).toString(16)}) is not page aligned`;
    if (complaint === undefined) return m.addr + relative;
    this.out(`${complaint}\n`);
    this.exitCode = 1;
    return undefined;
  }

  /**
   * The [off len] operands of mread/mwrite/msync/clwb (none means the whole mapping), checked
   * against the current mapping: the range and its address, or undefined once the usage line or
   * the complaint is printed.
   */
  private mappedRange(
    operands: string[],
    spec: CommandSpec,
    pageAlign: boolean,
  ): { offset: number; length: number; addr: number } | undefined {
    const m = this.mapping!;
    if (operands.length !== 0 && operands.length !== 2) {
      this.usage(spec);
      return undefined;
    }
    const range =
      operands.length === 0 ? { offset: m.offset, length: m.length } : this.offsetLength(operands[0]!, operands[1]!);
    if (range === undefined) return undefined;
    const addr = this.mappingRange(range.offset, range.length, pageAlign);
    return addr === undefined ? undefined : { ...range, addr };
  }

  /** getopt; on a bad option, its complaint and the command's usage line, and undefined. */
  private getopt(argv: string[], optstring: string, spec: CommandSpec): GetoptResult | undefined {
    const g = getopt(argv, optstring);
    if (g.error === undefined) return g;
    this.err(`${g.error}\n`);
    this.usage(spec);
    return undefined;
  }

  /** -S seed of pwrite/mwrite: strtoul, of which only the low byte is used (memset's fill). */
  private seedByte(arg: string): number | undefined {
    const parsed = strtoul(arg);
    if (parsed.consumed === 0) {
      this.out(`non-numeric seed -- ${arg}\n`);
      this.exitCode = 1;
      return undefined;
    }
    return Number(parsed.value & 0xffn);
  }

  private listFiles(): void {
    this.files.forEach((f, i) => {
      const b = i === this.fileIndex;
      const flags = `foreign,${f.flags.sync ? "sync" : "non-sync"},${f.flags.direct ? "direct" : "non-direct"},${f.flags.readOnly ? "read-only" : "read-write"}${f.flags.append ? ",append-only" : ""}`;
      this.out(`${b ? "[" : " "}${String(i).padStart(3, "0")}${b ? "]" : " "} ${f.name.padEnd(14)} (${flags})\n`);
    });
  }

  private listMappings(): void {
    this.maps.forEach((m, i) => {
      const b = i === this.mapIndex;
      const prot = `${m.prot.read ? "r" : "-"}${m.prot.write ? "w" : "-"}${m.prot.exec ? "x" : "-"}${m.sync ? " S" : ""}`;
      this.out(
        `${b ? "[" : " "}${String(i).padStart(3, "0")}${b ? "]" : " "} 0x${m.addr.toString(16)} - 0x${(m.addr + m.length).toString(16)} ${prot}  ${m.name.padStart(14)} (${m.offset} : ${m.length})\n`,
      );
    });
  }

  // -------------------------------------------------------------------------------------------
  // The command table

  private commandTable(): CommandSpec[] {
    const io = { nofileOk: false, nomapOk: true, oneshot: false };
    const mapped = { nofileOk: true, nomapOk: false, oneshot: false };
    const anywhere = { nofileOk: true, nomapOk: true, oneshot: true };
    const table: CommandSpec[] = [
      {
        name: "open",
        alt: "o",
        argmin: 0,
        argmax: -1,
        ...anywhere,
        args: "[-acdfrst] [-m mode] [path]",
        oneline: "open the file specified by path",
        run: (a) => this.openCommand(a),
      },
      {
        name: "close",
        alt: "c",
        argmin: 0,
        argmax: 0,
        ...io,
        oneshot: true,
        args: "",
        oneline: "close the current open file",
        run: () => this.closeCommand(),
      },
      {
        name: "pwrite",
        alt: "w",
        argmin: 2,
        argmax: -1,
        ...io,
        args: "[-b bs] [-S seed] [-wW] [-qC] off len",
        oneline: "writes a number of bytes at a specified offset",
        run: (a) => this.pwrite(a),
      },
      {
        name: "pread",
        alt: "r",
        argmin: 2,
        argmax: -1,
        ...io,
        args: "[-b bs] [-v] [-qC] off len",
        oneline: "reads a number of bytes at a specified offset",
        run: (a) => this.pread(a),
      },
      {
        name: "mmap",
        alt: "mm",
        argmin: 0,
        argmax: -1,
        ...anywhere,
        args: "[N] | [-rwxS] [-s size] [off len]",
        oneline: "mmap a range in the current file, show mappings",
        run: (a) => this.mmap(a),
      },
      {
        name: "mread",
        alt: "mr",
        argmin: 0,
        argmax: -1,
        ...mapped,
        args: "[-f|-v] [-r] [off len]",
        oneline: "reads data from a region in the current memory mapping",
        run: (a) => this.mread(a),
      },
      {
        name: "mwrite",
        alt: "mw",
        argmin: 0,
        argmax: -1,
        ...mapped,
        args: "[-r] [-S seed] [off len]",
        oneline: "writes data into a region in the current memory mapping",
        run: (a) => this.mwrite(a),
      },
      {
        name: "msync",
        alt: "ms",
        argmin: 0,
        argmax: -1,
        ...mapped,
        args: "[-ais] [off len]",
        oneline: "flush a region in the current memory mapping",
        run: (a) => this.msync(a),
      },
      {
        name: "munmap",
        alt: "mu",
        argmin: 0,
        argmax: 0,
        ...mapped,
        args: "",
        oneline: "unmaps the current memory mapping",
        run: () => this.munmap(),
      },
      {
        name: "mremap",
        alt: "mrm",
        argmin: 1,
        argmax: 3,
        ...mapped,
        args: "[-m] newsize",
        oneline: "alters the size of the current memory mapping",
        run: (a) => this.mremap(a),
      },
      {
        name: "truncate",
        alt: "t",
        argmin: 1,
        argmax: 1,
        ...io,
        args: "off",
        oneline: "truncates the current file at the given offset",
        run: (a) => this.truncate(a),
      },
      {
        name: "falloc",
        argmin: 2,
        argmax: -1,
        ...io,
        args: "[-k] [-p] off len",
        oneline: "allocates space associated with part of a file via fallocate",
        run: (a) => this.falloc(a),
      },
      {
        name: "fpunch",
        argmin: 2,
        argmax: 2,
        ...io,
        args: "off len",
        oneline: "de-allocates space associated with part of a file via fallocate",
        run: (a) => this.fpunch(a),
      },
      {
        name: "fzero",
        argmin: 2,
        argmax: 3,
        ...io,
        args: "[-k] off len",
        oneline: "zeroes space and eliminates holes by preallocating",
        run: (a) => this.fzero(a),
      },
      {
        name: "fsync",
        alt: "s",
        argmin: 0,
        argmax: 0,
        ...io,
        args: "",
        oneline: "calls fsync(2) to flush all in-core file state to disk",
        run: () => this.fsync(false),
      },
      {
        name: "fdatasync",
        alt: "ds",
        argmin: 0,
        argmax: 0,
        ...io,
        args: "",
        oneline: "calls fdatasync(2) to flush the files in-core data to disk",
        run: () => this.fsync(true),
      },
      {
        name: "stat",
        argmin: 0,
        argmax: 1,
        ...io,
        args: "[-v|-r]",
        oneline: "statistics on the currently open file",
        run: (a) => this.stat(a),
      },
      {
        name: "quit",
        alt: "q",
        argmin: 0,
        argmax: 0,
        ...anywhere,
        args: "",
        oneline: "exit the program",
        run: () => 1,
      },
      // daxsim extensions: user-space persistence instructions on the current mapping, and power loss.
      ...(["clwb", "clflushopt", "clflush"] as const).map((kind) => ({
        name: kind,
        argmin: 0,
        argmax: 2,
        ...mapped,
        oneshot: true,
        args: "[off len]",
        oneline: `${kind} every cache line of a range of the current mapping`,
        run: (a: string[]) => this.flushCommand(a, kind),
      })),
      {
        name: "sfence",
        argmin: 0,
        argmax: 0,
        ...anywhere,
        args: "",
        oneline: "store fence: flushed lines and non-temporal stores become durable",
        run: () => this.sfence(),
      },
      {
        name: "powerloss",
        argmin: 0,
        argmax: 4,
        ...anywhere,
        args: "[-p strict|random|torn|eadr-like] [-s seed]",
        oneline: "lose power, remount with recovery, reopen the files",
        run: (a) => this.powerloss(a),
      },
    ];
    return table;
  }

  private spec(name: string): CommandSpec {
    const spec = this.commands.find((c) => c.name === name);
    if (spec === undefined) throw new Error(`no command ${name}`);
    return spec;
  }

  // -------------------------------------------------------------------------------------------
  // Files

  private openCommand(argv: string[]): number {
    if (argv.length === 1) {
      if (this.file !== undefined) return this.stat(["stat"]);
      this.err("no files are open, try 'help open'\n");
      return 0;
    }
    const g = this.getopt(argv, "acdfm:rst", this.spec("open"));
    if (g === undefined) return 0;
    const flags: OpenOptions = { ...DEFAULT_OPEN_OPTIONS };
    let mode = 0o600;
    for (const { opt, arg } of g.options) {
      if (opt === "a") flags.append = true;
      else if (opt === "c" || opt === "f") flags.create = true;
      else if (opt === "d") flags.direct = true;
      else if (opt === "r") flags.readOnly = true;
      else if (opt === "s") flags.sync = true;
      else if (opt === "t") flags.trunc = true;
      else if (opt === "m") {
        const parsed = strtoul(arg!);
        if (parsed.consumed === 0) {
          this.out(`non-numeric mode -- ${arg}\n`);
          return 0;
        }
        mode = Number(parsed.value & 0o7777n);
      }
    }
    if (g.operands.length !== 1) return this.usage(this.spec("open"));
    const entry = this.openFile(g.operands[0]!, flags, mode);
    if (entry !== undefined) this.addFile(entry);
    return 0;
  }

  private closeCommand(): number {
    const file = this.file!;
    if (!this.ok(this.machine.close(this.pid, file.fd), "close")) return 0;
    this.files.splice(this.fileIndex, 1);
    if (this.fileIndex === this.files.length) this.fileIndex--;
    this.listFiles();
    return 0;
  }

  private stat(argv: string[]): number {
    const g = this.getopt(argv, "rv", this.spec("stat"));
    if (g === undefined) return 0;
    const raw = g.options.some((o) => o.opt === "r");
    const verbose = g.options.some((o) => o.opt === "v");
    if (raw && verbose) return this.usage(this.spec("stat"));
    const file = this.file!;
    const result = this.machine.stat(this.pid, { fd: file.fd });
    if (!this.ok(result, "fstat")) return 0;
    const st = result.info as FileStat;
    const seconds = (ns: number): number => Math.floor(ns / 1e9);
    if (raw) {
      const lines = [
        `stat.blksize = ${FS_BLOCK_BYTES}`,
        `stat.nlink = ${st.nlink}`,
        "stat.uid = 0",
        "stat.gid = 0",
        `stat.mode: 0${st.mode.toString(8)}`,
        `stat.ino = ${st.ino}`,
        `stat.size = ${st.size}`,
        `stat.blocks = ${st.blocks}`,
        ...(["atime", "ctime", "mtime"] as const).flatMap((t) => [
          `stat.${t}.tv_sec = ${seconds(st[t])}`,
          `stat.${t}.tv_nsec = ${st[t] % 1e9}`,
        ]),
        "stat.rdev_major = 0",
        "stat.rdev_minor = 0",
        "stat.dev_major = 0",
        "stat.dev_minor = 0",
      ];
      this.out(`${lines.join("\n")}\n`);
      return 0;
    }
    const f = file.flags;
    this.out(`fd.path = "${file.name}"\n`);
    this.out(
      `fd.flags = ${f.sync ? "sync" : "non-sync"},${f.direct ? "direct" : "non-direct"},${f.readOnly ? "read-only" : "read-write"}${f.append ? ",append-only" : ""}\n`,
    );
    this.out(`stat.ino = ${st.ino}\n`);
    this.out(`stat.type = ${st.type === "dir" ? "directory" : "regular file"}\n`);
    this.out(`stat.size = ${st.size}\n`);
    this.out(`stat.blocks = ${st.blocks}\n`);
    if (verbose) {
      this.out(`stat.atime = ${ctime(seconds(st.atime))}`);
      this.out(`stat.mtime = ${ctime(seconds(st.mtime))}`);
      this.out(`stat.ctime = ${ctime(seconds(st.ctime))}`);
    }
    return 0;
  }

  // -------------------------------------------------------------------------------------------
  // pwrite / pread

  private bufferSize(arg: string): number | undefined {
    const size = cvtnum(arg);
    if (size < 0) {
      this.out(`non-numeric bsize -- ${arg}\n`);
      this.exitCode = 1;
      return undefined;
    }
    if (size > IO_BUFFER_BYTES_MAX) {
      this.out(`bsize ${arg} is larger than daxsim io's limit of ${IO_BUFFER_BYTES_MAX} bytes\n`);
      this.exitCode = 1;
      return undefined;
    }
    return size;
  }

  private pwrite(argv: string[]): number {
    const spec = this.spec("pwrite");
    const g = this.getopt(argv, "b:CqS:wW", spec);
    if (g === undefined) return 0;
    let bsize = FS_BLOCK_BYTES;
    let seed = 0xcd;
    let compact = false;
    let quiet = false;
    let fdatasync = false;
    let fsync = false;
    for (const { opt, arg } of g.options) {
      if (opt === "b") {
        const size = this.bufferSize(arg!);
        if (size === undefined) return 0;
        bsize = size;
      } else if (opt === "S") {
        const byte = this.seedByte(arg!);
        if (byte === undefined) return 0;
        seed = byte;
      } else if (opt === "C") compact = true;
      else if (opt === "q") quiet = true;
      else if (opt === "w") fdatasync = true;
      else if (opt === "W") fsync = true;
    }
    if (g.operands.length !== 2) return this.usage(spec);
    const range = this.offsetLength(g.operands[0]!, g.operands[1]!);
    if (range === undefined) return 0;
    const file = this.file!;
    const start = this.nowNs();
    const chunk = Math.min(bsize, range.length);
    let total = 0;
    let ops = 0;
    let offset = range.offset;
    let count = range.length;
    // Bounded by count / chunk iterations: every pass writes > 0 bytes or stops.
    while (count >= 0) {
      const n = Math.min(count, chunk);
      const result = this.machine.write(this.pid, file.fd, Buffer.alloc(n, seed), offset);
      if (!this.ok(result, "pwrite")) return 0;
      if (result.value === 0) break;
      ops++;
      total += result.value;
      if (result.value < n) break;
      offset += result.value;
      count -= result.value;
      if (count === 0) break;
    }
    if (fsync && !this.ok(this.machine.fsync(this.pid, file.fd, false), "fsync")) return 0;
    if (fdatasync && !this.ok(this.machine.fsync(this.pid, file.fd, true), "fdatasync")) return 0;
    if (!quiet) this.out(reportIoTimes("wrote", this.elapsed(start), range.offset, range.length, total, ops, compact));
    return 0;
  }

  private pread(argv: string[]): number {
    const spec = this.spec("pread");
    const g = this.getopt(argv, "b:Cqv", spec);
    if (g === undefined) return 0;
    let bsize = FS_BLOCK_BYTES;
    let compact = false;
    let quiet = false;
    let verbose = false;
    for (const { opt, arg } of g.options) {
      if (opt === "b") {
        const size = this.bufferSize(arg!);
        if (size === undefined) return 0;
        bsize = size;
      } else if (opt === "C") compact = true;
      else if (opt === "q") quiet = true;
      else if (opt === "v") verbose = true;
    }
    if (g.operands.length !== 2) return this.usage(spec);
    const range = this.offsetLength(g.operands[0]!, g.operands[1]!);
    if (range === undefined) return 0;
    const file = this.file!;
    const start = this.nowNs();
    let total = 0;
    let ops = 0;
    let offset = range.offset;
    let count = range.length;
    while (count > 0) {
      const n = Math.min(count, bsize);
      const result = this.machine.read(this.pid, file.fd, n, offset);
      if (!this.ok(result, "pread")) return 0;
      if (result.value === 0) break;
      ops++;
      if (verbose) this.out(dumpBuffer(offset, result.data!));
      total += result.value;
      if (result.value < n) break;
      offset += result.value;
      count -= result.value;
    }
    if (!quiet) this.out(reportIoTimes("read", this.elapsed(start), range.offset, range.length, total, ops, compact));
    return 0;
  }

  // -------------------------------------------------------------------------------------------
  // Mappings

  private mmap(argv: string[]): number {
    const spec = this.spec("mmap");
    if (argv.length <= 2) {
      if (this.mapping === undefined) {
        this.err(
          this.file !== undefined ? "no mapped regions, try 'help mmap'\n" : "no files are open, try 'help open'\n",
        );
        return 0;
      }
      if (argv.length === 1) {
        this.listMappings();
        return 0;
      }
      const i = Number.parseInt(argv[1]!, 10) || 0; // atoi
      if (i < 0 || i >= this.maps.length) {
        this.out(`value ${i} is out of range (0-${this.maps.length})\n`);
      } else {
        this.mapIndex = i;
        this.listMappings();
      }
      return 0;
    }
    if (this.file === undefined) {
      this.err("no files are open, try 'help open'\n");
      return 0;
    }
    const g = this.getopt(argv, "rwxSs:", spec);
    if (g === undefined) return 0;
    const prot = { read: false, write: false, exec: false };
    let sync = false;
    for (const { opt } of g.options) {
      if (opt === "r") prot.read = true;
      else if (opt === "w") prot.write = true;
      else if (opt === "x") prot.exec = true;
      else if (opt === "S") sync = true;
      // -s size only reserves address space in xfs_io; the simulated address space needs no help.
    }
    if (!prot.read && !prot.write && !prot.exec) {
      prot.read = true;
      prot.write = true;
      prot.exec = true;
    }
    if (g.operands.length !== 2) return this.usage(spec);
    const range = this.offsetLength(g.operands[0]!, g.operands[1]!);
    if (range === undefined) return 0;
    const file = this.file;
    // PROT_EXEC implies PROT_READ on x86.
    const result = this.machine.mmap(this.pid, {
      fd: file.fd,
      offset: range.offset,
      length: range.length,
      read: prot.read || prot.exec,
      write: prot.write,
      shared: true,
      sync,
    });
    if (!this.ok(result, "mmap")) return 0;
    if (this.maps.length >= TABLE_ENTRIES_MAX) throw new Error(`more than ${TABLE_ENTRIES_MAX} mappings`);
    this.maps.push({ addr: result.value, length: range.length, offset: range.offset, name: file.name, prot, sync });
    this.mapIndex = this.maps.length - 1;
    return 0;
  }

  /**
   * mread: loads the range and, with -v/-f, dumps it in the chunks xfs_io uses: the first chunk is
   * length % 4096 bytes (4096 if that is 0), then 4096 each; with -r, backwards from the end, each
   * chunk's bytes reversed. A first chunk of exactly one byte is never dumped, nor is anything
   * after it (xfs_io's loop never sees its count match again).
   */
  private mread(argv: string[]): number {
    const spec = this.spec("mread");
    const g = this.getopt(argv, "frv", spec);
    if (g === undefined) return 0;
    let dump: 0 | 1 | 2 = 0;
    let reverse = false;
    for (const { opt } of g.options) {
      if (opt === "f") dump = 2;
      else if (opt === "v") dump = 1;
      else if (opt === "r") reverse = true;
    }
    const range = this.mappedRange(g.operands, spec, false);
    if (range === undefined) return 0;
    const start = range.addr;
    const m = this.mapping!;
    const relative = range.offset - m.offset;
    let printOffset = dump === 2 ? range.offset : relative;
    const first = range.length % PAGE_BYTES || PAGE_BYTES;
    const dumps = first !== 1;
    const chunks: Array<{ from: number; n: number }> = [];
    if (!reverse) {
      for (let from = 0, n = first; from < range.length; from += n, n = PAGE_BYTES)
        chunks.push({ from, n: Math.min(n, range.length - from) });
    } else {
      for (let end = range.length, n = first; end > 0; end -= n, n = PAGE_BYTES)
        chunks.push({ from: Math.max(0, end - n), n: Math.min(n, end) });
    }
    for (const { from, n } of chunks) {
      const result = this.machine.load(this.pid, start + from, n);
      if (!this.ok(result, "mread")) return 0;
      if (dump === 0 || !dumps) continue;
      if (!reverse) {
        this.out(dumpBuffer(printOffset + from, result.data!));
      } else {
        this.out(dumpBuffer(printOffset, Buffer.from(result.data!).reverse()));
        printOffset += n;
      }
    }
    return 0;
  }

  private mwrite(argv: string[]): number {
    const spec = this.spec("mwrite");
    const g = this.getopt(argv, "rS:", spec);
    if (g === undefined) return 0;
    let seed = 0x58; // 'X'
    let reverse = false;
    for (const { opt, arg } of g.options) {
      if (opt === "r") reverse = true;
      else if (opt === "S") {
        const byte = this.seedByte(arg!);
        if (byte === undefined) return 0;
        seed = byte;
      }
    }
    const range = this.mappedRange(g.operands, spec, false);
    if (range === undefined || range.length === 0) return 0;
    const start = range.addr;
    if (!reverse) {
      this.ok(this.machine.store(this.pid, start, Buffer.alloc(range.length, seed)), "mwrite");
      return 0;
    }
    // Backwards, one page piece at a time, so pages fault in the order xfs_io's loop touches them.
    for (let end = start + range.length; end > start;) {
      const from = Math.max(start, end % PAGE_BYTES === 0 ? end - PAGE_BYTES : end - (end % PAGE_BYTES));
      if (!this.ok(this.machine.store(this.pid, from, Buffer.alloc(end - from, seed)), "mwrite")) return 0;
      end = from;
    }
    return 0;
  }

  private msync(argv: string[]): number {
    const spec = this.spec("msync");
    const g = this.getopt(argv, "ais", spec);
    if (g === undefined) return 0;
    const flags = { async: false, invalidate: false, sync: false };
    for (const { opt } of g.options) {
      if (opt === "a") flags.async = true;
      else if (opt === "i") flags.invalidate = true;
      else if (opt === "s") flags.sync = true;
    }
    const range = this.mappedRange(g.operands, spec, true);
    if (range === undefined) return 0;
    this.ok(this.machine.msync(this.pid, range.addr, range.length, flags), "msync");
    return 0;
  }

  private munmap(): number {
    const m = this.mapping!;
    if (!this.ok(this.machine.munmap(this.pid, m.addr, m.length), "munmap")) return 0;
    this.maps.splice(this.mapIndex, 1);
    if (this.mapIndex === this.maps.length) this.mapIndex--;
    this.listMappings();
    return 0;
  }

  private mremap(argv: string[]): number {
    const spec = this.spec("mremap");
    const g = this.getopt(argv, "m", spec);
    if (g === undefined) return 0;
    const mayMove = g.options.length > 0;
    if (g.operands.length !== 1) return this.usage(spec);
    const length = this.number(g.operands[0]!, "offset argument"); // sic: xfs_io's message
    if (length === undefined) return 0;
    const m = this.mapping!;
    const result = this.machine.mremap(this.pid, m.addr, length, mayMove);
    if (!this.ok(result, "mremap")) return 0;
    m.addr = result.value;
    m.length = length;
    return 0;
  }

  // -------------------------------------------------------------------------------------------
  // Size and space

  private truncate(argv: string[]): number {
    const size = this.number(argv[1]!, "truncate argument");
    if (size === undefined) return 0;
    this.ok(this.machine.ftruncate(this.pid, this.file!.fd, size), "ftruncate");
    return 0;
  }

  private falloc(argv: string[]): number {
    const spec = this.spec("falloc");
    const g = this.getopt(argv, "kp", spec);
    if (g === undefined) {
      this.exitCode = 1;
      return 0;
    }
    let keepSize = false;
    let punchHole = false;
    for (const { opt } of g.options) {
      if (opt === "k") keepSize = true;
      else if (opt === "p") punchHole = true;
    }
    if (g.operands.length !== 2) {
      this.exitCode = 1;
      return this.usage(spec);
    }
    const range = this.offsetLength(g.operands[0]!, g.operands[1]!);
    if (range === undefined) return 0;
    this.ok(
      this.machine.fallocate(
        this.pid,
        this.file!.fd,
        range.offset,
        range.length,
        punchHole ? { punchHole: true, keepSize: true } : { keepSize },
      ),
      "fallocate",
    );
    return 0;
  }

  private fpunch(argv: string[]): number {
    const range = this.offsetLength(argv[1]!, argv[2]!);
    if (range === undefined) return 0;
    this.ok(
      this.machine.fallocate(this.pid, this.file!.fd, range.offset, range.length, { punchHole: true, keepSize: true }),
      "fallocate",
    );
    return 0;
  }

  private fzero(argv: string[]): number {
    const spec = this.spec("fzero");
    const g = this.getopt(argv, "k", spec);
    if (g === undefined) return 0;
    if (g.operands.length !== 2) return this.usage(spec);
    const range = this.offsetLength(g.operands[0]!, g.operands[1]!);
    if (range === undefined) return 0;
    const keepSize = g.options.length > 0;
    this.ok(
      this.machine.fallocate(this.pid, this.file!.fd, range.offset, range.length, { zeroRange: true, keepSize }),
      "fallocate",
    );
    return 0;
  }

  private fsync(datasync: boolean): number {
    this.ok(this.machine.fsync(this.pid, this.file!.fd, datasync), datasync ? "fdatasync" : "fsync");
    return 0;
  }

  // -------------------------------------------------------------------------------------------
  // daxsim extensions

  private flushCommand(argv: string[], kind: "clwb" | "clflushopt" | "clflush"): number {
    const spec = this.spec(kind);
    const g = this.getopt(argv, "", spec);
    if (g === undefined) return 0;
    const range = this.mappedRange(g.operands, spec, false);
    if (range === undefined || range.length === 0) return 0;
    this.ok(this.machine.flush(this.pid, range.addr, range.length, kind), kind);
    return 0;
  }

  private sfence(): number {
    this.ok(this.machine.sfence(this.pid), "sfence");
    return 0;
  }

  /**
   * powerloss: the machine loses power (the DIMM decides what survives by the policy), every
   * process dies, and the filesystem remounts with recovery. Then, like running xfs_io again, the
   * files in the table are reopened (never created or truncated again); mappings are gone.
   */
  private powerloss(argv: string[]): number {
    const spec = this.spec("powerloss");
    const g = this.getopt(argv, "p:s:", spec);
    if (g === undefined) return 0;
    let policy: PowerLossPolicy = "strict";
    let seed = this.powerLossSeed;
    for (const { opt, arg } of g.options) {
      if (opt === "p") {
        if (!isPowerLossPolicy(arg!)) {
          this.out(`invalid power-loss policy -- ${arg}\n`);
          this.exitCode = 1;
          return 0;
        }
        policy = arg;
      } else if (opt === "s") {
        const parsed = strtoul(arg!);
        if (parsed.consumed === 0 || parsed.consumed !== arg!.length) {
          this.out(`non-numeric seed -- ${arg}\n`);
          this.exitCode = 1;
          return 0;
        }
        seed = parsed.value;
      }
    }
    if (g.operands.length !== 0) return this.usage(spec);
    this.machine.powerLoss(policy, seed, "daxsim io powerloss");
    this.maps = [];
    this.mapIndex = -1;
    const before = this.files;
    const current = this.file;
    this.files = [];
    this.fileIndex = -1;
    for (const f of before) {
      const reopened = this.openFile(f.name, { ...f.flags, create: false, trunc: false }, 0o600);
      if (reopened === undefined) continue;
      this.files.push(reopened);
      if (f === current) this.fileIndex = this.files.length - 1;
    }
    if (this.fileIndex < 0) this.fileIndex = this.files.length - 1;
    return 0;
  }
}
