// The in-process egress path: a request made in the application runs through a connection
// manager (route table, HTTP filters, router filter, observers) with no socket to a local
// listener. `HttpProxy.egress(name)` hands these out; `dispatch` speaks undici's Dispatcher API.
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { InvalidArgumentError } from '@meshlet/errors';
import type { HeaderMap } from '../types.js';
import { ConnectionInfoImpl } from '../listener/connection.js';
import type { HttpConnectionManager } from '../http/connection-manager.js';
import { RequestHeadImpl } from '../http/stream-info.js';
import { EgressStream } from './egress-stream.js';

/** Finds the connection manager an egress name stands for in the config version now in effect. */
export type EgressResolver = (name: string) => HttpConnectionManager | null;

/**
 * An egress of a proxy: requests dispatched here get the routing, load balancing, retries,
 * timeouts, breakers, outlier detection, stats, access logs and tracing of a listener's
 * connection manager, or of a route configuration with the router alone. Get one with
 * `proxy.egress(name)`.
 *
 * @example
 * ```ts
 * const egress = proxy.egress('outbound_routes');
 * egress.dispatch({ origin: 'http://orders', path: '/api/orders/7', method: 'GET' }, handler);
 * ```
 */
export class Egress {
  /** The listener or route configuration name this egress runs through. */
  readonly name: string;
  private readonly resolve: EgressResolver;
  private readonly connection: ConnectionInfoImpl;

  constructor(name: string, resolve: EgressResolver) {
    this.name = name;
    this.resolve = resolve;
    this.connection = new ConnectionInfoImpl(
      `egress:${name}`,
      '127.0.0.1',
      0,
      '127.0.0.1',
      0,
      false,
      undefined,
      undefined,
    );
  }

  /**
   * Runs one request, undici's `Dispatcher.dispatch` protocol: `onRequestStart` first, then the
   * response (`onResponseStart`, `onResponseData` with backpressure by the controller's
   * `pause`/`resume`, `onResponseEnd`) or `onResponseError`. Data-plane outcomes (no route,
   * overflow, upstream failures) are responses, as from a listener. Always returns `true`.
   */
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const manager = this.resolve(this.name);
    if (manager === null) {
      failDispatch(
        handler,
        new InvalidArgumentError(`egress "${this.name}": no such listener or route configuration`),
      );
      return true;
    }
    let request: RequestHeadImpl;
    let body: Readable | Buffer | null;
    try {
      if (options.upgrade !== undefined && options.upgrade !== null) {
        throw new InvalidArgumentError('egress: upgrade requests are not supported in-process');
      }
      request = requestHeadOf(options);
      body = bodyOf(options.body, request.headers);
    } catch (error) {
      failDispatch(handler, error as Error);
      return true;
    }
    const stream = new EgressStream(manager, this.connection, request, body, handler);
    try {
      handler.onRequestStart?.(stream, {});
    } catch (error) {
      stream.fail(error as Error);
      return true;
    }
    // Aborted in `onRequestStart`: the stream never began (nothing observed, nothing sent).
    if (stream.reason !== null) return true;
    stream.begun = true;
    manager.begin(stream);
    return true;
  }
}

/** The controller of a request that failed before it began: every call is a no-op. */
class SettledController implements Dispatcher.DispatchController {
  readonly aborted = true;
  readonly paused = false;
  readonly reason: Error;
  constructor(reason: Error) {
    this.reason = reason;
  }
  abort(): void {
    // Already over.
  }
  pause(): void {
    // Nothing flows.
  }
  resume(): void {
    // Nothing flows.
  }
}

/**
 * Fails a dispatch before any stream exists, as undici's handler protocol expects: the handler
 * still gets a controller (`onRequestStart`), then the error, on a later microtask.
 */
export function failDispatch(handler: Dispatcher.DispatchHandler, error: Error): void {
  const controller = new SettledController(error);
  queueMicrotask(() => {
    handler.onRequestStart?.(controller, {});
    handler.onResponseError?.(controller, error);
  });
}

function requestHeadOf(options: Dispatcher.DispatchOptions): RequestHeadImpl {
  const origin = options.origin;
  if (origin === undefined) throw new InvalidArgumentError('egress: dispatch options need an origin');
  const url = typeof origin === 'string' ? new URL(origin) : origin;
  const headers = headerMapOf(options.headers);
  let authority = url.host;
  const host = headers.host;
  if (typeof host === 'string' && host !== '') authority = host;
  if (host !== undefined) delete headers.host;
  const path = typeof options.path === 'string' && options.path !== '' ? options.path : '/';
  return new RequestHeadImpl(
    options.method,
    url.protocol === 'https:' ? 'https' : 'http',
    authority,
    path,
    headers,
  );
}

function addHeader(out: HeaderMap, name: string, value: unknown): void {
  if (value === undefined || value === null) return;
  const key = name.toLowerCase();
  const previous = out[key];
  if (Array.isArray(value)) {
    for (const v of value) addHeader(out, key, v);
    return;
  }
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean') text = String(value);
  else if (Buffer.isBuffer(value)) text = value.toString('latin1');
  else throw new InvalidArgumentError(`egress: header "${name}" has a value that is not a string`);
  if (previous === undefined) out[key] = text;
  else if (typeof previous === 'string') out[key] = [previous, text];
  else previous.push(text);
}

/** undici's header forms (an object, a flat `[name, value, ...]` list, or `[name, value]` pairs) as a map. */
function headerMapOf(headers: Dispatcher.DispatchOptions['headers']): HeaderMap {
  const out: HeaderMap = {};
  if (headers === undefined || headers === null) return out;
  if (Array.isArray(headers)) {
    const list = headers as unknown[];
    for (let i = 0; i + 1 < list.length; i += 2) addHeader(out, String(list[i]), list[i + 1]);
    return out;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of headers as Iterable<[string, unknown]>) addHeader(out, pair[0], pair[1]);
    return out;
  }
  const record = headers as Record<string, unknown>;
  for (const name in record) addHeader(out, name, record[name]);
  return out;
}

/** The request body as the router takes it: a buffer (with its length) or a byte stream. */
function bodyOf(body: unknown, headers: HeaderMap): Readable | Buffer | null {
  if (body === undefined || body === null) return null;
  let buffer: Buffer | null = null;
  if (typeof body === 'string') buffer = Buffer.from(body, 'utf8');
  else if (Buffer.isBuffer(body)) buffer = body;
  else if (body instanceof Uint8Array) buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buffer !== null) {
    headers['content-length'] ??= String(buffer.length);
    return buffer;
  }
  if (body instanceof Readable) return body;
  if (
    typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ||
    typeof (body as Iterable<unknown>)[Symbol.iterator] === 'function'
  ) {
    return Readable.from(body as AsyncIterable<Uint8Array>, { objectMode: false });
  }
  throw new InvalidArgumentError(
    'egress: body must be a string, Buffer, Uint8Array, Readable or (async) iterable',
  );
}
