// HTTP/2 abuse over real h2c sessions: rapid reset (CVE-2023-44487), SETTINGS, PING and
// CONTINUATION floods, and a header list over the limit. Each ends with the abusive session gone
// or refused, no upstream request left open, no stream left active, and other clients served.
import { type EventEmitter, once } from 'node:events';
import type http from 'node:http';
import http2 from 'node:http2';
import { describe, expect, it } from 'vitest';
import type { HttpProxy } from '../../src/index.js';
import { cluster, gateway, route, routeAction } from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';
import {
  Flag,
  FrameType,
  PREFACE,
  frame,
  h2Session,
  headerBlock,
  parseFrames,
  settings,
} from './h2-frames.js';
import { connect, report } from './raw.js';

const { cleanups, start, upstream: startUpstream } = e2eScope();

/** The value of a stat of the proxy, summed over its tags (`envoy_http_downstream_rq_active`...). */
function stat(proxy: HttpProxy, name: string): number {
  const text = proxy.stats?.prometheus() ?? '';
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** Resolves at the next `name` event of `emitter` (an 'error' before it does not reject). */
function next(emitter: EventEmitter, name: string): Promise<unknown[]> {
  return new Promise((resolve) => {
    emitter.once(name, (...args: unknown[]) => {
      resolve(args);
    });
  });
}

/** Resolves when `check()` holds, re-checked whenever `emitter` emits `event`. */
async function until(check: () => boolean, wait: () => Promise<unknown>): Promise<void> {
  while (!check()) await wait();
}

/**
 * A proxy in front of an upstream that holds every request open (until the test ends), counting
 * those still open upstream: each request the proxy started and has not cancelled.
 */
/** Requests the held upstream has seen, over all tests (for the report). */
const upstreamSeen = { count: 0 };

async function setup(
  idleTimeoutMs?: number,
): Promise<{ proxy: HttpProxy; port: number; open: Set<http.IncomingMessage> }> {
  const open = new Set<http.IncomingMessage>();
  const held: http.ServerResponse[] = [];
  const up = await startUpstream('held', (req, res) => {
    if (req.url === '/fast') {
      res.end('fast');
      return;
    }
    open.add(req);
    upstreamSeen.count++;
    held.push(res);
    res.once('close', () => {
      open.delete(req);
      up.server.emit('request-closed');
    });
  });
  const proxy = await start(
    gateway({
      routes: [route('r', { route: routeAction('up') })],
      clusters: [cluster('up', [up.port])],
      ...(idleTimeoutMs === undefined
        ? {}
        : { hcm: { commonHttpProtocolOptions: { headersWithUnderscoresAction: 'ALLOW', idleTimeoutMs } } }),
    }),
  );
  return { proxy, port: proxy.address('ingress')?.port ?? 0, open };
}

async function fastRequest(port: number): Promise<string> {
  const session = await h2Session(port);
  try {
    const req = session.request({ ':path': '/fast' });
    req.setEncoding('utf8');
    let body = '';
    req.on('data', (d: string) => (body += d));
    await once(req, 'end');
    return body;
  } finally {
    session.close();
  }
}

describe('HTTP/2 abuse', () => {
  it('rapid reset (CVE-2023-44487): the flood ends the session and leaves no upstream request open', async () => {
    const { proxy, port, open } = await setup();
    const session = await h2Session(port);
    const closed = next(session, 'close');
    let goaway: number | null = null;
    session.on('goaway', (code: number) => (goaway = code));
    let sent = 0;
    const seenBefore = upstreamSeen.count;
    // HEADERS then RST_STREAM at once, in bursts, as the attack does: 5,000 streams.
    const alive = (): boolean => !session.destroyed && !session.closed;
    for (let burst = 0; burst < 50 && alive(); burst++) {
      for (let i = 0; i < 100 && alive(); i++) {
        const req = session.request({ ':path': `/held/${sent}` });
        req.on('error', () => undefined);
        req.close(http2.constants.NGHTTP2_CANCEL);
        sent++;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await closed;
    report(
      `rapid reset: GOAWAY ${String(goaway)} after ${String(sent)} HEADERS+RST_STREAM pairs; ${String(upstreamSeen.count - seenBefore)} reached the upstream`,
    );
    // node:http2's reset rate limit ends the session with a GOAWAY long before the 5,000th stream
    // (about 1,200 here).
    expect(goaway).not.toBe(null);
    expect(sent).toBeLessThan(5000);
    // Every upstream request the resets left behind is cancelled: none stays open.
    await until(
      () => open.size === 0 && stat(proxy, 'envoy_http_downstream_rq_active') === 0,
      () => new Promise((resolve) => setTimeout(resolve, 10)),
    );
    expect(await fastRequest(port)).toBe('fast');
  });

  it('streams reset after their requests reached the upstream cancel those requests (no orphans)', async () => {
    const { proxy, port, open } = await setup();
    const session = await h2Session(port);
    cleanups.push(() => {
      session.destroy();
    });
    const streams = Array.from({ length: 50 }, (_, i) => {
      const req = session.request({ ':path': `/held/reached/${String(i)}` });
      req.on('error', () => undefined);
      return req;
    });
    await until(
      () => open.size === 50,
      () => new Promise((resolve) => setTimeout(resolve, 10)),
    );
    for (const req of streams) req.close(http2.constants.NGHTTP2_CANCEL);
    await until(
      () => open.size === 0 && stat(proxy, 'envoy_http_downstream_rq_active') === 0,
      () => new Promise((resolve) => setTimeout(resolve, 10)),
    );
    expect(stat(proxy, 'envoy_http_downstream_rq_rx_reset')).toBe(50);
  });

  it('a session that opens no stream (the HTTP/2 slowloris) is closed at idle_timeout', async () => {
    const { port } = await setup(300);
    const socket = await connect(port);
    socket.resume();
    const closed = next(socket, 'close');
    socket.write(Buffer.concat([PREFACE, settings()]));
    const started = performance.now();
    await closed;
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('SETTINGS flood without reading the ACKs: the session is closed, memory does not grow with it', async () => {
    const { proxy, port } = await setup();
    const socket = await connect(port);
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    const closed = next(socket, 'close');
    const one = settings([[0x3, 100]]);
    socket.write(Buffer.concat([PREFACE, settings()]));
    const burst = Buffer.concat(Array.from({ length: 1000 }, () => one));
    for (let i = 0; i < 100 && !socket.destroyed; i++) socket.write(burst);
    await closed;
    await until(
      () => stat(proxy, 'envoy_http_downstream_cx_active') === 0,
      () => new Promise((resolve) => setTimeout(resolve, 10)),
    );
    report(
      `SETTINGS flood: closed after the proxy read ${String(stat(proxy, 'envoy_http_downstream_cx_rx_bytes_total'))} bytes (100,000 frames sent)`,
    );
    // node:http2's flood guard: GOAWAY (INTERNAL_ERROR) and the connection closed.
    expect(parseFrames(Buffer.concat(received)).goawayCode).not.toBe(null);
    expect(parseFrames(Buffer.concat(received)).goawayCode).not.toBe(http2.constants.NGHTTP2_NO_ERROR);
    await until(
      () => stat(proxy, 'envoy_http_downstream_cx_active') === 0,
      () => new Promise((resolve) => setTimeout(resolve, 10)),
    );
    expect(await fastRequest(port)).toBe('fast');
  });

  it('PING flood without reading the ACKs: the session is closed', async () => {
    const { proxy, port } = await setup();
    const socket = await connect(port);
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    const closed = next(socket, 'close');
    socket.write(Buffer.concat([PREFACE, settings()]));
    const ping = frame(FrameType.PING, 0, 0, Buffer.alloc(8));
    const burst = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    for (let i = 0; i < 100 && !socket.destroyed; i++) socket.write(burst);
    await closed;
    await until(
      () => stat(proxy, 'envoy_http_downstream_cx_active') === 0,
      () => new Promise((resolve) => setTimeout(resolve, 10)),
    );
    report(
      `PING flood: closed after the proxy read ${String(stat(proxy, 'envoy_http_downstream_cx_rx_bytes_total'))} bytes (100,000 frames sent)`,
    );
    expect(parseFrames(Buffer.concat(received)).goawayCode).not.toBe(null);
    expect(parseFrames(Buffer.concat(received)).goawayCode).not.toBe(http2.constants.NGHTTP2_NO_ERROR);
    expect(await fastRequest(port)).toBe('fast');
  });

  it('CONTINUATION flood (a header block that never ends): the session is closed, nothing forwarded', async () => {
    const { proxy, port, open } = await setup();
    const socket = await connect(port);
    const closed = next(socket, 'close');
    socket.resume();
    const first = headerBlock([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':authority', 'a'],
      [':path', '/held/continuation'],
    ]);
    socket.write(Buffer.concat([PREFACE, settings(), frame(FrameType.HEADERS, Flag.END_STREAM, 1, first)]));
    const more = frame(FrameType.CONTINUATION, 0, 1, headerBlock([['x-pad', 'p'.repeat(1000)]]));
    const burst = Buffer.concat(Array.from({ length: 100 }, () => more));
    // 100 MB of header block if nothing stopped it.
    for (let i = 0; i < 1000 && !socket.destroyed; i++) {
      if (!socket.write(burst)) await Promise.race([next(socket, 'drain'), closed]);
    }
    await closed;
    await until(
      () => stat(proxy, 'envoy_http_downstream_cx_active') === 0,
      () => new Promise((resolve) => setTimeout(resolve, 10)),
    );
    report(
      `CONTINUATION flood: closed after the proxy read ${String(stat(proxy, 'envoy_http_downstream_cx_rx_bytes_total'))} bytes (up to 100 MB offered)`,
    );
    expect(open.size).toBe(0);
    expect(await fastRequest(port)).toBe('fast');
  });

  it('a header list over max_request_headers_kb is refused, nothing forwarded, other sessions served', async () => {
    const { port, open } = await setup();
    const session = await h2Session(port);
    cleanups.push(() => {
      session.destroy();
    });
    session.on('goaway', () => undefined);
    const big = session.request({ ':path': '/held/big', 'x-big': 'b'.repeat(80 * 1024) });
    big.on('error', () => undefined);
    const code = await Promise.race([
      next(big, 'response').then(([h]) => (h as http2.IncomingHttpHeaders)[':status']),
      next(big, 'close').then(() => big.rstCode),
    ]);
    // A 431, or the stream refused by nghttp2 before it reached the proxy.
    expect([431, http2.constants.NGHTTP2_REFUSED_STREAM, http2.constants.NGHTTP2_PROTOCOL_ERROR]).toContain(
      code,
    );
    expect(open.size).toBe(0);
    // node:http2 then refuses every later stream of that session (plain node:http2 servers do
    // the same): a new session is served.
    expect(await fastRequest(port)).toBe('fast');
  });
});
