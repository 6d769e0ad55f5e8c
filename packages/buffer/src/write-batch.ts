import type { Writable } from 'node:stream';
import { ConfigError, InvalidArgumentError } from '@meshlet/errors';
import { StreamClosedError } from './errors.js';
import type { BufferReleaser, WriteBatchOptions } from './types.js';

/**
 * The pooled chunks of one flush, released once the stream has written them (its write
 * callback fired) and not before: until then the socket still references their memory.
 */
class ReleaseAfterWrite {
  readonly #chunks: Uint8Array[];
  readonly #owners: BufferReleaser[];
  readonly done: () => void;

  constructor(chunks: Uint8Array[], owners: BufferReleaser[]) {
    this.#chunks = chunks;
    this.#owners = owners;
    this.done = this.#release.bind(this);
  }

  #release(): void {
    // Also after a write error: a destroyed socket no longer holds the memory either.
    const chunks = this.#chunks;
    const owners = this.#owners;
    for (let i = 0; i < chunks.length; i++) (owners[i] as BufferReleaser).release(chunks[i] as Uint8Array);
  }
}

/**
 * Gathers the writes a connection makes in one tick and hands them to the stream as one
 * vectored write: for a `net.Socket`, one `_writev` call and so one `writev(2)` syscall instead
 * of one syscall per chunk.
 *
 * `write` honours backpressure like `stream.write`: it returns `false` once the bytes queued here
 * plus those buffered in the stream reach its `writableHighWaterMark`; then wait on
 * {@link WriteBatch.drained}. Writes to a closed or ended stream are dropped and return `false`;
 * they never throw.
 *
 * A chunk written with a {@link BufferReleaser} (a `BufferPool`) is given back to it once the
 * stream has written it: `batch.write(pool.acquire(n), pool)` needs no other bookkeeping.
 *
 * @example
 * ```ts
 * const batch = new WriteBatch(socket);
 * for (const frame of frames) {
 *   const buf = pool.acquire(frame.length);
 *   frame.copy(buf);
 *   if (!batch.write(buf, pool)) await batch.drained(); // buf returns to the pool once sent
 * }
 * // The frames of this tick go out together on the next tick.
 * ```
 */
export class WriteBatch {
  readonly #stream: Writable;
  readonly #autoFlush: boolean;
  readonly #queue: Uint8Array[];
  // Parallel to #queue: who takes each chunk back once written (undefined: nobody). Holey
  // arrays are avoided: every slot is written, with undefined when there is no owner.
  readonly #owners: (BufferReleaser | undefined)[];
  #ownedCount: number;
  #pendingBytes: number;
  #scheduled: boolean;
  #flushing: boolean;
  // Bound once here so scheduling a flush and waiting for drain allocate no closure per call.
  readonly #flushOnTick: () => void;
  readonly #onDrain: () => void;
  readonly #onError: (error: unknown) => void;
  readonly #onClose: () => void;
  // One wait per backpressure episode, shared by every caller of drained(): N producers waiting
  // add 3 listeners to the stream, not 3N (which would also trip MaxListenersExceededWarning).
  #drainWait: Promise<void> | undefined;
  #resolveDrain: (() => void) | undefined;
  #rejectDrain: ((reason: unknown) => void) | undefined;
  #flushes: number;
  #chunksWritten: number;
  #bytesWritten: number;

  /**
   * @param stream - where the batches go; a `net.Socket` typically. The batch writes to it, corks
   *   and uncorks it, and reads its `writable*` state; it adds listeners only while `drained()`
   *   waits.
   * @param options - see {@link WriteBatchOptions}.
   * @throws InvalidArgumentError when `stream` is not a Writable.
   * @throws ConfigError when `options.autoFlush` is not a boolean.
   */
  constructor(stream: Writable, options: WriteBatchOptions = {}) {
    if (!isWritable(stream)) {
      throw new InvalidArgumentError('WriteBatch: stream must be a Writable');
    }
    // Typed callers cannot get this wrong; JavaScript callers can.
    const raw: unknown = options;
    if (typeof raw !== 'object' || raw === null) {
      throw new ConfigError('WriteBatch: options must be an object');
    }
    const autoFlush = options.autoFlush ?? true;
    if (typeof autoFlush !== 'boolean') {
      throw new ConfigError(`WriteBatch: options.autoFlush must be a boolean, got ${typeof autoFlush}`);
    }
    this.#stream = stream;
    this.#autoFlush = autoFlush;
    this.#queue = [];
    this.#owners = [];
    this.#ownedCount = 0;
    this.#pendingBytes = 0;
    this.#scheduled = false;
    this.#flushing = false;
    this.#flushOnTick = this.#flushScheduled.bind(this);
    this.#onDrain = this.#drainEvent.bind(this);
    this.#onError = this.#errorEvent.bind(this);
    this.#onClose = this.#closeEvent.bind(this);
    this.#drainWait = undefined;
    this.#resolveDrain = undefined;
    this.#rejectDrain = undefined;
    this.#flushes = 0;
    this.#chunksWritten = 0;
    this.#bytesWritten = 0;
  }

