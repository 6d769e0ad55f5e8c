// Slow and oversized HTTP/1 clients over raw sockets: slowloris heads (dripping, silent, a
// partial HTTP/2 preface), slow bodies, oversized request lines, headers and bodies. Each is cut
// off by its limit (408, 431, 413) while a well-behaved client on another connection is served.
import { type EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { defineHttpFilter, type HttpProxy, type ProxyOptions } from '../../src/index.js';
import { cluster, customFilter, gateway, origin, route, routeAction } from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';
import { connect, exchange, rawUpstream, report, statuses, type RawUpstream } from './raw.js';

const { cleanups, start } = e2eScope();

type Hcm = Partial<{ -readonly [K in keyof model.HttpConnectionManager]: model.HttpConnectionManager[K] }>;

/** Reads the whole request body up to 1 KiB (a 413 beyond), as a buffering filter does. */
const bodyLimit = defineHttpFilter<number>({
  name: 'test.body_limit',
  configure: () => 1024,
  async onRequest(ctx, limit) {
    await ctx.readBody(limit);
  },
});

async function setup(
  hcm: Hcm = {},
  more: Partial<ProxyOptions> = {},
): Promise<{
  proxy: HttpProxy;
  port: number;
  upstream: RawUpstream;
}> {
  const upstream = await rawUpstream();
  cleanups.push(upstream.close);
  const proxy = await start(
    gateway({
      routes: [route('r', { route: routeAction('up') })],
      clusters: [cluster('up', [upstream.port])],
      hcm,
    }),
    more,
  );
  return { proxy, port: proxy.address('ingress')?.port ?? 0, upstream };
}

function stat(proxy: HttpProxy, name: string): number {
  let sum = 0;
  for (const line of (proxy.stats?.prometheus() ?? '').split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

/** What the proxy read from the connections of `proxy` that have closed. */
async function bytesRead(proxy: HttpProxy): Promise<number> {
  while (stat(proxy, 'envoy_listener_downstream_cx_active') > 0) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  return stat(proxy, 'envoy_http_downstream_cx_rx_bytes_total');
}

function next(emitter: EventEmitter, name: string): Promise<void> {
  return new Promise((resolve) => {
    emitter.once(name, () => {
      resolve();
    });
  });
}

/** Sends `text` one byte per `everyMs` until the connection closes; returns what came back. */
async function drip(port: number, text: string, everyMs: number): Promise<{ reply: string; sent: number }> {
  const socket = await connect(port);
  let reply = '';
  socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
  let sent = 0;
  const timer = setInterval(() => {
    if (sent < text.length && !socket.destroyed) socket.write(text.charAt(sent++));
  }, everyMs);
  await next(socket, 'close');
  clearInterval(timer);
  return { reply, sent };
}

async function ok(proxy: HttpProxy): Promise<string> {
  const res = await fetch(`${origin(proxy)}/fine`);
  return res.text();
}

describe('slowloris', () => {
  it('a head dripped one byte at a time is cut off at requestHeadersTimeoutMs with 408', async () => {
    const { proxy, port, upstream } = await setup({ requestHeadersTimeoutMs: 300 });
    const head = `GET / HTTP/1.1\r\nhost: a\r\n${'x-drip: 1\r\n'.repeat(100)}\r\n`;
    const started = performance.now();
    const [dripped] = await Promise.all([drip(port, head, 10), ok(proxy)]);
    expect(statuses(dripped.reply)).toEqual([408]);
    report(
      `slowloris drip: 408 after ${(performance.now() - started).toFixed(0)} ms (deadline 300 ms), ${String(dripped.sent)} of ${String(head.length)} bytes sent`,
    );
    // Bytes kept coming, yet the deadline held (node checks it every quarter of the timeout).
    expect(dripped.sent).toBeLessThan(head.length);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(upstream.requests.map((r) => r.url)).toEqual(['/fine']);
  });

  it('200 concurrent slowloris connections are all closed, and a normal client is served meanwhile', async () => {
    const { proxy, port } = await setup({ requestHeadersTimeoutMs: 300 });
    const sockets = await Promise.all(Array.from({ length: 200 }, () => connect(port)));
    const replies = sockets.map(() => '');
    sockets.forEach((s, i) =>
      s.on('data', (d: Buffer) => (replies[i] = `${replies[i] ?? ''}${d.toString('latin1')}`)),
    );
    const closed = sockets.map((s) => next(s, 'close'));
    for (const s of sockets) s.write('GET / HTTP/1.1\r\nhost: a\r\nx-slow: ');
    expect(await ok(proxy)).toBe('ok');
    await Promise.all(closed);
    expect(replies.every((r) => r.startsWith('HTTP/1.1 408 '))).toBe(true);
  });

  it('a body dripped slower than requestTimeoutMs is cut off with 408 and not answered by the upstream', async () => {
    const { port, upstream } = await setup({ requestTimeoutMs: 400 });
    const { reply } = await drip(
      port,
      `POST /slow-body HTTP/1.1\r\nhost: a\r\ncontent-length: 1000\r\n\r\n${'b'.repeat(1000)}`,
      5,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(upstream.requests.filter((r) => r.body.length === 1000)).toEqual([]);
  });
});

describe('oversized requests', () => {
  it('a request line over max_request_headers_kb gets 431 and nothing is forwarded', async () => {
    const { proxy, port, upstream } = await setup({ maxRequestHeadersKb: 8 });
    const reply = await exchange(port, `GET /${'a'.repeat(16 * 1024)} HTTP/1.1\r\nhost: a\r\n\r\n`);
    expect(statuses(reply)).toEqual([431]);
    expect(upstream.bytes()).toBe('');
    expect(await ok(proxy)).toBe('ok');
  });

  it('one header of 1 MB gets 431 without the proxy buffering it: the connection closes early', async () => {
    const { proxy, port, upstream } = await setup({ maxRequestHeadersKb: 8 });
    const socket = await connect(port);
    let reply = '';
    socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    const closed = next(socket, 'close');
    socket.write('GET / HTTP/1.1\r\nhost: a\r\nx-huge: ');
    let written = 0;
    const chunk = 'h'.repeat(16 * 1024);
    while (written < 1024 * 1024 && !socket.destroyed) {
      written += chunk.length;
      if (!socket.write(chunk)) await Promise.race([next(socket, 'drain'), closed]);
    }
    await closed;
    report(
      `1 MB header: 431 and closed after the proxy read ${String(await bytesRead(proxy))} bytes (limit 8 KiB)`,
    );
    expect(statuses(reply)).toEqual([431]);
    expect(upstream.bytes()).toBe('');
  });
});

describe('bugs found', () => {
  it('regression: a silent connection on an AUTO listener was never closed (no deadline before the codec was known)', async () => {
    const { port } = await setup({ requestHeadersTimeoutMs: 200 });
    for (const bytes of ['', 'PRI * HTTP/2.0\r\n']) {
      const socket = await connect(port);
      const closed = next(socket, 'close');
      if (bytes !== '') socket.write(bytes);
      const started = performance.now();
      await closed;
      expect(performance.now() - started).toBeLessThan(3000);
    }
  });

  it('regression: a 413 with the declared body unread kept the connection open for the rest', async () => {
    const { port, upstream } = await setup(
      { httpFilters: [customFilter('limit', 'test.body_limit')] },
      { filters: [bodyLimit] },
    );
    const reply = await exchange(
      port,
      `POST / HTTP/1.1\r\nhost: a\r\ncontent-length: ${1024 * 1024}\r\n\r\n${'b'.repeat(4096)}`,
    );
    expect(statuses(reply)).toEqual([413]);
    expect(reply).toMatch(/\r\nconnection: close\r\n/i);
    expect(upstream.bytes()).toBe('');
  });

  it('regression: after a 413 the proxy kept reading an endless chunked body on the kept-alive connection', async () => {
    const { proxy, port, upstream } = await setup(
      { httpFilters: [customFilter('limit', 'test.body_limit')] },
      { filters: [bodyLimit] },
    );
    const socket = await connect(port);
    let reply = '';
    socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    const closed = next(socket, 'close');
    socket.write('POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n');
    // An endless body: the proxy must stop reading it once it has answered 413.
    const chunk = `400\r\n${'b'.repeat(1024)}\r\n`;
    let written = 0;
    while (written < 64 * 1024 * 1024 && !socket.destroyed) {
      written += chunk.length;
      if (!socket.write(chunk)) await Promise.race([next(socket, 'drain'), closed]);
    }
    await closed;
    report(
      `endless chunked body: 413 and closed after the proxy read ${String(await bytesRead(proxy))} bytes (limit 1 KiB)`,
    );
    expect(statuses(reply)).toEqual([413]);
    expect(written).toBeLessThan(64 * 1024 * 1024);
    expect(upstream.bytes()).toBe('');
  });
});
