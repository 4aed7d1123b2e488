/**
 * Deliberately injectable filesystem bugs (mount option bug=NAME, off by default). They exist to
 * prove that daxsim's crash-consistency checking finds real mistakes; each is documented in
 * docs/bugs.md with the oracle expected to catch it.
 */

export const BUG_NAMES = [
  /** The journal's records are not fenced before the commit record is written. */
  "no-journal-fence",
  /** Checkpointed inode updates (sizes, block pointers) are stored cached and never flushed. */
  "no-size-flush",
  /** Extending a file never zeroes the old EOF block's tail, whatever zero-on-extend says. */
  "no-zero-on-extend",
  /** A write fault on a hole does not unmap the zero page from the other mappings. */
  "no-zero-page-unmap",
  /** Checkpointed directory entries are stored cached and never flushed. */
  "no-dirent-flush",
] as const;

export type BugName = (typeof BUG_NAMES)[number];
export type BugSet = ReadonlySet<BugName>;

export function isBugName(name: string): name is BugName {
  return (BUG_NAMES as readonly string[]).includes(name);
}

export const NO_BUGS: BugSet = new Set<BugName>();