  /** Bytes queued and not yet flushed. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Chunks queued and not yet flushed. */
  get pendingCount(): number {
    return this.#queue.length;
  }

  /** Flushes that wrote at least one chunk. */
  get flushes(): number {
    return this.#flushes;
  }

  /** Chunks handed to the stream. */
  get chunksWritten(): number {
    return this.#chunksWritten;
  }

  /** Bytes handed to the stream (buffered by it or sent). */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /**
   * Queues `chunk` for the next flush, by reference: do not modify it afterwards. With
   * `autoFlush`, the first write of a tick schedules the flush. Empty chunks are ignored.
   *
   * @param releaseTo - where the chunk goes back once the stream has written it (or once it is
   *   dropped): the `BufferPool` it came from. Omit it for memory the batch must not recycle.
   * @returns `false` when the caller should stop producing until {@link WriteBatch.drained}:
   *   the stream needs to drain, the queued plus buffered bytes reached its high-water mark, or
   *   the stream is closed (then the chunk was dropped, and released to `releaseTo`).
   * @throws InvalidArgumentError when `chunk` is not a Uint8Array.
   */
  write(chunk: Uint8Array, releaseTo?: BufferReleaser): boolean {
    if (!(chunk instanceof Uint8Array)) {
      throw new InvalidArgumentError('WriteBatch.write: chunk must be a Uint8Array');
    }
    const stream = this.#stream;
    if (!stream.writable) {
      releaseTo?.release(chunk);
      return false;
    }
    const size = chunk.byteLength;
    if (size !== 0) {
      this.#queue.push(chunk);
      this.#owners.push(releaseTo);
      if (releaseTo !== undefined) this.#ownedCount++;
      this.#pendingBytes += size;
      if (this.#autoFlush && !this.#scheduled) {
        this.#scheduled = true;
        process.nextTick(this.#flushOnTick);
      }
    } else {
      releaseTo?.release(chunk);
    }
    return (
      !stream.writableNeedDrain && this.#pendingBytes + stream.writableLength < stream.writableHighWaterMark
    );
  }

  /**
   * Writes every queued chunk now, in one vectored write when there are several (cork, write
   * each, uncork). On a closed or ended stream the queue is dropped instead.
   *
   * @returns the result of the last `stream.write`: `false` means the stream is above its
   *   high-water mark (wait for {@link WriteBatch.drained}). With nothing queued, whether the
   *   stream can take more; `false` for a closed stream.
   */
  flush(): boolean {
    this.#scheduled = false;
    const stream = this.#stream;
    const queue = this.#queue;
    const count = queue.length;
    if (!stream.writable) {
      // Writing now would fail with ERR_STREAM_DESTROYED or, after end(), emit an 'error' that
      // may have no listener and take the process down: drop instead.
      this.#releaseNow(count);
      this.#dequeue(count);
      return false;
    }
    if (count === 0) return !stream.writableNeedDrain;
    // Entered again from inside stream.write (a synchronous _write calling back into us): the
    // outer flush owns the queue; what was added meanwhile waits for the next flush.
    if (this.#flushing) return false;
    this.#flushing = true;
    const onWritten = this.#ownedCount === 0 ? undefined : this.#takeOwned(count).done;
    let ok: boolean;
    let bytes = 0;
    try {
      if (count === 1) {
        const chunk = queue[0] as Uint8Array;
        bytes = chunk.byteLength;
        ok = stream.write(chunk, onWritten);
      } else {
        // Corked, the stream buffers every write; uncork hands them all to _writev at once.
        // Write callbacks fire in order, so the last one fires when every chunk is written.
        stream.cork();
        const last = count - 1;
        for (let i = 0; i < last; i++) {
          const chunk = queue[i] as Uint8Array;
          bytes += chunk.byteLength;
          stream.write(chunk);
        }
        const chunk = queue[last] as Uint8Array;
        bytes += chunk.byteLength;
        ok = stream.write(chunk, onWritten);
        stream.uncork();
      }
    } finally {
      this.#flushing = false;
    }
    this.#dequeue(count);
    this.#flushes++;
    this.#chunksWritten += count;
    this.#bytesWritten += bytes;
    return ok;
  }

  /**
   * Writes what is queued, then ends the stream: the queued chunks go out before the FIN, which a
   * bare `stream.end()` in the same tick as a `write` here would lose. Later writes are dropped.
   * On a closed or ended stream the queue is dropped (and pooled chunks released) instead.
   *
   * @example
   * ```ts
   * batch.write(lastFrame, pool);
   * batch.end(); // lastFrame is sent, then the socket half-closes
   * ```
   */
  end(): void {
    const stream = this.#stream;
    if (!stream.writable) {
      this.flush();
      return;
    }
    if (this.#queue.length !== 0) this.flush();
    stream.end();
  }

  /**
   * Flushes what is queued, then resolves once the stream can take more: at once if it does not
   * need to drain, else on its next `'drain'`. Concurrent callers share one wait.
   *
   * @throws (rejects with) the stream's error on `'error'` before `'drain'`, or
   *   {@link StreamClosedError} when the stream is closed or ended, or closes before draining.
   */
  drained(): Promise<void> {
    // Queued bytes count against the high-water mark in write(); resolving without flushing them
    // would let a producer loop spin on `write() === false` while the flush tick never runs.
    if (this.#queue.length !== 0) this.flush();
    const stream = this.#stream;
    if (!stream.writable) {
      return Promise.reject(
        new StreamClosedError('WriteBatch.drained: the stream is closed', {
          cause: stream.errored ?? undefined,
        }),
      );
    }
    if (!stream.writableNeedDrain) return Promise.resolve();
    let wait = this.#drainWait;
    if (wait === undefined) {
      wait = new Promise<void>((resolve, reject) => {
        this.#resolveDrain = resolve;
        this.#rejectDrain = reject;
      });
      this.#drainWait = wait;
      stream.on('drain', this.#onDrain);
      stream.on('error', this.#onError);
      stream.on('close', this.#onClose);
    }
    return wait;
  }

  /** Removes the first `count` chunks from the queue (more may have been added meanwhile). */
  #dequeue(count: number): void {
    const queue = this.#queue;
    const owners = this.#owners;
    if (queue.length === count) {
      queue.length = 0;
      owners.length = 0;
      this.#ownedCount = 0;
      this.#pendingBytes = 0;
    } else {
      for (let i = 0; i < count; i++) {
        if (owners[i] !== undefined) this.#ownedCount--;
        this.#pendingBytes -= (queue[i] as Uint8Array).byteLength;
      }
      queue.splice(0, count);
      owners.splice(0, count);
    }
  }

  /** The owned chunks among the first `count`, to release once the stream has written them. */
  #takeOwned(count: number): ReleaseAfterWrite {
    const chunks: Uint8Array[] = [];
    const owners: BufferReleaser[] = [];
    for (let i = 0; i < count; i++) {
      const owner = this.#owners[i];
      if (owner === undefined) continue;
      chunks.push(this.#queue[i] as Uint8Array);
      owners.push(owner);
    }
    return new ReleaseAfterWrite(chunks, owners);
  }

  /** Releases the owned chunks among the first `count` at once (they will not be written). */
  #releaseNow(count: number): void {
    if (this.#ownedCount === 0) return;
    for (let i = 0; i < count; i++) this.#owners[i]?.release(this.#queue[i] as Uint8Array);
  }

  #flushScheduled(): void {
    this.flush();
  }

  #drainEvent(): void {
    const resolve = this.#resolveDrain;
    this.#endDrainWait();
    resolve?.();
  }

  #errorEvent(error: unknown): void {
    const reject = this.#rejectDrain;
    this.#endDrainWait();
    reject?.(error);
  }

  #closeEvent(): void {
    const reject = this.#rejectDrain;
    const stream = this.#stream;
    this.#endDrainWait();
    reject?.(
      new StreamClosedError('WriteBatch.drained: the stream closed before it drained', {
        cause: stream.errored ?? undefined,
      }),
    );
  }

  #endDrainWait(): void {
    const stream = this.#stream;
    stream.off('drain', this.#onDrain);
    stream.off('error', this.#onError);
    stream.off('close', this.#onClose);
    this.#drainWait = undefined;
    this.#resolveDrain = undefined;
    this.#rejectDrain = undefined;
  }
}

/** Whether `value` has the Writable methods a batch calls. */
function isWritable(value: unknown): value is Writable {
  if (typeof value !== 'object' || value === null) return false;
  const stream = value as Partial<Record<'write' | 'cork' | 'uncork', unknown>>;
  return (
    typeof stream.write === 'function' &&
    typeof stream.cork === 'function' &&
    typeof stream.uncork === 'function'
  );
}
