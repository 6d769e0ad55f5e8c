// One in-process request through a connection manager: the request comes from a dispatch call
// (undici's Dispatcher API) instead of a socket, and the response goes to the dispatch handler.
// The stream is also the handler's controller: `pause`/`resume` are the response's backpressure,
// `abort` is the caller giving up.
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { errors } from 'undici';
import type { HeaderMap, ResponseHead } from '../types.js';
import type { ConnectionInfoImpl } from '../listener/connection.js';
import type { HttpConnectionManager } from '../http/connection-manager.js';
import { HttpStream, Phase } from '../http/stream.js';
import type { RequestHeadImpl } from '../http/stream-info.js';

const NO_TRAILERS: Record<string, string | string[]> = Object.freeze({});

/** A request dispatched in-process; its own `DispatchController`. */
export class EgressStream extends HttpStream implements Dispatcher.DispatchController {
  /** The response headers as a flat `[name, value, ...]` list (what undici's `fetch` reads). */
  rawHeaders: string[] | null = null;
  /** The response trailers, flat, once the response ended. */
  rawTrailers: string[] | null = null;
  private readonly handler: Dispatcher.DispatchHandler;
  private pausedFlag = false;
  private abortReason: Error | null = null;
  private drainCallback: (() => void) | null = null;
  /** The handler got its last callback (end or error): nothing more goes to it. */
  private settled = false;
  /** Handed to the connection manager (after `onRequestStart`): observed, filters run. */
  begun = false;

  constructor(
    manager: HttpConnectionManager,
    connection: ConnectionInfoImpl,
    request: RequestHeadImpl,
    body: Readable | Buffer | null,
    handler: Dispatcher.DispatchHandler,
  ) {
    super(manager, connection, 'HTTP/1.1', request, null, null);
    this.body = body;
    if (Buffer.isBuffer(body)) this.info.bytesReceived = body.length;
    this.handler = handler;
  }

  /** Whether the handler paused the response body. */
  get paused(): boolean {
    return this.pausedFlag;
  }

  /** Why the caller aborted, `null` unless it did. */
  get reason(): Error | null {
    return this.abortReason;
  }

  /** The caller gives up: the upstream request is cancelled and the handler gets `reason`. */
  abort(reason: Error): void {
    if (this.settled || this.abortReason !== null) return;
    this.abortReason = reason;
    if (this.begun) this.clientAborted();
    else if (this.body !== null && !Buffer.isBuffer(this.body)) this.body.destroy();
    this.fail(reason);
  }

  /** The handler takes no more body for now: the router stops reading upstream. */
  pause(): void {
    this.pausedFlag = true;
  }

  /** The handler takes body again. */
  resume(): void {
    if (!this.pausedFlag) return;
    this.pausedFlag = false;
    const callback = this.drainCallback;
    this.drainCallback = null;
    if (callback !== null) callback();
  }

  protected writeHead(head: ResponseHead): void {
    // One pass over the head: the flat list (what undici's `fetch` reads as the controller's
    // `rawHeaders`) and the header object (what `onResponseStart` gets) together.
    const manager = this.manager;
    const source = head.headers;
    const flat: string[] = [];
    const headers: Record<string, string | string[]> = {};
    for (const name in source) {
      const value = source[name];
      if (value === undefined || manager.isHopByHopResponseHeader(name)) continue;
      if (typeof value === 'string') {
        flat.push(name, value);
        headers[name] = value;
      } else if (value.length > 0) {
        for (const v of value) flat.push(name, v);
        headers[name] = value.length === 1 ? (value[0] as string) : value.slice();
      }
    }
    const server = manager.serverName;
    if (server !== '' && source.server === undefined) {
      flat.push('server', server);
      headers.server = server;
    }
    this.rawHeaders = flat;
    if (this.settled) return;
    try {
      this.handler.onResponseStart?.(this, head.status, headers, STATUS_CODES[head.status] ?? '');
    } catch (error) {
      this.abort(error as Error);
    }
  }

  protected writeLocal(head: ResponseHead, body: Buffer | null): void {
    this.writeHead(head);
    if (body !== null) this.write(body);
    this.end();
  }

  write(chunk: Buffer): boolean {
    if (this.settled) return true;
    this.info.bytesSent += chunk.length;
    try {
      this.handler.onResponseData?.(this, chunk);
    } catch (error) {
      this.abort(error as Error);
      return true;
    }
    return !this.pausedFlag;
  }

  onDrain(callback: () => void): void {
    if (!this.pausedFlag) callback();
    else this.drainCallback = callback;
  }

  end(trailers?: HeaderMap): void {
    if (this.settled) return;
    this.settled = true;
    let out = NO_TRAILERS;
    if (trailers !== undefined) {
      out = {};
      const flat: string[] = [];
      for (const name in trailers) {
        const value = trailers[name];
        if (value === undefined) continue;
        out[name] = value;
        if (typeof value === 'string') flat.push(name, value);
        else for (const v of value) flat.push(name, v);
      }
      this.rawTrailers = flat;
    }
    this.complete();
    try {
      this.handler.onResponseEnd?.(this, out);
    } catch (error) {
      this.manager.env.onError(error, 'egress handler onResponseEnd');
    }
  }

  reset(): void {
    if (this.phase === Phase.Done) return;
    this.info.responseFlags.add('LR');
    this.complete();
    this.fail(new errors.SocketError('meshlet egress: the upstream response was reset'));
  }

  /** Tells the handler the request failed, once. */
  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.drainCallback = null;
    try {
      this.handler.onResponseError?.(this, error);
    } catch (thrown) {
      this.manager.env.onError(thrown, 'egress handler onResponseError');
    }
  }
}
