import type { WriteBatch } from '@meshlet/buffer';

/**
 * Flushes the {@link WriteBatch}es of the RPC proxy's connections, downstream and upstream, once
 * per event-loop turn, after the turn's I/O callbacks: `setImmediate` runs in the check phase,
 * right after the poll phase that delivered them. A batch flushing itself on `process.nextTick`
 * flushes after every single read instead, so eight client connections whose requests arrive in
 * one turn cost eight `writev`s to the upstream connection they share, and one upstream read
 * answering eight clients costs eight more; here each socket gets one `writev` per turn.
 *
 * ```
 *  poll: read A ─┐  read B ─┐  read C ─┐    (each decodes frames, writes them into batches)
 *                └──────────┴──────────┴──> add(batch) when its first chunk of the turn lands
 *  check: flushAll() ──> one writev per socket with something queued
 * ```
 *
 * The batches are created with `autoFlush: false`; `write` callers call {@link schedule} after
 * writing. A batch flushed meanwhile by its own `drained()` or `end()` is flushed again here as
 * a no-op.
 */
export class FlushScheduler {
  #batches: WriteBatch[];
  #spare: WriteBatch[];
  #scheduled: boolean;
  readonly #run: () => void;

  constructor() {
    this.#batches = [];
    this.#spare = [];
    this.#scheduled = false;
    this.#run = this.#flushAll.bind(this);
  }

  /**
   * Flushes `batch` at the end of this turn. `queuedBefore` is the batch's `pendingCount` before
   * the caller's writes: when it was not 0, the batch is already scheduled.
   */
  schedule(batch: WriteBatch, queuedBefore: number): void {
    if (queuedBefore !== 0 || batch.pendingCount === 0) return;
    this.#batches.push(batch);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#run);
    }
  }

  #flushAll(): void {
    this.#scheduled = false;
    // Swap lists: a flush may run write callbacks that schedule again (into the other list).
    const batches = this.#batches;
    this.#batches = this.#spare;
    this.#spare = batches;
    for (const batch of batches) {
      batch.flush();
      // A flush entered from inside a stream's write leaves its chunks for later.
      if (batch.pendingCount !== 0) this.schedule(batch, 0);
    }
    batches.length = 0;
  }
}

/** The scheduler every RPC connection of the process shares (one `setImmediate` per turn). */
export const flushScheduler: FlushScheduler = new FlushScheduler();
