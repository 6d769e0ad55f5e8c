import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { defineHttpFilter } from '../../src/index.js';
import type { HttpContext } from '../../src/types.js';
import { customFilter } from '../e2e/helpers.js';
import { EchoRouter, startHarness, type Harness } from './harness.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

interface Echo {
  method: string;
  authority: string;
  path: string;
  scheme: string;
  headers: Record<string, string>;
  protocol: string;
  body: string | null;
}

describe('connection manager over HTTP/1.1', () => {
  it('forwards with hop-by-hop headers removed, x-forwarded-proto and a generated x-request-id', async () => {
    harness = await startHarness({});
    const socket = net.connect(harness.port, '127.0.0.1');
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.write(
      `GET /a/b?x=1 HTTP/1.1\r\nhost: 127.0.0.1:${harness.port}\r\nx-drop: 1\r\nconnection: close, x-drop\r\n` +
        'proxy-connection: x\r\nte: trailers, deflate\r\nkeep-alive: timeout=5\r\n\r\n',
    );
    await once(socket, 'close');
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toMatch(/\r\nserver: envoy\r\n/);
    const echo = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Echo;
    expect(echo).toMatchObject({
      method: 'GET',
      path: '/a/b?x=1',
      scheme: 'http',
      protocol: 'HTTP/1.1',
      body: null,
    });
    expect(echo.authority).toBe(`127.0.0.1:${harness.port}`);
    expect(echo.headers['x-drop']).toBeUndefined();
    expect(echo.headers.connection).toBeUndefined();
    expect(echo.headers['proxy-connection']).toBeUndefined();
    expect(echo.headers.host).toBeUndefined();
    expect(echo.headers.te).toBe('trailers');
    expect(echo.headers['x-forwarded-proto']).toBe('http');
    expect(echo.headers['x-request-id']).toBe('id-1');
  });

  it('keeps a client x-request-id and appends the peer to x-forwarded-for with useRemoteAddress', async () => {
    harness = await startHarness({ hcm: { useRemoteAddress: true } });
    const res = await request(`http://127.0.0.1:${harness.port}/`, {
      headers: { 'x-request-id': 'abc', 'x-forwarded-for': '10.0.0.1', 'x-forwarded-proto': 'https' },
    });
    const echo = (await res.body.json()) as Echo;
    expect(echo.headers['x-request-id']).toBe('abc');
    expect(echo.headers['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    // An edge proxy does not trust the client's x-forwarded-proto.
    expect(echo.headers['x-forwarded-proto']).toBe('http');
    expect(harness.listener.current.chains[0]?.manager?.activeStreams).toBe(0);
  });

  it('runs user filters in order: reject, rewrite, add headers; response hooks in reverse; onComplete once each', async () => {
    const log: string[] = [];
    const gate = defineHttpFilter<{ deny: string }>({
      name: 'acme.gate',
      configure: (c) => ({ deny: String((c as { deny: unknown }).deny) }),
      onRequest(ctx, cfg) {
        log.push('gate.req');
        if (ctx.request.headers['x-user'] === cfg.deny) ctx.reply(403, 'denied', { 'x-why': 'gate' });
      },
      onResponse(ctx) {
        log.push(`gate.res ${ctx.response?.status}`);
      },
      onComplete() {
        log.push('gate.done');
      },
    });
    const rewrite = defineHttpFilter({
      name: 'acme.rewrite',
      configure: () => ({}),
      async onRequest(ctx: HttpContext) {
        await Promise.resolve();
        ctx.request.path = `/v2${ctx.request.path}`;
        ctx.request.headers['x-added'] = 'yes';
        ctx.clearRouteCache();
        log.push('rewrite.req');
      },
      onResponse(ctx) {
        (ctx.response?.headers as Record<string, string>)['x-seen-by'] = 'rewrite';
        log.push('rewrite.res');
      },
      onComplete() {
        log.push('rewrite.done');
      },
    });
    harness = await startHarness({
      filters: [gate, rewrite],
      hcm: {
        httpFilters: [customFilter('gate', 'acme.gate', { deny: 'eve' }), customFilter('rw', 'acme.rewrite')],
      },
    });
    const ok = await request(`http://127.0.0.1:${harness.port}/x`, { headers: { 'x-user': 'bob' } });
    const echo = (await ok.body.json()) as Echo;
    expect(echo.path).toBe('/v2/x');
    expect(echo.headers['x-added']).toBe('yes');
    expect(ok.headers['x-seen-by']).toBe('rewrite');
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual([
      'gate.req',
      'rewrite.req',
      'rewrite.res',
      'gate.res 200',
      'gate.done',
      'rewrite.done',
    ]);

    log.length = 0;
    const denied = await request(`http://127.0.0.1:${harness.port}/x`, { headers: { 'x-user': 'eve' } });
    expect(denied.statusCode).toBe(403);
    expect(denied.headers['x-why']).toBe('gate');
    expect(await denied.body.text()).toBe('denied');
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['gate.req', 'gate.res 403', 'gate.done']);
  });

  it('answers 500 when a hook throws or rejects, reports the error and keeps serving', async () => {
    const boom = defineHttpFilter({
      name: 'boom',
      configure: () => ({}),
      onRequest(ctx) {
        if (ctx.request.path === '/throw') throw new Error('sync boom');
        if (ctx.request.path === '/reject') return Promise.reject(new Error('async boom'));
      },
    });
    harness = await startHarness({ filters: [boom], hcm: { httpFilters: [customFilter('boom', 'boom')] } });
    const a = await request(`http://127.0.0.1:${harness.port}/throw`);
    expect(a.statusCode).toBe(500);
    await a.body.dump();
    const b = await request(`http://127.0.0.1:${harness.port}/reject`);
    expect(b.statusCode).toBe(500);
    await b.body.dump();
    const c = await request(`http://127.0.0.1:${harness.port}/fine`);
    expect(c.statusCode).toBe(200);
    await c.body.dump();
    expect(harness.errors.map((e) => (e as Error).message)).toEqual(['sync boom', 'async boom']);
  });

  it('reads a body up to a limit and answers 413 beyond it', async () => {
    const reader = defineHttpFilter({
      name: 'reader',
      configure: () => ({}),
      async onRequest(ctx) {
        await ctx.readBody(10);
      },
    });
    harness = await startHarness({
      filters: [reader],
      hcm: { httpFilters: [customFilter('reader', 'reader')] },
    });
    const small = await request(`http://127.0.0.1:${harness.port}/`, { method: 'POST', body: 'hello' });
    expect(((await small.body.json()) as Echo).body).toBe('hello');
    const big = await request(`http://127.0.0.1:${harness.port}/`, { method: 'POST', body: 'x'.repeat(100) });
    expect(big.statusCode).toBe(413);
    await big.body.dump();
  });

  it('answers 431 to more headers than maxHeadersCount', async () => {
    harness = await startHarness({
      hcm: { commonHttpProtocolOptions: { headersWithUnderscoresAction: 'ALLOW', maxHeadersCount: 5 } },
      limits: { maxHeadersCount: 5 },
    });
    const headers: Record<string, string> = {};
    for (let i = 0; i < 10; i++) headers[`x-h${i}`] = 'v';
    const res = await request(`http://127.0.0.1:${harness.port}/`, { headers });
    expect(res.statusCode).toBe(431);
    await res.body.dump();
  });

  it('answers 431 to a header block over maxHeaderSize', async () => {
    harness = await startHarness({ limits: { maxHeaderSize: 1024 } });
    const res = await request(`http://127.0.0.1:${harness.port}/`, {
      headers: { 'x-big': 'x'.repeat(4096) },
    });
    expect(res.statusCode).toBe(431);
    await res.body.dump();
  });

  it('closes a connection whose headers do not arrive within the headers timeout (slowloris)', async () => {
    harness = await startHarness({ limits: { headersTimeoutMs: 200 } });
    const socket = net.connect(harness.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nhost: a\r\nx-slow: ');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    await once(socket, 'close');
    expect(text).toMatch(/^HTTP\/1\.1 408/);
  });

  it('drains: Connection: close on responses, then closes', async () => {
    harness = await startHarness({});
    const socket = net.connect(harness.port, '127.0.0.1');
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.write('GET / HTTP/1.1\r\nhost: a\r\n\r\n');
    while (!text.includes('}')) await once(socket, 'data');
    expect(text).not.toMatch(/connection: close/i);
    const drained = harness.listener.drain(5000);
    text = '';
    socket.write('GET / HTTP/1.1\r\nhost: a\r\n\r\n');
    await once(socket, 'close');
    await drained;
    // Either the idle connection was closed at once, or the request got its answer with close.
    if (text !== '') expect(text).toMatch(/connection: close/i);
  });
});

describe('connection manager over HTTP/2 cleartext (prior knowledge)', () => {
  it('serves h2c and h1 on one AUTO listener', async () => {
    harness = await startHarness({});
    const session = http2.connect(`http://127.0.0.1:${harness.port}`);
    const stream = session.request({ ':path': '/h2', 'x-a': 'b' });
    let data = '';
    stream.on('data', (d: Buffer) => (data += d.toString()));
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    await once(stream, 'end');
    session.close();
    expect(headers[':status']).toBe(200);
    const echo = JSON.parse(data) as Echo;
    expect(echo).toMatchObject({ protocol: 'HTTP/2', path: '/h2', authority: `127.0.0.1:${harness.port}` });
    expect(echo.headers['x-a']).toBe('b');
    const res = await request(`http://127.0.0.1:${harness.port}/h1`);
    expect(((await res.body.json()) as Echo).protocol).toBe('HTTP/1.1');
  });

  it('answers a gRPC request locally in trailers-only form with the mapped grpc-status', async () => {
    const deny = defineHttpFilter({
      name: 'deny',
      configure: () => ({}),
      onRequest(ctx) {
        ctx.reply(503, 'no healthy upstream');
      },
    });
    harness = await startHarness({ filters: [deny], hcm: { httpFilters: [customFilter('deny', 'deny')] } });
    const session = http2.connect(`http://127.0.0.1:${harness.port}`);
    const stream = session.request({
      ':path': '/pkg.Svc/Method',
      ':method': 'POST',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.end();
    const [headers, flags] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders, number];
    stream.resume();
    await once(stream, 'close');
    session.close();
    expect(headers[':status']).toBe(200);
    expect(headers['grpc-status']).toBe('14');
    expect(headers['grpc-message']).toBe('no healthy upstream');
    expect(flags & http2.constants.NGHTTP2_FLAG_END_STREAM).toBeTruthy();
  });
});

describe('path normalization', () => {
  it('removes dot segments and merges slashes when configured, before routing', async () => {
    harness = await startHarness({ hcm: { normalizePath: true, mergeSlashes: true } });
    const socket = net.connect(harness.port, '127.0.0.1');
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.write('GET //a/./b/../c//d?x=/../y HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n');
    await once(socket, 'close');
    const echo = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Echo;
    expect(echo.path).toBe('/a/c/d?x=/../y');
  });

  it('leaves the path alone by default', async () => {
    harness = await startHarness({});
    const socket = net.connect(harness.port, '127.0.0.1');
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.write('GET //a/./b HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n');
    await once(socket, 'close');
    expect((JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Echo).path).toBe('//a/./b');
  });
});

describe('HTTP/2 drain', () => {
  it('sends GOAWAY and lets the stream in flight finish', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const waiter = defineHttpFilter({
      name: 'waiter',
      configure: () => ({}),
      onRequest: () => gate,
    });
    harness = await startHarness({ filters: [waiter], hcm: { httpFilters: [customFilter('w', 'waiter')] } });
    const session = http2.connect(`http://127.0.0.1:${harness.port}`);
    const goaway = once(session, 'goaway');
    const stream = session.request({ ':path': '/slow' });
    stream.end();
    let data = '';
    stream.on('data', (d: Buffer) => (data += d.toString()));
    await once(session, 'remoteSettings');
    while (harness.listener.current.chains[0]?.manager?.activeStreams !== 1)
      await new Promise((r) => setImmediate(r));
    const drained = harness.listener.drain(5000);
    await goaway;
    release();
    await once(stream, 'end');
    expect((JSON.parse(data) as Echo).path).toBe('/slow');
    await drained;
    expect(harness.listener.connections).toBe(0);
  });
});

describe('stream idle timeout', () => {
  it('closes an HTTP/1 stream with no activity either way for streamIdleTimeoutMs', async () => {
    const silent = { handle: () => undefined };
    harness = await startHarness({ router: silent, limits: { streamIdleTimeoutMs: 200 } });
    const socket = net.connect(harness.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nhost: a\r\n\r\n');
    socket.resume();
    await once(socket, 'close');
    // The server side sees the close a turn of the event loop later.
    const manager = harness.listener.current.chains[0]?.manager;
    for (let i = 0; i < 100 && manager?.activeStreams !== 0; i++) await new Promise((r) => setImmediate(r));
    expect(manager?.activeStreams).toBe(0);
  });

  it('resets an HTTP/2 stream with no activity for streamIdleTimeoutMs', async () => {
    const silent = { handle: () => undefined };
    harness = await startHarness({ router: silent, limits: { streamIdleTimeoutMs: 200 } });
    const session = http2.connect(`http://127.0.0.1:${harness.port}`);
    const stream = session.request({ ':path': '/' });
    stream.on('error', () => undefined);
    stream.end();
    await once(stream, 'close');
    expect(stream.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    session.close();
  });
});

describe('connection and request timeouts', () => {
  it('closes a kept-alive HTTP/1 connection idle for idleTimeoutMs', async () => {
    harness = await startHarness({ limits: { idleTimeoutMs: 200 } });
    const socket = net.connect(harness.port, '127.0.0.1');
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.write('GET / HTTP/1.1\r\nhost: a\r\n\r\n');
    await once(socket, 'close');
    expect(text).toMatch(/^HTTP\/1\.1 200/);
  });

  it('answers 408 when the whole request does not arrive within requestTimeoutMs', async () => {
    // A router that waits for the body, as an upstream does: a response sent before the body is
    // read whole closes the connection instead (see test/abuse/slow-and-large.test.ts).
    const waiting = { handle: () => undefined };
    harness = await startHarness({
      router: waiting,
      limits: { requestTimeoutMs: 300, headersTimeoutMs: 300 },
    });
    const socket = net.connect(harness.port, '127.0.0.1');
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.write('POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 100\r\n\r\nonly part of the body');
    await once(socket, 'close');
    expect(text).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('sync hooks', () => {
  it('run the whole chain and reach the router in the same tick: no promise for sync work', async () => {
    const marks: string[] = [];
    const sync = defineHttpFilter({
      name: 'sync',
      configure: () => ({}),
      onRequest() {
        queueMicrotask(() => marks.push('microtask'));
        marks.push('filter');
      },
    });
    const echo = new EchoRouter();
    const router = {
      handle(stream: Parameters<EchoRouter['handle']>[0]) {
        marks.push('router');
        echo.handle(stream);
      },
    };
    harness = await startHarness({
      filters: [sync],
      router,
      hcm: { httpFilters: [customFilter('a', 'sync'), customFilter('b', 'sync')] },
    });
    const res = await request(`http://127.0.0.1:${harness.port}/`);
    await res.body.dump();
    expect(marks).toEqual(['filter', 'filter', 'router', 'microtask', 'microtask']);
  });
});

describe('max requests per connection', () => {
  it('closes an HTTP/1 connection after maxRequestsPerConnection requests', async () => {
    harness = await startHarness({
      hcm: {
        commonHttpProtocolOptions: { headersWithUnderscoresAction: 'ALLOW', maxRequestsPerConnection: 2 },
      },
      limits: { maxRequestsPerConnection: 2 },
    });
    const socket = net.connect(harness.port, '127.0.0.1');
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.write('GET /1 HTTP/1.1\r\nhost: a\r\n\r\nGET /2 HTTP/1.1\r\nhost: a\r\n\r\n');
    await once(socket, 'close');
    expect(text.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    expect(text).toMatch(/connection: close/i);
  });
});
