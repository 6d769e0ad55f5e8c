// An HTTP/1 request served by the llhttp fast path (listener/http1-fast.ts): the response head is
// built here as one string (what node:http's ServerResponse would send, without its object layer)
// and goes out through the connection, which keeps pipelined responses in order.
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import type { DownstreamConnection } from '../listener/connection.js';
import type { DownstreamProtocol, HeaderMap, ResponseHead } from '../types.js';
import type { HttpConnectionManager } from './connection-manager.js';
import { isHopByHop } from './headers.js';
import type { RequestHeadImpl } from './stream-info.js';
import { HttpStream, Phase } from './stream.js';

/** The connection side of a fast-path stream: ordered output and the end of each response. */
export interface FastH1Output {
  /** Registers a new stream: its response goes out after those registered before it. */
  enqueue(stream: FastH1Stream): void;
  /** Sends bytes of `stream`'s response (held while an earlier response is still going out). */
  send(stream: FastH1Stream, data: string | Buffer): boolean;
  /** `stream`'s response is complete; `close` closes the connection after it. */
  responseEnded(stream: FastH1Stream, close: boolean): void;
  /** `callback` once the socket drains. */
  onDrain(callback: () => void): void;
  /** Closes the connection now. */
  destroy(): void;
  /** Whether the request asked to keep the connection (llhttp's `should_keep_alive`). */
  readonly keepAlive: boolean;
  /** Whether the request was `HEAD` (no response body). */
  readonly head: boolean;
  /** The `Keep-Alive: timeout=` seconds to announce, 0 for none. */
  readonly keepAliveSeconds: number;
}

/** A request body on the fast path: a Readable that knows when the whole body was received. */
export type ArrivingBody = Readable & { readonly complete: boolean };

/** RFC 9110 token (node's `checkIsHttpToken`). */
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;
/** Characters a header value may not hold (node's `checkInvalidHeaderChar`). */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** A header that cannot be written: the same error node:http's `writeHead` throws. */
class InvalidHeaderError extends TypeError {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

function headerLine(name: string, value: string): string {
  if (!TOKEN.test(name))
    throw new InvalidHeaderError(
      'ERR_INVALID_HTTP_TOKEN',
      `Header name must be a valid HTTP token ["${name}"]`,
    );
  if (INVALID_VALUE.test(value))
    throw new InvalidHeaderError('ERR_INVALID_CHAR', `Invalid character in header content ["${name}"]`);
  return `${name}: ${value}\r\n`;
}

// The `Date` header, made once per second (as node:http does).
let dateSecond = -1;
let dateHeader = '';
function date(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateHeader = `Date: ${new Date(now).toUTCString()}\r\n`;
  }
  return dateHeader;
}

/** An HTTP/1 request on the llhttp fast path. */
export class FastH1Stream extends HttpStream {
  private readonly out: FastH1Output;
  private readonly downstream: DownstreamConnection;
  private keepAlive: boolean;
  private readonly isHead: boolean;
  /** The request body as it arrives (`complete` once whole), or `null` without one. */
  private readonly requestBody: ArrivingBody | null;
  /** The response carries no body (HEAD, 1xx, 204, 304): writes are dropped. */
  private bodiless = false;
  private chunked = false;
  private close = false;
  private ended = false;
  /** Bytes held while an earlier pipelined response is still going out (the connection's). */
  held: (string | Buffer)[] | null = null;
  /** The response ended while held; whether it closes the connection. */
  heldEnd: boolean | null = null;

  constructor(
    manager: HttpConnectionManager,
    downstream: DownstreamConnection,
    protocol: DownstreamProtocol,
    request: RequestHeadImpl,
    body: ArrivingBody | null,
    out: FastH1Output,
  ) {
    super(manager, downstream.info, protocol, request, body, null);
    this.requestBody = body;
    this.out = out;
    this.downstream = downstream;
    this.keepAlive = out.keepAlive;
    this.isHead = out.head;
    out.enqueue(this);
  }

  /** The response will close the connection (`Connection: close`), e.g. under overload. */
  closeAfterResponse(): void {
    this.keepAlive = false;
  }

  /** The connection closed before the response ended. */
  closed(): void {
    if (!this.ended) this.clientAborted();
  }

  protected writeHead(head: ResponseHead): void {
    const status = head.status;
    const headers = head.headers;
    const limit = this.manager.maxRequestsPerConnection;
    // A response that goes out before its request body was read whole (a 413, an early upstream
    // answer) closes the connection, as Envoy does: the rest would have to be read and dropped.
    let close =
      !this.keepAlive ||
      this.downstream.owner.draining ||
      (limit > 0 && this.downstream.requests >= limit) ||
      (this.requestBody !== null && !this.requestBody.complete);
    let text = `HTTP/1.1 ${String(status)} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined || isHopByHop(name)) continue;
      if (typeof value === 'string') text += headerLine(name, value);
      else for (const v of value) text += headerLine(name, v);
    }
    const server = this.manager.serverName;
    if (server !== '' && headers.server === undefined) text += headerLine('server', server);
    if (headers.date === undefined) text += date();
    this.bodiless = this.isHead || status === 204 || status === 304 || status < 200;
    if (headers['content-length'] === undefined && !this.bodiless) {
      // No length: chunked to an HTTP/1.1 client; an HTTP/1.0 client reads until the close.
      if (this.protocol === 'HTTP/1.1') {
        this.chunked = true;
        text += 'Transfer-Encoding: chunked\r\n';
      } else close = true;
    }
    this.close = close;
    if (close) text += 'Connection: close\r\n';
    else {
      text += 'Connection: keep-alive\r\n';
      const seconds = this.out.keepAliveSeconds;
      if (seconds > 0) text += `Keep-Alive: timeout=${String(seconds)}\r\n`;
    }
    this.out.send(this, `${text}\r\n`);
  }

  protected writeLocal(head: ResponseHead, body: Buffer | null): void {
    this.writeHead(head);
    if (body !== null && body.length > 0) this.write(body);
    this.end();
  }

  write(chunk: Buffer): boolean {
    this.info.bytesSent += chunk.length;
    if (this.bodiless || chunk.length === 0) return true;
    if (!this.chunked) return this.out.send(this, chunk);
    this.out.send(this, `${chunk.length.toString(16)}\r\n`);
    this.out.send(this, chunk);
    return this.out.send(this, '\r\n');
  }

  onDrain(callback: () => void): void {
    this.out.onDrain(callback);
  }

  end(trailers?: HeaderMap): void {
    if (this.ended) return;
    this.ended = true;
    if (this.chunked) {
      let text = '0\r\n';
      if (trailers !== undefined) {
        for (const name in trailers) {
          const value = trailers[name];
          if (value === undefined) continue;
          if (typeof value === 'string') text += headerLine(name, value);
          else for (const v of value) text += headerLine(name, v);
        }
      }
      this.out.send(this, `${text}\r\n`);
    }
    this.out.responseEnded(this, this.close);
    this.complete();
  }

  reset(): void {
    if (this.phase === Phase.Done) return;
    this.info.responseFlags.add('LR');
    this.ended = true;
    this.complete();
    this.out.destroy();
  }
}
