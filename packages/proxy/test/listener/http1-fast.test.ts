// The HTTP/1.1 fast path (listener/http1-fast.ts: node's llhttp binding on the raw socket) over
// real sockets: keep-alive, pipelining, chunked bodies both ways, 100-continue, HEAD, upgrades,
// the limits and timeouts, and the smuggling attempts strict parsing refuses. The whole proxy
// suite also runs on it with MESHLET_HTTP1_FAST_PATH=1.
import { once } from 'node:events';
import type http from 'node:http';
import net from 'node:net';
import { Client, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { HttpProxy } from '../../src/index.js';
import { mergeRawHeaders } from '../../src/listener/http1-fast.js';
import { cluster, gateway, namedUpstream, origin, route, routeAction } from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';

const { cleanups, start, upstream } = e2eScope();

async function fastProxy(port: number, hcm: Parameters<typeof gateway>[0]['hcm'] = {}): Promise<HttpProxy> {
  return start(
    gateway({
      routes: [route('all', { route: routeAction('backend') })],
      clusters: [cluster('backend', [port])],
      hcm,
    }),
    { http1FastPath: true },
  );
}

/** Writes `text` on a new connection and collects everything until the proxy closes it. */
async function exchange(proxy: HttpProxy, text: string): Promise<string> {
  const socket = net.connect(proxy.address('ingress')?.port ?? 0, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.write(text);
  await once(socket, 'close');
  return received;
}

/** Reads from `socket` until `received` matches `pattern`. */
async function readUntil(socket: net.Socket, pattern: RegExp, state: { text: string }): Promise<void> {
  while (!pattern.test(state.text)) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    state.text += chunk.toString('latin1');
  }
}

describe('HTTP/1.1 fast path', () => {
  it('merges repeated headers as node:http does', () => {
    expect(
      mergeRawHeaders([
        'Host',
        'a',
        'host',
        'b',
        'Accept',
        'x',
        'accept',
        'y',
        'Cookie',
        'c=1',
        'cookie',
        'd=2',
        'Set-Cookie',
        's=1',
      ]),
    ).toEqual({ host: 'a', accept: 'x, y', cookie: 'c=1; d=2', 'set-cookie': ['s=1'] });
  });

  it('keeps a connection alive across requests, with the same headers as node:http', async () => {
    const a = await upstream('a');
    const proxy = await fastProxy(a.port);
    const client = new Client(origin(proxy));
    cleanups.push(() => client.close());
    for (let i = 0; i < 3; i++) {
      const res = await client.request({ path: `/r${String(i)}`, method: 'GET' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-upstream']).toBe('a');
      expect(res.headers.server).toBe('envoy');
      expect(res.headers.connection).toBe('keep-alive');
      expect(typeof res.headers.date).toBe('string');
      expect(await res.body.text()).toBe('a');
    }
    expect(a.requests.map((r) => r.url)).toEqual(['/r0', '/r1', '/r2']);
  });

  it('answers pipelined requests in order, a slow first one included', async () => {
    const held: http.ServerResponse[] = [];
    const a = await upstream('a', (req, res) => {
      if (req.url === '/slow') {
        held.push(res);
        return;
      }
      res.end(`fast ${String(req.url)}`);
    });
    const proxy = await fastProxy(a.port);
    const socket = net.connect(proxy.address('ingress')?.port ?? 0, '127.0.0.1');
    cleanups.push(() => socket.destroy());
    await once(socket, 'connect');
    socket.write(
      'GET /slow HTTP/1.1\r\nhost: a\r\n\r\nGET /one HTTP/1.1\r\nhost: a\r\n\r\nGET /two HTTP/1.1\r\nhost: a\r\n\r\n',
    );
    // The later requests reach the upstream while the first is still held.
    while (a.requests.length < 3) await once(a.server, 'request');
    held[0]?.end('slow');
    const state = { text: '' };
    await readUntil(socket, /fast \/two$/, state);
    const bodies = state.text.split(/\r\n\r\n/).filter((part) => !part.startsWith('HTTP'));
    expect(state.text.indexOf('slow')).toBeLessThan(state.text.indexOf('fast /one'));
    expect(state.text.indexOf('fast /one')).toBeLessThan(state.text.indexOf('fast /two'));
    expect(bodies.length).toBeGreaterThan(0);
  });

  it('forwards a chunked request body and sends a length-less response chunked', async () => {
    const a = await upstream('a', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.write('got ');
        res.end(Buffer.concat(chunks));
      });
    });
    const proxy = await fastProxy(a.port);
    const text = await exchange(
      proxy,
      'POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    );
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toMatch(/Transfer-Encoding: chunked\r\n/);
    expect(text).toMatch(/Connection: close\r\n/);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    // De-chunk.
    let decoded = '';
    let rest = body;
    for (;;) {
      const line = rest.indexOf('\r\n');
      const size = parseInt(rest.slice(0, line), 16);
      if (size === 0) break;
      decoded += rest.slice(line + 2, line + 2 + size);
      rest = rest.slice(line + 2 + size + 2);
    }
    expect(decoded).toBe('got hello world');
  });

  it('sends 100 Continue before the body arrives', async () => {
    const a = await upstream('a', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks)));
    });
    const proxy = await fastProxy(a.port);
    const socket = net.connect(proxy.address('ingress')?.port ?? 0, '127.0.0.1');
    cleanups.push(() => socket.destroy());
    await once(socket, 'connect');
    socket.write('PUT / HTTP/1.1\r\nhost: a\r\nexpect: 100-continue\r\ncontent-length: 4\r\n\r\n');
    const state = { text: '' };
    await readUntil(socket, /^HTTP\/1\.1 100 Continue\r\n\r\n/, state);
    socket.write('data');
    await readUntil(socket, /\r\n\r\ndata$/, state);
    expect(state.text).toMatch(/HTTP\/1\.1 200 OK\r\n/);
  });

  it('answers HEAD without a body, and closes an HTTP/1.0 connection', async () => {
    const a = await upstream('a');
    const proxy = await fastProxy(a.port);
    const head = await request(`${origin(proxy)}/`, { method: 'HEAD' });
    expect(head.statusCode).toBe(200);
    expect(await head.body.text()).toBe('');
    const old = await exchange(proxy, 'GET / HTTP/1.0\r\nhost: a\r\n\r\n');
    expect(old).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(old).toMatch(/Connection: close\r\n/);
    expect(old.endsWith('\r\n\r\na')).toBe(true);
  });

  it('refuses smuggling attempts with 400 and never forwards them', async () => {
    const a = await upstream('a');
    const proxy = await fastProxy(a.port);
    const attempts = [
      // Content-Length and Transfer-Encoding together.
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
      // Two different lengths.
      'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 4\r\ncontent-length: 5\r\n\r\nabcde',
      // chunked not last.
      'POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked, gzip\r\n\r\n0\r\n\r\n',
      // obs-fold.
      'GET / HTTP/1.1\r\nhost: a\r\nx-a: 1\r\n  folded\r\n\r\n',
      // Not HTTP.
      'HELLO\r\n\r\n',
    ];
    for (const attempt of attempts) {
      const text = await exchange(proxy, attempt);
      expect(text, attempt).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    }
    expect(a.requests).toHaveLength(0);
    // A bad chunk size after a good head: the request was under way, it is refused all the same.
    const chunk = await exchange(
      proxy,
      'POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
    );
    expect(chunk).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  });

  it('refuses a second Host with 400, and closes after a response that left the body unread', async () => {
    const a = await upstream('a', (req, res) => {
      // Answers before reading the body.
      res.end('early');
      req.resume();
    });
    const proxy = await fastProxy(a.port);
    expect(await exchange(proxy, 'GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    expect(a.requests).toHaveLength(0);
    // The declared body never comes whole: the answer closes the connection rather than read on.
    const early = await exchange(proxy, 'POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 100000\r\n\r\nabc');
    expect(early).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*Connection: close\r\n[\s\S]*early$/);
  });

  it('answers 431 to headers over the limits and 400 without a host', async () => {
    const a = await upstream('a');
    const proxy = await fastProxy(a.port, {
      maxRequestHeadersKb: 2,
      commonHttpProtocolOptions: { headersWithUnderscoresAction: 'ALLOW', maxHeadersCount: 10 },
    });
    const big = await exchange(proxy, `GET / HTTP/1.1\r\nhost: a\r\nx-big: ${'x'.repeat(3000)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    let many = 'GET / HTTP/1.1\r\nhost: a\r\n';
    for (let i = 0; i < 20; i++) many += `x-h${String(i)}: v\r\n`;
    expect(await exchange(proxy, `${many}\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    expect(await exchange(proxy, 'GET / HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 /);
    const fine = await request(`${origin(proxy)}/`);
    expect(await fine.body.text()).toBe('a');
  });

  it('closes a slowloris connection with 408', async () => {
    const a = await upstream('a');
    const proxy = await fastProxy(a.port, { requestHeadersTimeoutMs: 100 });
    const text = await exchange(proxy, 'GET / HTTP/1.1\r\nhost: a\r\nx-drip: ');
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('upgrades to a WebSocket and echoes through it', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const c of wss.clients) c.terminate();
          wss.close(() => {
            resolve();
          });
        }),
    );
    wss.on('connection', (ws) => {
      ws.on('message', (data: Buffer) => {
        ws.send(`echo ${data.toString()}`);
      });
    });
    const port = (wss.address() as net.AddressInfo).port;
    const proxy = await fastProxy(port, {
      upgradeConfigs: [{ upgradeType: 'websocket', enabled: true }],
    });
    const ws = new WebSocket(`ws://127.0.0.1:${String(proxy.address('ingress')?.port)}/`);
    cleanups.push(() => {
      ws.terminate();
    });
    await once(ws, 'open');
    ws.send('hi');
    const [message] = (await once(ws, 'message')) as [Buffer];
    expect(message.toString()).toBe('echo hi');
  });

  it('survives a client that goes away mid-request, and serves the next one', async () => {
    const held: http.ServerResponse[] = [];
    const a = await namedUpstream('a', (_req, res) => {
      held.push(res);
    });
    cleanups.push(a.close);
    const proxy = await fastProxy(a.port);
    const socket = net.connect(proxy.address('ingress')?.port ?? 0, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nhost: a\r\n\r\n');
    while (a.requests.length < 1) await once(a.server, 'request');
    socket.destroy();
    // The upstream request is cancelled once the proxy sees the close.
    const upstreamReq = a.requests[0] as http.IncomingMessage;
    upstreamReq.on('error', () => undefined);
    if (!upstreamReq.destroyed) await new Promise((resolve) => upstreamReq.once('close', resolve));
    for (const res of held) res.destroy();
    held.length = 0;
    const b = await upstream('b');
    const other = await fastProxy(b.port);
    const res = await request(`${origin(other)}/`);
    expect(await res.body.text()).toBe('b');
  });
});
