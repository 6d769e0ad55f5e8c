// Earliest deadline first, as Envoy's EdfScheduler: each entry has a deadline of
// `now + 1 / weight`; a pick takes the earliest deadline (ties: first inserted), moves `now` to it
// and puts the entry back with a new deadline from its current weight. Over any stretch of picks
// each entry's share follows its weight, and the picks of one entry are spread out (no bursts),
// unlike a round robin that serves each host `weight` times in a row.
//
// A binary min-heap over slot numbers, with deadlines and tie-break counters in typed arrays:
// a pick allocates nothing.

/** Gives the current scheduling weight (> 0) of an entry. */
export interface Weigher<T> {
  weightOf(item: T): number;
}

export class EdfScheduler<T> {
  private readonly items: readonly T[];
  private readonly deadline: Float64Array;
  private readonly order: Float64Array;
  private readonly heap: Int32Array;
  private now = 0;
  private counter = 0;

  /** Schedules `items` by `weigher`, then skips `initialPicks` picks so that balancers do not all start alike. */
  constructor(items: readonly T[], weigher: Weigher<T>, initialPicks: number) {
    const n = items.length;
    this.items = items;
    this.deadline = new Float64Array(n);
    this.order = new Float64Array(n);
    this.heap = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      this.deadline[i] = 1 / weigher.weightOf(items[i] as T);
      this.order[i] = this.counter++;
      this.heap[i] = i;
    }
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i);
    for (let i = 0; i < initialPicks; i++) this.pick(weigher);
  }

  get size(): number {
    return this.items.length;
  }

  /** The entry with the earliest deadline, rescheduled with its current weight. */
  pick(weigher: Weigher<T>): T {
    const slot = this.heap[0] as number;
    const item = this.items[slot] as T;
    this.now = this.deadline[slot] as number;
    const w = weigher.weightOf(item);
    // A weight of 0 (or NaN) would never come back; treat it as the smallest positive weight.
    this.deadline[slot] = this.now + (w > 0 ? 1 / w : 1 / Number.MIN_VALUE);
    this.order[slot] = this.counter++;
    this.siftDown(0);
    return item;
  }

  private less(a: number, b: number): boolean {
    const da = this.deadline[a] as number;
    const db = this.deadline[b] as number;
    return da < db || (da === db && (this.order[a] as number) < (this.order[b] as number));
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    const n = heap.length;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      let m = l;
      if (r < n && this.less(heap[r] as number, heap[l] as number)) m = r;
      if (!this.less(heap[m] as number, heap[i] as number)) return;
      const t = heap[i] as number;
      heap[i] = heap[m] as number;
      heap[m] = t;
      i = m;
    }
  }
}
