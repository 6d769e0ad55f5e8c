// One request through the connection manager: the HttpContext filters see, and the
// DownstreamStream the router filter writes to. HTTP/1, upgraded HTTP/1 and HTTP/2 differ only in
// how the response goes out (the subclasses).
import type { Duplex, Readable } from 'node:stream';
import type {
  DownstreamProtocol,
  DownstreamStream,
  HeaderMap,
  HttpContext,
  MatchInput,
  ResponseHead,
  RouteEntry,
} from '../types.js';
import type { FilterChainPlan, ChainLink, ChainStream } from '../filters/chain.js';
import { runCompleteHooks, runRequestHooks, runResponseHooks } from '../filters/chain.js';
import type { ConnectionInfoImpl } from '../listener/connection.js';
import type { HttpConnectionManager } from './connection-manager.js';
import { buildLocalReply } from './local-reply.js';
import type { RequestHeadImpl } from './stream-info.js';
import { ResponseHeadImpl, StreamInfoImpl } from './stream-info.js';

/** Where a stream is. */
export const Phase = {
  /** Request hooks running. */
  Request: 0,
  /** Handed to the router filter. */
  Forwarded: 1,
  /** Response hooks running over a head (upstream or local). */
  Responding: 2,
  /** The head is out; body flowing. */
  Sent: 3,
  /** Ended, reset or aborted. */
  Done: 4,
} as const;
type PhaseValue = (typeof Phase)[keyof typeof Phase];

const NOT_MATCHED: unique symbol = Symbol('not matched');

/** The base of HTTP/1, upgrade and HTTP/2 streams. */
export abstract class HttpStream implements HttpContext, DownstreamStream, ChainStream, MatchInput {
  readonly request: RequestHeadImpl;
  response: ResponseHead | null = null;
  readonly connection: ConnectionInfoImpl;
  readonly protocol: DownstreamProtocol;
  readonly requestId: string;
  readonly isGrpc: boolean;
  readonly info: StreamInfoImpl;
  readonly plan: FilterChainPlan;
  readonly filterConfigs: unknown[];
  requestIndex = 0;
  responseIndex = -1;
  aborted = false;
  replied = false;
  body: Readable | Buffer | null;
  readonly upgrade: { readonly socket: Duplex; readonly head: Buffer } | null;
  readonly manager: HttpConnectionManager;
  phase: PhaseValue = Phase.Request;
  private routeCache: RouteEntry | null | typeof NOT_MATCHED = NOT_MATCHED;
  private stateMap: Map<string | symbol, unknown> | null = null;
  private proceedCallback: ((send: boolean) => void) | null = null;
  private localBody: Buffer | null = null;
  // The router filter's callback, and any more (filters) after it: no array for the usual one.
  private abortCallback: (() => void) | null = null;
  private abortCallbacks: (() => void)[] | null = null;
  private completed = false;

  constructor(
    manager: HttpConnectionManager,
    connection: ConnectionInfoImpl,
    protocol: DownstreamProtocol,
    request: RequestHeadImpl,
    body: Readable | null,
    upgrade: { readonly socket: Duplex; readonly head: Buffer } | null,
  ) {
    this.manager = manager;
    this.connection = connection;
    this.protocol = protocol;
    this.request = request;
    this.body = body;
    this.upgrade = upgrade;
    this.plan = manager.plan;
    this.filterConfigs = new Array<unknown>(manager.plan.links.length);
    const env = manager.env;
    this.info = new StreamInfoImpl(env.now(), env.wallNow(), connection.remoteAddress);
    this.requestId = manager.prepareRequest(request, connection, this.info, upgrade !== null);
    const contentType = request.headers['content-type'];
    this.isGrpc = typeof contentType === 'string' && contentType.startsWith('application/grpc');
  }

  /** `this`: the stream is its own context. */
  get ctx(): HttpContext {
    return this;
  }

  get route(): RouteEntry | null {
    if (this.routeCache === NOT_MATCHED) this.routeCache = this.manager.routeTable.match(this);
    return this.routeCache;
  }

  clearRouteCache(): void {
    this.routeCache = NOT_MATCHED;
  }

  get state(): Map<string | symbol, unknown> {
    this.stateMap ??= new Map();
    return this.stateMap;
  }

  get live(): boolean {
    return this.phase !== Phase.Done && !this.aborted;
  }

  random(): number {
    return this.manager.env.random();
  }

  /** Runs the stream: the upgrade check, the request hooks, then the router filter. */
  start(): void {
    if (this.upgrade !== null && !this.manager.upgradeAllowed(this)) {
      this.info.responseCodeDetails = 'upgrade_failed';
      this.reply(403);
      return;
    }
    runRequestHooks(this, 0);
  }

  forward(): void {
    this.phase = Phase.Forwarded;
    try {
      this.manager.router.handle(this);
    } catch (error) {
      this.manager.env.onError(error, 'router filter');
      this.failAfterError('router_filter_error');
    }
  }

  reply(status: number, body?: string | Buffer, headers?: HeaderMap): void {
    if (this.phase === Phase.Done) return;
    if (this.phase === Phase.Sent) {
      // The head is out: a reply can no longer replace it.
      this.reset();
      return;
    }
    const local = buildLocalReply(status, body, headers, this.isGrpc);
    this.replied = true;
    this.localBody = local.body;
    this.response = new ResponseHeadImpl(local.status, local.headers);
    if (this.info.responseCodeDetails === '') this.info.responseCodeDetails = 'via_local_reply';
    // Inside the response hooks the running loop carries on over the new head.
    if (this.phase === Phase.Responding) return;
    this.phase = Phase.Responding;
    this.responseIndex = this.requestIndex - 1;
    runResponseHooks(this);
  }

