/**
 * How complete each node's log is in SQLite: the last seq up to which nothing is missing, the
 * ranges received beyond it, and so the holes (gaps) between them. A node's seqs start at 1 and
 * never reset, so anything missing below the highest seq received is a gap.
 *
 * Gaps open when a batch arrives ahead of the contiguous end (a publisher re-sent an earlier batch
 * that is still on its way, or events were lost) and close when the missing events arrive. Ingest
 * reports every opened gap as an error; none is ever skipped over.
 *
 * Invariant per node: contiguous ≤ highest; `ahead` is sorted, disjoint, not adjacent, and every
 * range in it starts above contiguous + 1.
 */

export interface SeqRange {
  fromSeq: number;
  toSeq: number;
}

export interface NodeProgress {
  lastContiguousSeq: number;
  highestSeq: number;
  /** Received ranges beyond lastContiguousSeq + 1. */
  ahead: SeqRange[];
}

export interface BatchEffect {
  /** Every seq of the batch was already received. */
  duplicate: boolean;
  gapsBefore: SeqRange[];
  gapsAfter: SeqRange[];
}

export class GapTracker {
  private readonly nodes = new Map<string, NodeProgress>();

  /** Restores a node's progress (from SQLite at start). */
  restore(node: string, progress: NodeProgress): void {
    check(progress);
    this.nodes.set(node, {
      lastContiguousSeq: progress.lastContiguousSeq,
      highestSeq: progress.highestSeq,
      ahead: progress.ahead.map((r) => ({ ...r })),
    });
  }

  progress(node: string): NodeProgress | undefined {
    return this.nodes.get(node);
  }

  nodeIds(): string[] {
    return [...this.nodes.keys()].sort();
  }

  /** The holes of a node's log, ascending. */
  gaps(node: string): SeqRange[] {
    const p = this.nodes.get(node);
    return p === undefined ? [] : holes(p);
  }

  /** Records that seqs [fromSeq, toSeq] of `node` are now stored. */
  add(node: string, fromSeq: number, toSeq: number): BatchEffect {
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 1 || toSeq < fromSeq || !Number.isSafeInteger(toSeq)) {
      throw new RangeError(`seq range [${fromSeq}, ${toSeq}] is not a range of seqs ≥ 1`);
    }
    let p = this.nodes.get(node);
    if (p === undefined) {
      p = { lastContiguousSeq: 0, highestSeq: 0, ahead: [] };
      this.nodes.set(node, p);
    }
    const gapsBefore = holes(p);
    const duplicate = toSeq <= p.lastContiguousSeq || p.ahead.some((r) => r.fromSeq <= fromSeq && toSeq <= r.toSeq);
    if (!duplicate) {
      insertRange(p, fromSeq, toSeq);
      p.highestSeq = Math.max(p.highestSeq, toSeq);
      check(p);
    }
    return { duplicate, gapsBefore, gapsAfter: duplicate ? gapsBefore : holes(p) };
  }
}

function insertRange(p: NodeProgress, fromSeq: number, toSeq: number): void {
  const ranges = [...p.ahead, { fromSeq, toSeq }].sort((a, b) => a.fromSeq - b.fromSeq);
  const merged: SeqRange[] = [];
  let contiguous = p.lastContiguousSeq;
  for (const r of ranges) {
    if (r.toSeq <= contiguous) continue;
    if (r.fromSeq <= contiguous + 1 && merged.length === 0) {
      contiguous = r.toSeq;
      continue;
    }
    const last = merged[merged.length - 1];
    if (last !== undefined && r.fromSeq <= last.toSeq + 1) last.toSeq = Math.max(last.toSeq, r.toSeq);
    else merged.push({ fromSeq: Math.max(r.fromSeq, contiguous + 1), toSeq: r.toSeq });
  }
  p.lastContiguousSeq = contiguous;
  p.ahead = merged;
}

function holes(p: NodeProgress): SeqRange[] {
  const out: SeqRange[] = [];
  let covered = p.lastContiguousSeq;
  for (const r of p.ahead) {
    out.push({ fromSeq: covered + 1, toSeq: r.fromSeq - 1 });
    covered = r.toSeq;
  }
  return out;
}

function check(p: NodeProgress): void {
  if (p.lastContiguousSeq > p.highestSeq)
    throw new Error(`gap tracker: contiguous ${p.lastContiguousSeq} > highest ${p.highestSeq}`);
  let floor = p.lastContiguousSeq + 1;
  for (const r of p.ahead) {
    if (r.fromSeq <= floor) throw new Error(`gap tracker: range [${r.fromSeq}, ${r.toSeq}] touches what precedes it`);
    if (r.toSeq < r.fromSeq) throw new Error(`gap tracker: empty range [${r.fromSeq}, ${r.toSeq}]`);
    floor = r.toSeq + 1;
  }
  const last = p.ahead[p.ahead.length - 1];
  const end = last === undefined ? p.lastContiguousSeq : last.toSeq;
  if (end !== p.highestSeq) throw new Error(`gap tracker: highest ${p.highestSeq} ≠ end of what was received ${end}`);
}
