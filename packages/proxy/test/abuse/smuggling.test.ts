// Request smuggling attempts over a raw socket: each ambiguous framing (RFC 9112 §6.1, §6.3,
// §7.1) is refused with a 400 and the connection closed, and nothing ambiguous reaches the
// upstream, whose raw bytes the test reads. What the proxy does forward has exactly one framing.
import { describe, expect, it } from 'vitest';
import type { HttpProxy } from '../../src/index.js';
import { cluster, gateway, origin, route, routeAction } from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';
import { exchange, rawUpstream, statuses, type RawUpstream } from './raw.js';

const { cleanups, start } = e2eScope();

async function setup(): Promise<{ proxy: HttpProxy; port: number; upstream: RawUpstream }> {
  const upstream = await rawUpstream();
  cleanups.push(upstream.close);
  const proxy = await start(
    gateway({
      routes: [route('r', { route: routeAction('up') })],
      clusters: [cluster('up', [upstream.port])],
    }),
  );
  return { proxy, port: proxy.address('ingress')?.port ?? 0, upstream };
}

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nhost: a\r\n\r\n';

/** Each case: a request whose framing is ambiguous or invalid, followed by a smuggled request. */
const refused: [string, string][] = [
  [
    'Content-Length and Transfer-Encoding together (CL.TE)',
    `POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 6\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  [
    'Transfer-Encoding and Content-Length together (TE.CL)',
    `POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n5c\r\n${SMUGGLED}\r\n0\r\n\r\n`,
  ],
  [
    'two different Content-Length headers',
    `POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\ncontent-length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
  ],
  [
    'a Content-Length list',
    `POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 0, ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
  ],
  ['a signed Content-Length', `POST / HTTP/1.1\r\nhost: a\r\ncontent-length: +0\r\n\r\n${SMUGGLED}`],
  ['a hex Content-Length', `POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 0x0\r\n\r\n${SMUGGLED}`],
  [
    'Transfer-Encoding with chunked not last',
    `POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  [
    'Transfer-Encoding chunked twice (chunked not the only final coding)',
    `POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\ntransfer-encoding: identity\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  [
    'an unknown Transfer-Encoding (xchunked)',
    `POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  [
    'whitespace before the colon of Transfer-Encoding',
    `POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding : chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  [
    'Transfer-Encoding folded onto the next line (obs-fold)',
    `POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding:\r\n chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  ['an obs-fold header value', `GET / HTTP/1.1\r\nhost: a\r\nx-folded: one\r\n two\r\n\r\n${SMUGGLED}`],
  ['bare LF line endings in the head', `GET / HTTP/1.1\nhost: a\nx-a: b\n\n${SMUGGLED}`],
  ['a bare LF inside a header line', `GET / HTTP/1.1\r\nhost: a\r\nx-a: b\nx-b: c\r\n\r\n${SMUGGLED}`],
  ['a bare CR in a header value', `GET / HTTP/1.1\r\nhost: a\r\nx-a: b\rc\r\n\r\n${SMUGGLED}`],
  ['a NUL in a header value', `GET / HTTP/1.1\r\nhost: a\r\nx-a: b\u0000c\r\n\r\n${SMUGGLED}`],
  [
    'a chunk size in hex with a 0x prefix',
    `POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  [
    'a negative chunk size',
    `POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n-1\r\nx\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  [
    'a chunk size that overflows 64 bits',
    `POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n10000000000000000\r\nx\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  [
    'a chunk without its CRLF (chunk data longer than its size)',
    `POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  [
    'a chunk size line ending in a bare LF',
    `POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  ['a space inside the request target', `GET /a b HTTP/1.1\r\nhost: a\r\n\r\n${SMUGGLED}`],
  ['an HTTP/1.1 request without Host', `GET / HTTP/1.1\r\nx-a: b\r\n\r\n${SMUGGLED}`],
  ['a header name with a space', `GET / HTTP/1.1\r\nhost: a\r\nx a: b\r\n\r\n${SMUGGLED}`],
];

describe('request smuggling attempts', () => {
  it.each(refused)('refuses %s with 400, closes, and forwards nothing', async (_name, bytes) => {
    const { port, upstream } = await setup();
    const reply = await exchange(port, bytes);
    expect(statuses(reply)).toEqual([400]);
    expect(upstream.bytes()).toBe('');
    expect(upstream.requests).toEqual([]);
  });

  it('keeps serving other connections after refusing them all', async () => {
    const { proxy, port, upstream } = await setup();
    await Promise.all(refused.map(([, bytes]) => exchange(port, bytes)));
    const fine = await fetch(`${origin(proxy)}/after`);
    expect(await fine.text()).toBe('ok');
    expect(upstream.requests.map((r) => r.url)).toEqual(['/after']);
  });

  it('forwards a chunked body with exactly one framing header and the body re-framed', async () => {
    const { port, upstream } = await setup();
    const reply = await exchange(
      port,
      'POST /c HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n' +
        '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: t\r\n\r\n',
    );
    expect(statuses(reply)).toEqual([200]);
    expect(upstream.requests.map((r) => [r.url, r.body])).toEqual([['/c', 'hello world']]);
    const head = upstream.bytes().split('\r\n\r\n')[0] as string;
    const framing = head.split('\r\n').filter((l) => /^(content-length|transfer-encoding):/i.test(l));
    expect(framing).toHaveLength(1);
    expect(head).not.toMatch(/ext=1/);
  });

  it('answers pipelined requests in order and forwards each one separately', async () => {
    const { port, upstream } = await setup();
    const reply = await exchange(
      port,
      'POST /one HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nhello' +
        'GET /two HTTP/1.1\r\nhost: a\r\n\r\n' +
        'GET /three HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n',
    );
    expect(statuses(reply)).toEqual([200, 200, 200]);
    // Answered in order downstream; upstream, each on its own connection, in any order.
    expect(upstream.requests.map((r) => [r.url, r.body]).sort()).toEqual([
      ['/one', 'hello'],
      ['/three', ''],
      ['/two', ''],
    ]);
  });

  it('does not let a client-sent Connection header drop Content-Length or Transfer-Encoding', async () => {
    const { port, upstream } = await setup();
    const reply = await exchange(
      port,
      'POST /hop HTTP/1.1\r\nhost: a\r\nconnection: close, content-length, transfer-encoding\r\n' +
        'content-length: 5\r\n\r\nhello',
    );
    expect(statuses(reply)).toEqual([200]);
    expect(upstream.requests.map((r) => [r.url, r.body])).toEqual([['/hop', 'hello']]);
    expect(upstream.bytes()).toMatch(/\r\ncontent-length: 5\r\n/i);
  });

  it("routes an absolute-form request by its target and forwards one Host, the target's", async () => {
    const { port, upstream } = await setup();
    const reply = await exchange(
      port,
      'GET http://b.example/abs HTTP/1.1\r\nhost: a.example\r\nconnection: close\r\n\r\n',
    );
    expect(statuses(reply)).toEqual([200]);
    const head = upstream.bytes().split('\r\n\r\n')[0] as string;
    expect(head.split('\r\n').filter((l) => /^host:/i.test(l))).toEqual(['host: b.example']);
  });
});

describe('bugs found', () => {
  it('regression: a request with two Host headers was forwarded (node:http kept the first), now 400', async () => {
    const { port, upstream } = await setup();
    for (const hosts of ['host: a\r\nhost: b', 'Host: a\r\nx-a: 1\r\nHOST: a']) {
      const reply = await exchange(port, `GET / HTTP/1.1\r\n${hosts}\r\n\r\n${SMUGGLED}`);
      expect(statuses(reply)).toEqual([400]);
    }
    expect(upstream.bytes()).toBe('');
  });
});
