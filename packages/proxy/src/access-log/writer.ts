// Where access log lines go, without ever blocking the proxy: each destination has a bounded
// queue, flushed in one write per event loop turn. While a write is outstanding (a sink's promise
// not settled, a stream that asked to wait for 'drain') lines queue; once the queue is full, new
// lines are dropped and counted.
//
//   streamEnded ─► push(line) ─► [ queue ≤ maxQueuedLines ] ─setImmediate─► one write(batch)
//                       └─ full: dropped++                         └─ pending: wait, keep queueing
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Counter, Scope } from '@meshlet/stats';

/**
 * A user sink for access log lines (no trailing newline). Return a promise to make the proxy
 * wait for it before the next batch; lines keep queueing meanwhile, up to the queue's bound.
 */
export type AccessLogSink = (lines: readonly string[]) => void | Promise<void>;

/** The access log counters of a proxy (all destinations). */
export interface AccessLogCounters {
  /** Lines formatted and queued. */
  queued: number;
  /** Lines a destination took (its write succeeded). */
  written: number;
  /** Lines dropped because a destination's queue was full (a slow sink). */
  dropped: number;
  /** Batches (writes) made. */
  flushes: number;
  /** Lines lost to a failing destination (a rejected promise, a stream error, a formatter error). */
  failed: number;
}

/** One write of a batch; `done` is called once the destination can take the next one. */
export interface LineOutput {
  write(lines: string[], done: (error?: unknown) => void): void;
  /** Releases the destination (closes a file), after the last write. */
  close(): Promise<void>;
}

/** A user sink as a line output. */
export class SinkOutput implements LineOutput {
  private readonly sink: AccessLogSink;

  constructor(sink: AccessLogSink) {
    this.sink = sink;
  }

  write(lines: string[], done: (error?: unknown) => void): void {
    let result: void | Promise<void>;
    try {
      result = this.sink(lines);
    } catch (error) {
      done(error);
      return;
    }
    if (result instanceof Promise)
      result.then(() => {
        done();
      }, done);
    else done();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A writable stream (a file, stdout, stderr) as a line output: one `write` per batch. */
export class StreamOutput implements LineOutput {
  private readonly stream: Writable;
  private readonly owned: boolean;
  private failure: ((error: unknown) => void) | null = null;

  constructor(stream: Writable, owned: boolean) {
    this.stream = stream;
    this.owned = owned;
    stream.on('error', (error) => {
      const fail = this.failure;
      this.failure = null;
      fail?.(error);
    });
  }

  write(lines: string[], done: (error?: unknown) => void): void {
    if (this.stream.destroyed || this.stream.writableEnded) {
      done(new Error('access log stream is closed'));
      return;
    }
    let text = '';
    for (const line of lines) text += line + '\n';
    if (this.stream.write(text)) {
      done();
      return;
    }
    // The stream is above its high-water mark: the next batch waits for 'drain' (or an error).
    let settled = false;
    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      this.failure = null;
      this.stream.off('drain', onDrain);
      done(error);
    };
    const onDrain = (): void => {
      finish();
    };
    this.failure = finish;
    this.stream.once('drain', onDrain);
  }

  close(): Promise<void> {
    if (!this.owned || this.stream.writableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      this.stream.end(resolve);
    });
  }
}

/** A file opened for appending. */
export function fileOutput(path: string): StreamOutput {
  return new StreamOutput(createWriteStream(path, { flags: 'a' }), true);
}

/** The bounded queue and batching in front of one destination. */
export class AccessLogWriter {
  private queue: string[] = [];
  private pending = false;
  private scheduled = false;
  private readonly output: LineOutput;
  private readonly counters: AccessLogCounters;
  private readonly maxQueued: number;
  private readonly onError: (error: unknown) => void;
  private idle: (() => void)[] = [];

  constructor(
    output: LineOutput,
    counters: AccessLogCounters,
    maxQueued: number,
    onError: (error: unknown) => void,
  ) {
    this.output = output;
    this.counters = counters;
    this.maxQueued = maxQueued;
    this.onError = onError;
  }

  /** Queues a line (dropped and counted when the queue is full). Never blocks, never throws. */
  push(line: string): void {
    if (this.queue.length >= this.maxQueued) {
      this.counters.dropped++;
      return;
    }
    this.queue.push(line);
    this.counters.queued++;
    if (!this.scheduled && !this.pending) {
      this.scheduled = true;
      setImmediate(flushWriter, this);
    }
  }

  /** Lines waiting. */
  get queued(): number {
    return this.queue.length;
  }

  /** Writes the queue now, as one batch, unless a write is outstanding. */
  flush(): void {
    this.scheduled = false;
    if (this.pending || this.queue.length === 0) {
      if (!this.pending) this.settleIdle();
      return;
    }
    const batch = this.queue;
    this.queue = [];
    this.pending = true;
    this.counters.flushes++;
    this.output.write(batch, (error) => {
      this.written(batch.length, error);
    });
  }

  private written(count: number, error: unknown): void {
    this.pending = false;
    if (error === undefined) this.counters.written += count;
    else {
      this.counters.failed += count;
      this.onError(error);
    }
    if (this.queue.length > 0) {
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(flushWriter, this);
      }
    } else this.settleIdle();
  }

  private settleIdle(): void {
    const waiting = this.idle;
    if (waiting.length === 0) return;
    this.idle = [];
    for (const resolve of waiting) resolve();
  }

  /** Resolves once everything queued was written (or `timeoutMs` passed), then closes the output. */
  async close(timeoutMs: number): Promise<void> {
    const drained = new Promise<void>((resolve) => {
      if (!this.pending && this.queue.length === 0) resolve();
      else this.idle.push(resolve);
    });
    this.flush();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([drained, timeout]);
    clearTimeout(timer);
    // A sink still stalled at close: what it never took is dropped.
    this.counters.dropped += this.queue.length;
    this.queue = [];
    await this.output.close();
  }
}

function flushWriter(writer: AccessLogWriter): void {
  writer.flush();
}

/**
 * Access log counters recorded as stats (`access_log.lines_queued`, `lines_written`,
 * `lines_dropped`, `lines_failed`, `flushes`), so `/stats` and Prometheus show a slow sink's drops.
 */
export class ScopedAccessLogCounters implements AccessLogCounters {
  readonly #queued: Counter;
  readonly #written: Counter;
  readonly #dropped: Counter;
  readonly #flushes: Counter;
  readonly #failed: Counter;

  constructor(root: Scope) {
    const scope = root.scope('access_log');
    this.#queued = scope.counter('lines_queued');
    this.#written = scope.counter('lines_written');
    this.#dropped = scope.counter('lines_dropped');
    this.#flushes = scope.counter('flushes');
    this.#failed = scope.counter('lines_failed');
  }

  get queued(): number {
    return this.#queued.value;
  }

  set queued(value: number) {
    this.#queued.add(value - this.#queued.value);
  }

  get written(): number {
    return this.#written.value;
  }

  set written(value: number) {
    this.#written.add(value - this.#written.value);
  }

  get dropped(): number {
    return this.#dropped.value;
  }

  set dropped(value: number) {
    this.#dropped.add(value - this.#dropped.value);
  }

  get flushes(): number {
    return this.#flushes.value;
  }

  set flushes(value: number) {
    this.#flushes.add(value - this.#flushes.value);
  }

  get failed(): number {
    return this.#failed.value;
  }

  set failed(value: number) {
    this.#failed.add(value - this.#failed.value);
  }
}
