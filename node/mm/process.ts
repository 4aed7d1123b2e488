/**
 * A simulated user process: its open files (file descriptors), its mappings (VMAs) and its page
 * table. Pages are 4 KiB; a page table maps a virtual page number to a PTE. PTEs are shared with the
 * per-inode reverse map (mm.ts) so the kernel can unmap or write-protect a file page everywhere.
 */

/** An open file description (shared by fork, like the kernel's struct file). */
export interface OpenFile {
  ino: number;
  readable: boolean;
  writable: boolean;
  append: boolean;
  offset: number;
  refs: number;
}

/** A private page made by copy-on-write; shared read-only between parent and child after fork. */
export interface AnonPage {
  data: Buffer;
  refs: number;
}

export type PteKind = "pfn" | "zero" | "anon" | "pagecache";

export interface Pte {
  pid: number;
  vpn: number;
  kind: PteKind;
  /** DIMM page for kind "pfn". */
  pfn: number;
  anon: AnonPage | undefined;
  /** The page-cache page for kind "pagecache" (nodax). */
  page: Buffer | undefined;
  writable: boolean;
  /** The file page this PTE came from (for the reverse map). */
  ino: number;
  pgoff: number;
}

export interface Vma {
  /** First virtual page number and number of pages. */
  startVpn: number;
  pages: number;
  write: boolean;
  shared: boolean;
  sync: boolean;
  ino: number;
  /** File page mapped at startVpn. */
  pgoff: number;
}

export class Process {
  readonly fds = new Map<number, OpenFile>();
  /** Sorted by startVpn, non-overlapping. */
  vmas: Vma[] = [];
  readonly pageTable = new Map<number, Pte>();

  constructor(readonly pid: number) {}

  /** The lowest free descriptor number (descriptors start at 3: 0-2 are not simulated). */
  nextFd(): number {
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    return fd;
  }

  findVma(vpn: number): Vma | undefined {
    for (const vma of this.vmas) {
      if (vpn < vma.startVpn) return undefined;
      if (vpn < vma.startVpn + vma.pages) return vma;
    }
    return undefined;
  }

  insertVma(vma: Vma): void {
    this.vmas.push(vma);
    this.vmas.sort((a, b) => a.startVpn - b.startVpn);
  }
}