  respond(head: ResponseHead, proceed: (send: boolean) => void): void {
    if (!this.live || this.replied || this.phase !== Phase.Forwarded) {
      proceed(false);
      return;
    }
    this.response = head;
    this.proceedCallback = proceed;
    this.phase = Phase.Responding;
    this.responseIndex = this.requestIndex - 1;
    runResponseHooks(this);
  }

  sendResponse(): void {
    const head = this.response as ResponseHead;
    const proceed = this.proceedCallback;
    this.proceedCallback = null;
    this.phase = Phase.Sent;
    if (this.replied) {
      this.writeLocal(head, this.localBody);
      this.localBody = null;
      if (proceed !== null) proceed(false);
      return;
    }
    this.writeHead(head);
    if (proceed !== null) proceed(true);
  }

  hookFailed(error: unknown, link: ChainLink): void {
    this.manager.env.onError(error, `http filter "${link.instanceName}"`);
    this.failAfterError('filter_error');
  }

  private failAfterError(details: string): void {
    if (this.phase === Phase.Done) return;
    if (this.phase === Phase.Sent) {
      this.reset();
      return;
    }
    this.info.responseCodeDetails = details;
    this.reply(500, 'internal error');
  }

  onAbort(callback: () => void): void {
    if (this.aborted) {
      callback();
      return;
    }
    if (this.abortCallback === null) this.abortCallback = callback;
    else (this.abortCallbacks ??= []).push(callback);
  }

  readBody(limitBytes: number): Promise<Buffer | null> {
    const body = this.body;
    if (body === null) return Promise.resolve(Buffer.alloc(0));
    if (Buffer.isBuffer(body)) {
      if (body.length <= limitBytes) return Promise.resolve(body);
      this.reply(413, 'Payload Too Large');
      return Promise.resolve(null);
    }
    const declared = this.request.headers['content-length'];
    if (typeof declared === 'string' && Number(declared) > limitBytes) {
      this.reply(413, 'Payload Too Large');
      return Promise.resolve(null);
    }
    return new BodyReader(this, body, limitBytes).promise;
  }

  /** The body read by `readBody` becomes the body to forward. */
  bodyRead(buffer: Buffer): void {
    this.body = buffer;
    this.info.bytesReceived = buffer.length;
  }

  /** The client went away before the response ended. */
  protected clientAborted(): void {
    if (this.phase === Phase.Done) return;
    this.aborted = true;
    this.info.responseFlags.add('DC');
    const first = this.abortCallback;
    const more = this.abortCallbacks;
    this.abortCallback = null;
    this.abortCallbacks = null;
    if (first !== null) this.runAbortCallback(first);
    if (more !== null) for (const callback of more) this.runAbortCallback(callback);
    this.complete();
  }

  private runAbortCallback(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.manager.env.onError(error, 'abort callback');
    }
  }

  /** The stream is over (response ended, reset or aborted): `onComplete` hooks, once. */
  protected complete(): void {
    this.phase = Phase.Done;
    if (this.completed) return;
    this.completed = true;
    this.info.endTime = this.manager.env.now();
    runCompleteHooks(this, (error, link) => {
      this.manager.env.onError(error, `http filter "${link.instanceName}" onComplete`);
    });
    this.manager.streamDone(this);
  }

  /** Response headers as a flat `[name, value, ...]` list, hop-by-hop headers dropped. */
  protected flatHeaders(headers: HeaderMap, extra: readonly string[]): string[] {
    const out: string[] = [];
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined || this.manager.isHopByHopResponseHeader(name)) continue;
      if (typeof value === 'string') out.push(name, value);
      else for (const v of value) out.push(name, v);
    }
    const server = this.manager.serverName;
    if (server !== '' && headers.server === undefined) out.push('server', server);
    for (const v of extra) out.push(v);
    return out;
  }

  abstract write(chunk: Buffer): boolean;
  abstract onDrain(callback: () => void): void;
  abstract end(trailers?: HeaderMap): void;
  abstract reset(): void;
  /** Sends the head of a response whose body the router streams. */
  protected abstract writeHead(head: ResponseHead): void;
  /** Sends a local reply, whole. */
  protected abstract writeLocal(head: ResponseHead, body: Buffer | null): void;
}

/** Reads a request body up to a limit for `readBody`. */
class BodyReader {
  readonly promise: Promise<Buffer | null>;
  private resolve!: (value: Buffer | null) => void;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly stream: HttpStream;
  private readonly body: Readable;
  private readonly limit: number;
  private done = false;

  constructor(stream: HttpStream, body: Readable, limit: number) {
    this.stream = stream;
    this.body = body;
    this.limit = limit;
    this.promise = new Promise((resolve) => {
      this.resolve = resolve;
    });
    body.on('data', this.onData);
    body.once('end', this.onEnd);
    body.once('close', this.onClose);
    body.once('error', this.onClose);
  }

  private finish(value: Buffer | null): void {
    if (this.done) return;
    this.done = true;
    this.body.off('data', this.onData);
    this.body.off('end', this.onEnd);
    this.body.off('close', this.onClose);
    this.body.off('error', this.onClose);
    this.resolve(value);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.finish(null);
      this.stream.reply(413, 'Payload Too Large');
      return;
    }
    this.chunks.push(chunk);
  };

  private readonly onEnd = (): void => {
    const buffer =
      this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size);
    this.stream.bodyRead(buffer);
    this.finish(buffer);
  };

  private readonly onClose = (): void => {
    this.finish(null);
  };
}
