// The HTTP/1.1 fast path (DESIGN.md §2): node's own llhttp binding driven directly on the socket,
// without node:http's IncomingMessage / ServerResponse layer. Requests go to the same connection
// manager (filters, router, stats) as node:http's; what node:http does around the parser is done
// here the same way: strict parsing (no lenient flags: smuggling attempts are parse errors),
// header merging, `Expect: 100-continue`, pipelined responses kept in order, keep-alive, upgrades,
// HEAD, chunked responses, request and header timeouts (slowloris), the idle timeouts, 400 / 408 /
// 431 answers to bad requests.
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { Duplex } from 'node:stream';
import { hasSecondHost } from '../http/connection-manager.js';
import type { FastH1Output, FastH1Stream } from '../http/h1-fast-stream.js';
import type { HeaderMap } from '../types.js';
import type { DownstreamConnection } from './connection.js';
import type { ServerLimits } from './filter-chains.js';

/** The parts of node's `_http_common` used here (node's parser binding; not typed by @types/node). */
interface ParserBinding {
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  close(): void;
  [key: number]: unknown;
}
interface ParserClass {
  new (): ParserBinding;
  readonly REQUEST: number;
  readonly kOnMessageBegin: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kLenientNone: number;
}
const common = createRequire(import.meta.url)('_http_common') as {
  readonly HTTPParser: ParserClass;
  readonly methods: readonly string[];
};
const { HTTPParser, methods } = common;
const kOnMessageBegin = HTTPParser.kOnMessageBegin;
const kOnHeaders = HTTPParser.kOnHeaders;
const kOnHeadersComplete = HTTPParser.kOnHeadersComplete;
const kOnBody = HTTPParser.kOnBody;
const kOnMessageComplete = HTTPParser.kOnMessageComplete;

const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';
const HEADERS_TOO_LARGE = 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n';
const CHUNK_EXTENSIONS_TOO_LARGE = 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n';
const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n';
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const CONTINUE_EXPRESSION = /(?:^|\W)100-continue(?:$|\W)/i;

function refusal(status: number): string {
  const reason =
    status === 431
      ? 'Request Header Fields Too Large'
      : status === 417
        ? 'Expectation Failed'
        : status === 503
          ? 'Service Unavailable'
          : 'Bad Request';
  return `HTTP/1.1 ${String(status)} ${reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`;
}

/** Headers node:http keeps the first of when repeated (its `matchKnownFields`). */
const FIRST_WINS: ReadonlySet<string> = new Set([
  'content-type',
  'content-length',
  'user-agent',
  'referer',
  'host',
  'authorization',
  'proxy-authorization',
  'if-modified-since',
  'if-unmodified-since',
  'from',
  'location',
  'max-forwards',
  'retry-after',
  'etag',
  'last-modified',
  'server',
  'age',
  'expires',
]);

/** Raw `[name, value, ...]` pairs as node:http's `req.headers`: lower-case names, repeats merged. */
export function mergeRawHeaders(raw: readonly string[]): HeaderMap {
  const out: HeaderMap = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    const existing = out[name];
    if (existing === undefined) {
      out[name] = name === 'set-cookie' ? [value] : value;
    } else if (name === 'set-cookie') {
      (existing as string[]).push(value);
    } else if (!FIRST_WINS.has(name)) {
      out[name] = `${existing as string}${name === 'cookie' ? '; ' : ', '}${value}`;
    }
  }
  return out;
}

/** A request body as a Readable: chunks pushed by the parser, reading paused on backpressure. */
class FastRequestBody extends Readable {
  /** The whole body was received (the message ended). */
  complete = false;
  private readonly connection: FastH1Connection;
  constructor(connection: FastH1Connection) {
    super();
    this.connection = connection;
    // An aborted body errors after its readers may have let go: never an uncaught error.
    this.on('error', ignore);
  }
  override _read(): void {
    this.connection.resumeReading();
  }
}

/** The fast path's server for one set of limits: its connections and their deadline checks. */
export class FastHttp1Server {
  readonly limits: ServerLimits;
  private readonly connections = new Set<FastH1Connection>();
  private timer: NodeJS.Timeout | null = null;
  private readonly interval: number;
  private readonly headersTimeoutMs: number;

  /** Reports an error that reached no request. */
  readonly onError: (error: unknown, where: string) => void;

