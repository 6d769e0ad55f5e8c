/** The element at `i`, or a thrown error naming what is missing (instead of a `!` assertion). */
export function at<T>(list: readonly T[] | undefined, i: number): T {
  const v = list?.[i];
  if (v === undefined) throw new Error(`no element ${i}`);
  return v;
}

/** `v`, or a thrown error if it is undefined. */
export function defined<T>(v: T | undefined, what = 'value'): T {
  if (v === undefined) throw new Error(`${what} is undefined`);
  return v;
}

/** Timers driven by hand: `advance(ms)` runs what falls due. For the ADS client's backoff and does-not-exist timers. */
export class ManualTimers {
  now = 0;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Delays of the timers pending now, in order of creation. */
  get delays(): number[] {
    return [...this.pending.values()].map((t) => t.at - this.now);
  }
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (e[1].at <= until && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.pending.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = until;
  }
}
