/**
 * A deliberately naive second implementation of the DESIGN §3 persistence model, used by tests to
 * check the fast one. It is driven by the same events and keeps, per line, the list of stores since
 * the line was last durable, as the model is worded: no record numbers, no captures, no ranges.
 */
import type { Event } from "../../proto/index.js";
import { LINE_BYTES, WORD_BYTES, WORDS_PER_LINE } from "./geometry.js";

interface RefLine {
  /** Each pending store's bytes restricted to this line: [offset in line, bytes]. */
  stores: Array<[number, Uint8Array]>;
  /** Number of leading stores the next fence makes durable; -1 when not flush-pending. */
  mark: number;
}

export class ReferenceDimm {
  readonly durable: Uint8Array;
  readonly visible: Uint8Array;
  readonly lines = new Map<number, RefLine>();

  constructor(
    readonly sizeBytes: number,
    readonly eadr = false,
  ) {
    this.durable = new Uint8Array(sizeBytes);
    this.visible = new Uint8Array(sizeBytes);
  }

  apply(ev: Event): void {
    switch (ev.kind) {
      case "store":
        this.store(ev.addr, ev.data, ev.nonTemporal);
        return;
      case "flush":
        for (let i = 0; i < ev.lines; i++)
          this.flushLine(ev.addr / LINE_BYTES + i, ev.flushKind === "clflush" || ev.flushKind === "evict");
        return;
      case "fence":
        this.fence();
        return;
      case "powerLoss":
        this.powerLoss(ev.lines.map((d) => ({ line: d.line, kept: d.kept, wordKept: d.wordKept })));
        return;
      default:
        return;
    }
  }

  private store(addr: number, data: Uint8Array, nonTemporal: boolean): void {
    this.visible.set(data, addr);
    if (this.eadr) {
      this.durable.set(data, addr);
      return;
    }
    for (let line = Math.floor(addr / LINE_BYTES); line * LINE_BYTES < addr + data.length; line++) {
      const lo = Math.max(addr, line * LINE_BYTES);
      const hi = Math.min(addr + data.length, (line + 1) * LINE_BYTES);
      const entry = this.lines.get(line) ?? { stores: [], mark: -1 };
      entry.stores.push([lo - line * LINE_BYTES, data.slice(lo - addr, hi - addr)]);
      if (nonTemporal) entry.mark = entry.stores.length;
      this.lines.set(line, entry);
    }
  }

  private flushLine(line: number, immediate: boolean): void {
    if (this.eadr) return;
    const entry = this.lines.get(line);
    if (entry === undefined) return;
    if (immediate) {
      this.durable.set(this.version(line, entry.stores.length), line * LINE_BYTES);
      this.lines.delete(line);
    } else {
      entry.mark = entry.stores.length;
    }
  }

  private fence(): void {
    for (const [line, entry] of [...this.lines]) {
      if (entry.mark < 0) continue;
      this.durable.set(this.version(line, entry.mark), line * LINE_BYTES);
      entry.stores = entry.stores.slice(entry.mark);
      entry.mark = -1;
      if (entry.stores.length === 0) this.lines.delete(line);
    }
  }

  /** Durable content plus the first `kept` pending stores of the line. */
  version(line: number, kept: number): Uint8Array {
    const content = this.durable.slice(line * LINE_BYTES, (line + 1) * LINE_BYTES);
    const stores = this.lines.get(line)?.stores ?? [];
    for (let k = 0; k < kept; k++) content.set(stores[k]![1], stores[k]![0]);
    return content;
  }

  /** Every content the line may have after a power loss under the torn model, word by word. */
  allowedWords(line: number, word: number): Uint8Array[] {
    const n = this.lines.get(line)?.stores.length ?? 0;
    const out: Uint8Array[] = [];
    for (let k = 0; k <= n; k++) out.push(this.version(line, k).slice(word * WORD_BYTES, (word + 1) * WORD_BYTES));
    return out;
  }

  pendingLines(): number[] {
    return [...this.lines.keys()].sort((a, b) => a - b);
  }

  versionCount(line: number): number {
    return this.lines.get(line)?.stores.length ?? 0;
  }

  lineState(line: number): "clean" | "dirty" | "flush-pending" {
    const entry = this.lines.get(line);
    if (entry === undefined) return "clean";
    return entry.mark === entry.stores.length ? "flush-pending" : "dirty";
  }

  private powerLoss(decisions: Array<{ line: number; kept: number; wordKept: number[] }>): void {
    for (const d of decisions) {
      let content: Uint8Array;
      if (d.wordKept.length === 0) {
        content = this.version(d.line, d.kept);
      } else {
        content = new Uint8Array(LINE_BYTES);
        for (let w = 0; w < WORDS_PER_LINE; w++)
          content.set(
            this.version(d.line, d.wordKept[w]!).subarray(w * WORD_BYTES, (w + 1) * WORD_BYTES),
            w * WORD_BYTES,
          );
      }
      this.durable.set(content, d.line * LINE_BYTES);
    }
    this.lines.clear();
    this.visible.set(this.durable);
  }
}