  constructor(
    limits: ServerLimits,
    checkingIntervalMs: number,
    onError: (error: unknown, where: string) => void,
  ) {
    this.limits = limits;
    this.onError = onError;
    this.interval = checkingIntervalMs;
    this.headersTimeoutMs =
      limits.requestTimeoutMs > 0
        ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs)
        : limits.headersTimeoutMs;
  }

  /** Serves HTTP/1 on `socket`. */
  attach(socket: Duplex, downstream: DownstreamConnection): void {
    const connection = new FastH1Connection(this, socket, downstream);
    this.connections.add(connection);
    if (this.timer === null && (this.headersTimeoutMs > 0 || this.limits.requestTimeoutMs > 0)) {
      this.timer = setInterval(this.check, this.interval);
      this.timer.unref();
    }
  }

  /** A connection closed. */
  removed(connection: FastH1Connection): void {
    this.connections.delete(connection);
    if (this.connections.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Stops the deadline checks. */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** node:http's `checkConnections`: a head or a request that took too long gets a 408. */
  private readonly check = (): void => {
    const now = performance.now();
    const headers = this.headersTimeoutMs;
    const request = this.limits.requestTimeoutMs;
    for (const connection of this.connections) {
      if (!connection.parsing) continue;
      const elapsed = now - connection.messageStart;
      if ((headers > 0 && !connection.headersDone && elapsed > headers) || (request > 0 && elapsed > request))
        connection.timedOut();
    }
  };
}

/** One downstream HTTP/1 connection on the fast path. */
export class FastH1Connection implements FastH1Output {
  readonly socket: Duplex;
  readonly downstream: DownstreamConnection;
  private readonly server: FastHttp1Server;
  private readonly parser: ParserBinding;
  /** A message is being received (from its first byte, or the connection's start, to its end). */
  parsing = true;
  headersDone = false;
  messageStart: number = performance.now();
  keepAlive = true;
  head = false;
  readonly keepAliveSeconds: number;
  /** The response going out now, and those after it (pipelining). */
  private active: FastH1Stream | null = null;
  private readonly waiting: FastH1Stream[] = [];
  private body: FastRequestBody | null = null;
  private rawHeaders: string[] | null = null;
  private sendContinue = false;
  private upgrade = false;
  /** No more requests are read: the connection closes after the responses in flight. */
  private closing = false;
  /** A refusal to send once the responses before it are out. */
  private refusalText: string | null = null;
  private corked = false;
  /** Bytes of the active response went out (a parse error can no longer be answered). */
  private activeSent = false;
  private closed = false;
  private idle = false;

  constructor(server: FastHttp1Server, socket: Duplex, downstream: DownstreamConnection) {
    this.server = server;
    this.socket = socket;
    this.downstream = downstream;
    const limits = server.limits;
    this.keepAliveSeconds = limits.idleTimeoutMs > 0 ? Math.floor(limits.idleTimeoutMs / 1000) : 0;
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.REQUEST, {}, limits.maxHeaderSize, HTTPParser.kLenientNone);
    parser[kOnMessageBegin] = this.onMessageBegin;
    parser[kOnHeaders] = this.onHeaders;
    parser[kOnHeadersComplete] = this.onHeadersComplete;
    parser[kOnBody] = this.onBody;
    parser[kOnMessageComplete] = this.onMessageComplete;
    this.parser = parser;
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function')
      (socket as { setNoDelay(v: boolean): void }).setNoDelay(true);
    if (limits.streamIdleTimeoutMs > 0) this.setTimeout(limits.streamIdleTimeoutMs);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('timeout', this.onTimeout);
  }

  private setTimeout(ms: number): void {
    (this.socket as Duplex & { setTimeout(ms: number): void }).setTimeout(ms);
  }

  // ── reading ───────────────────────────────────────────────────────────────────────────────

  private readonly onData = (chunk: Buffer): void => {
    if (this.closing) return;
    let result: number | Error;
    try {
      result = this.parser.execute(chunk);
    } catch (error) {
      // A request handler threw through the parser: this connection cannot go on.
      this.socket.destroy();
      this.server.onError(error, 'HTTP/1 fast path');
      return;
    }
    if (typeof result !== 'number') {
      this.parseError(result);
      return;
    }
    if (this.upgrade) this.upgraded(chunk.subarray(result));
  };

  private readonly onEnd = (): void => {
    if (this.closed || this.upgrade) return;
    const result = this.parser.finish();
    if (result instanceof Error) {
      this.parseError(result);
      return;
    }
    // node:http (httpAllowHalfOpen off): a half-closed client gives up its requests.
    this.abortStreams();
    this.socket.end();
  };

  private readonly onClose = (): void => {
    this.closed = true;
    this.server.removed(this);
    this.socket.off('data', this.onData);
    this.abortStreams();
    if (!this.upgrade) this.parser.close();
  };

  private readonly onTimeout = (): void => {
    // A kept-alive connection idle too long, or a stream without activity: node:http closes both.
    this.socket.destroy();
  };

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.closed) this.socket.resume();
  }

  private readonly onMessageBegin = (): void => {
    this.parsing = true;
    this.headersDone = false;
    this.messageStart = performance.now();
    this.rawHeaders = null;
    if (this.idle) {
      this.idle = false;
      this.setTimeout(this.server.limits.streamIdleTimeoutMs);
    }
    return undefined;
  };

  /** Headers beyond the parser's first batch (a request with many headers). */
  private readonly onHeaders = (headers: string[]): void => {
    if (this.rawHeaders === null) this.rawHeaders = headers;
    else for (const h of headers) this.rawHeaders.push(h);
  };

  private readonly onHeadersComplete = (
    _versionMajor: number,
    versionMinor: number,
    headers: string[] | undefined,
    methodIndex: number,
    url: string | undefined,
    _statusCode: number,
    _statusMessage: string,
    upgrade: boolean,
    shouldKeepAlive: boolean,
  ): number => {
    this.headersDone = true;
    // A refused request closes the connection: what was pipelined after it is not served.
    if (this.closing) return 1;
    let raw = headers ?? [];
    if (this.rawHeaders !== null) {
      for (const h of raw) this.rawHeaders.push(h);
      raw = this.rawHeaders;
      this.rawHeaders = null;
    }
    const method = methods[methodIndex] ?? 'GET';
    if (hasSecondHost(raw)) {
      // RFC 9112 §3.2: more than one Host is a 400 (a proxy keeping the first and an upstream the
      // last would route differently).
      this.refuse(400);
      return 1;
    }
    const merged = mergeRawHeaders(raw);
    const count = raw.length / 2;
    if (upgrade) {
      this.upgrade = true;
      this.pendingUpgrade = { method, url: url ?? '/', headers: merged, count, versionMinor };
      // Stop at the head: what follows belongs to the upgraded protocol.
      return 2;
    }
    const manager = this.downstream.currentManager();
    if (manager === null) {
      this.refuse(503);
      return 1;
    }
    const expect = merged.expect;
    if (typeof expect === 'string' && versionMinor === 1) {
      if (!CONTINUE_EXPRESSION.test(expect)) {
        this.refuse(417);
        return 1;
      }
      this.sendContinue = true;
    }
    this.keepAlive = shouldKeepAlive;
    this.head = method === 'HEAD';
    const length = merged['content-length'];
    const hasBody = length !== undefined ? length !== '0' : merged['transfer-encoding'] !== undefined;
    const body = hasBody ? new FastRequestBody(this) : null;
    this.body = body;
    const result = manager.handleFastH1(
      method,
      url ?? '/',
      merged,
      count,
      versionMinor,
      body,
      this.downstream,
      this,
    );
    if (typeof result === 'number') {
      this.body = null;
      this.refuse(result);
    }
    return 0;
  };

  private pendingUpgrade: {
    method: string;
    url: string;
    headers: HeaderMap;
    count: number;
    versionMinor: number;
  } | null = null;

  private readonly onBody = (chunk: Buffer): void => {
    const body = this.body;
    if (body === null || body.destroyed) return;
    if (!body.push(chunk)) this.pauseReading();
  };

  private readonly onMessageComplete = (): void => {
    this.parsing = false;
    const body = this.body;
    this.body = null;
    if (body !== null) {
      body.complete = true;
      if (!body.destroyed) body.push(null);
    }
    if (this.active === null && !this.closing) this.becomeIdle();
  };

  /** No request in flight: the keep-alive timeout runs. */
  private becomeIdle(): void {
    if (this.idle || this.closed) return;
    this.idle = true;
    this.setTimeout(this.server.limits.idleTimeoutMs);
  }

  private parseError(error: Error): void {
    const code = (error as { code?: unknown }).code;
    // As node:http: answered unless a response is already going out.
    if ((this.active === null || !this.activeSent) && !this.closed) {
      this.socket.write(
        code === 'HPE_HEADER_OVERFLOW'
          ? HEADERS_TOO_LARGE
          : code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
            ? CHUNK_EXTENSIONS_TOO_LARGE
            : BAD_REQUEST,
      );
    }
    this.socket.destroy();
  }

  /** node:http's request timeout: a 408 unless a response is under way, then the connection closes. */
  timedOut(): void {
    if (this.closed) return;
    if (this.active === null || !this.activeSent) this.socket.write(REQUEST_TIMEOUT);
    this.socket.destroy();
  }

  private upgraded(head: Buffer): void {
    const upgrade = this.pendingUpgrade;
    this.pendingUpgrade = null;
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('timeout', this.onTimeout);
    this.setTimeout(0);
    this.parser.close();
    this.server.removed(this);
    if (upgrade === null) return;
    // node:http without a 'connect' listener closes a CONNECT.
    if (upgrade.method === 'CONNECT') {
      this.socket.destroy();
      return;
    }
    const manager = this.downstream.currentManager();
    if (manager === null) {
      this.socket.end(refusal(503));
      return;
    }
    manager.handleRawUpgrade(
      upgrade.method,
      upgrade.url,
      upgrade.headers,
      upgrade.count,
      upgrade.versionMinor,
      this.socket,
      head,
      this.downstream,
    );
  }

  /** Answers a request refused before it became a stream, then closes. */
  private refuse(status: number): void {
    this.closing = true;
    this.refusalText = refusal(status);
    if (this.active === null) this.flushRefusal();
  }

  private flushRefusal(): void {
    const text = this.refusalText;
    this.refusalText = null;
    if (text === null || this.closed) return;
    this.socket.end(text);
  }

  // ── writing (FastH1Output) ────────────────────────────────────────────────────────────────

  enqueue(stream: FastH1Stream): void {
    if (this.active === null) {
      this.active = stream;
      this.activeSent = false;
    } else this.waiting.push(stream);
    if (this.sendContinue) {
      this.sendContinue = false;
      this.send(stream, CONTINUE);
    }
  }

  send(stream: FastH1Stream, data: string | Buffer): boolean {
    if (stream !== this.active) {
      (stream.held ??= []).push(data);
      return true;
    }
    if (this.closed) return false;
    this.activeSent = true;
    const socket = this.socket;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(uncork, this);
    }
    return typeof data === 'string' ? socket.write(data, 'latin1') : socket.write(data);
  }

  /** @internal */
  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  responseEnded(stream: FastH1Stream, close: boolean): void {
    if (stream !== this.active) {
      stream.heldEnd = close;
      return;
    }
    this.uncork();
    // node:http dumps what is left of a request body once its response is out.
    this.dump(stream);
    if (close) {
      this.closing = true;
      this.active = null;
      this.socket.end();
      return;
    }
    let next = this.waiting.shift() ?? null;
    this.active = next;
    this.activeSent = false;
    while (next !== null) {
      const held = next.held;
      next.held = null;
      if (held !== null) for (const data of held) this.send(next, data);
      const end = next.heldEnd;
      if (end === null) return;
      this.uncork();
      this.dump(next);
      if (end) {
        this.closing = true;
        this.active = null;
        this.socket.end();
        return;
      }
      next = this.waiting.shift() ?? null;
      this.active = next;
      this.activeSent = false;
    }
    if (this.refusalText !== null) {
      this.flushRefusal();
      return;
    }
    if (!this.parsing) this.becomeIdle();
  }

  private dump(stream: FastH1Stream): void {
    const body = stream.body;
    if (body instanceof FastRequestBody && !body.readableEnded && !body.destroyed) {
      body.removeAllListeners('data');
      body.resume();
    }
  }

  onDrain(callback: () => void): void {
    this.socket.once('drain', callback);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private abortStreams(): void {
    const body = this.body;
    this.body = null;
    if (body !== null) abortBody(body);
    const active = this.active;
    this.active = null;
    const waiting = this.waiting.splice(0);
    if (active !== null) abort(active);
    for (const stream of waiting) abort(stream);
  }
}

function abort(stream: FastH1Stream): void {
  const body = stream.body;
  if (body instanceof FastRequestBody) abortBody(body);
  stream.closed();
}

/** A body cut short: an `aborted` error (ECONNRESET), as node:http's request gets. */
function abortBody(body: FastRequestBody): void {
  if (body.readableEnded || body.destroyed) return;
  body.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
}

function ignore(): void {
  // Errors of an aborted body reach its readers' own listeners.
}

function uncork(connection: FastH1Connection): void {
  connection.uncork();
}
