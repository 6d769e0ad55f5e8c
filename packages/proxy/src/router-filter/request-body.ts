import { Readable } from 'node:stream';

/** What a {@link RequestBody} tells the request it belongs to. */
export interface RequestBodyOwner {
  /** Bytes arrived from downstream (for idle timeouts and `bytesReceived`). */
  onRequestData(bytes: number): void;
  /** The downstream body is complete. */
  onRequestEnd(): void;
}

/**
 * A streamed downstream request body, forwarded to one attempt at a time and kept (up to a
 * limit, Envoy's per-request buffer limit) so that a retry or a mirror can replay it.
 *
 * ```
 *  downstream ──data──▶ RequestBody ──push──▶ AttemptBody (undici reads it) ──▶ upstream
 *                          │ chunks[] (≤ limit: replayable)
 *                          └─ a retry gets a new AttemptBody: buffered chunks first, then live ones
 * ```
 *
 * Backpressure: the downstream source is paused when the attempt's body is full, or while no
 * attempt is reading (backoff), and resumed when the attempt reads again.
 */
export class RequestBody {
  readonly #source: Readable;
  readonly #owner: RequestBodyOwner;
  readonly #limit: number;
  #chunks: Buffer[] | null = [];
  #bytes = 0;
  #ended = false;
  #closed = false;
  #sink: AttemptBody | null = null;
  readonly #onData: (chunk: Buffer) => void;
  readonly #onEnd: () => void;
  readonly #onError: (error: Error) => void;

  constructor(source: Readable, owner: RequestBodyOwner, limitBytes: number) {
    this.#source = source;
    this.#owner = owner;
    this.#limit = limitBytes;
    // Three listeners per streamed body: Readable's event API leaves no method-only way.
    this.#onData = (chunk) => {
      this.#data(chunk);
    };
    this.#onEnd = () => {
      this.#end();
    };
    this.#onError = (error) => {
      this.#sink?.destroy(error);
    };
    source.on('data', this.#onData);
    source.on('end', this.#onEnd);
    source.on('error', this.#onError);
  }

  /** Whether every byte so far is buffered: a retry or a mirror can replay the body. */
  get replayable(): boolean {
    return this.#chunks !== null;
  }

  /** Whether the downstream body is complete. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The whole body, once ended and replayable. */
  buffered(): Buffer | null {
    if (!this.#ended || this.#chunks === null) return null;
    return this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks, this.#bytes);
  }

  /** A body for a new attempt (replaying what is buffered), or `null` if the body cannot be replayed. */
  attach(): AttemptBody | null {
    if (this.#closed) return null;
    const chunks = this.#chunks;
    if (chunks === null) return null;
    const sink = new AttemptBody(this);
    const previous = this.#sink;
    this.#sink = sink;
    if (previous !== null) previous.detached = true;
    for (const chunk of chunks) sink.push(chunk);
    if (this.#ended) sink.push(null);
    else if (this.#source.isPaused()) this.#source.resume();
    return sink;
  }

  /** Stops forwarding: the response is complete or the stream is gone. The rest of the body is read and dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#chunks = null;
    if (this.#sink !== null) this.#sink.detached = true;
    this.#sink = null;
    this.#source.off('data', this.#onData);
    this.#source.off('end', this.#onEnd);
    this.#source.off('error', this.#onError);
    // Keep reading (and dropping) so that a kept-alive downstream connection is not stuck.
    if (!this.#ended && !this.#source.destroyed) this.#source.resume();
  }

  /** @internal The attempt body wants more. */
  _read(sink: AttemptBody): void {
    if (sink === this.#sink && !this.#ended && this.#source.isPaused()) this.#source.resume();
  }

  /** @internal The attempt body was destroyed (the attempt ended or was aborted). */
  _destroyed(sink: AttemptBody): void {
    if (sink === this.#sink) this.#sink = null;
  }

  #data(chunk: Buffer): void {
    this.#owner.onRequestData(chunk.length);
    const chunks = this.#chunks;
    if (chunks !== null) {
      if (this.#bytes + chunk.length > this.#limit) {
        // Over the buffer limit: stream on, but no retry or mirror can replay this body.
        this.#chunks = null;
      } else {
        chunks.push(chunk);
      }
      this.#bytes += chunk.length;
    }
    const sink = this.#sink;
    if (sink === null) {
      this.#source.pause();
      return;
    }
    if (!sink.push(chunk)) this.#source.pause();
  }

  #end(): void {
    this.#ended = true;
    this.#sink?.push(null);
    this.#owner.onRequestEnd();
  }
}

/** The body of one upstream attempt: what undici reads. */
export class AttemptBody extends Readable {
  readonly #body: RequestBody;
  /** Replaced by a newer attempt's body. */
  detached = false;

  constructor(body: RequestBody) {
    super();
    this.#body = body;
  }

  override _read(): void {
    this.#body._read(this);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#body._destroyed(this);
    callback(error);
  }

  override push(chunk: unknown): boolean {
    if (this.detached || this.destroyed) return false;
    return super.push(chunk);
  }
}
