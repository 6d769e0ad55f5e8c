// Fuzzing the HTTP/1 listener over real loopback sockets: requests generated from the grammar of
// HTTP/1.1 and its known traps (Content-Length/Transfer-Encoding combinations, obs-fold, bare LF,
// bad chunk sizes, huge and many headers, odd targets and versions, pipelining), then mutated as
// bytes and written in random pieces. Each connection must end in a well-formed response or a
// close, within a deadline; a witness keep-alive connection keeps getting answers; the proxy
// reports no internal error; when the fuzzing is over no connection is left open and the heap is
// back near where it started.
// Long run: MESHLET_FUZZ_RUNS=5000 pnpm exec vitest run test/reliability/fuzz-http1.test.ts
import http from 'node:http';
import net from 'node:net';
import { setImmediate as tick } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FUZZ_SEED, chunk, cuts, fuzzTimeout, mutate, mutation, runs } from '../support/fuzz.ts';
import { startFuzzProxy, type FuzzProxy } from './fuzz-proxy.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** How long an 'after-answer' client waits for the first bytes of an answer before its FIN. */
const ANSWER_WAIT_MS = 200;

/** How long a fuzzed connection may stay open after the client finished writing. */
const CLOSE_DEADLINE_MS = 5000;

let fz: FuzzProxy;
let port = 0;
const upstreamSaw = { requests: 0, ambiguous: 0 };

beforeAll(async () => {
  fz = await startFuzzProxy((req, res) => {
    upstreamSaw.requests++;
    // What reaches the upstream must be unambiguous: never both framings at once.
    if (req.headers['content-length'] !== undefined && req.headers['transfer-encoding'] !== undefined)
      upstreamSaw.ambiguous++;
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => res.end(`${req.method ?? ''} ${req.url ?? ''} ${size}`));
    req.on('error', () => res.destroy());
  });
  port = fz.port;
});

afterAll(() => fz.close());

// ---- The request grammar ----

const tokenChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
const token = fc.string({ unit: fc.constantFrom(...tokenChars.split('')), minLength: 1, maxLength: 12 });
/** Bytes no header may hold (controls, DEL, bytes above 0x7f) and the separators. */
const hostileByte = fc.constantFrom(
  '\0',
  '\x01',
  '\x7f',
  '\x80',
  '\xff',
  '\r',
  '\n',
  ' ',
  '\t',
  ':',
  '"',
  '(',
  ',',
  ';',
);
const hostileText = fc.array(fc.oneof(token, hostileByte), { maxLength: 6 }).map((parts) => parts.join(''));

// Mostly valid parts, so that most cases get past the parser and reach routing and forwarding.
const method = fc.oneof(
  { arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH'), weight: 8 },
  fc.constantFrom('CONNECT', 'TRACE', 'PRI', 'get', 'G ET', '', 'GET\0', 'POST '),
  token,
);
const target = fc.oneof(
  { arbitrary: fc.constantFrom('/', '/a/b', '/a?b=c&d'), weight: 6 },
  fc.constantFrom(
    '/',
    '/a?b=c',
    '*',
    'http://h/x',
    'h:443',
    '//x',
    '/%00',
    '/../../etc',
    '/a#f',
    '?',
    '/\x7f',
  ),
  fc.integer({ min: 1, max: 20_000 }).map((n) => `/${'a'.repeat(n)}`),
  hostileText.map((t) => `/${t}`),
);
const version = fc.oneof(
  { arbitrary: fc.constantFrom('HTTP/1.1', 'HTTP/1.0'), weight: 8 },
  fc.constantFrom('HTTP/2.0', 'HTTP/1.10', 'HTTP/0.9', 'HTTPS/1.1', 'http/1.1', ''),
);
const contentLength = fc.oneof(
  fc.nat({ max: 64 }).map(String),
  fc.constantFrom(
    '-1',
    '+1',
    ' 1',
    '1 ',
    '0x10',
    '1, 1',
    '1,2',
    '18446744073709551616',
    '99999999999',
    '',
    'abc',
  ),
);
const transferEncoding = fc.constantFrom(
  'chunked',
  'Chunked',
  'chunked, gzip',
  'gzip, chunked',
  'xchunked',
  'chunked ',
  'identity',
  '',
);
const header: fc.Arbitrary<[string, string]> = fc.oneof(
  {
    arbitrary: fc.tuple(
      fc.constantFrom('Host', 'host', 'accept', 'x-a'),
      fc.constantFrom('example.com', 'x', '*/*'),
    ),
    weight: 6,
  },
  fc.tuple(fc.constantFrom('Host', 'host', 'HOST'), fc.oneof(fc.constant('example.com'), hostileText)),
  fc.tuple(fc.constantFrom('Content-Length', 'content-length', 'Content-Length '), contentLength),
  fc.tuple(fc.constantFrom('Transfer-Encoding', 'transfer-encoding', ' Transfer-Encoding'), transferEncoding),
  fc.tuple(
    fc.constant('Connection'),
    fc.constantFrom('close', 'keep-alive', 'upgrade', 'x-a', 'close, te', 'Upgrade, HTTP2-Settings'),
  ),
  fc.tuple(fc.constant('Upgrade'), fc.constantFrom('websocket', 'h2c', 'x')),
  fc.tuple(
    fc.constantFrom('Expect', 'TE', 'x-envoy-original-path', 'x-forwarded-for', 'x-request-id', ':authority'),
    fc.oneof(fc.constantFrom('100-continue', 'trailers', '1.2.3.4'), hostileText),
  ),
  fc.tuple(fc.oneof(token, hostileText), hostileText),
  // Obs-fold: a continuation line.
  fc.tuple(
    token,
    hostileText.map((v) => `${v}\r\n ${v}`),
  ),
  // One huge header (around the 16 KiB limit of this listener).
  fc.tuple(
    token,
    fc.integer({ min: 1, max: 40_000 }).map((n) => 'v'.repeat(n)),
  ),
);
const chunkedBody = fc
  .array(
    fc.oneof(
      fc.string({ maxLength: 20 }).map((s) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`),
      fc.constantFrom(
        'ffffffffffffffff\r\n',
        '-1\r\n',
        '1;ext=x\r\na\r\n',
        '1\r\nab\r\n',
        'g\r\n',
        '0\r\nx-trailer: 1\r\n',
        ' 1\r\na\r\n',
      ),
    ),
    { maxLength: 4 },
  )
  .chain((chunks) => fc.constantFrom(`${chunks.join('')}0\r\n\r\n`, chunks.join('')));
const body = fc.oneof(chunkedBody, fc.string({ maxLength: 64 }), fc.constant(''));

const hostileRequest = fc
  .record({
    method,
    target,
    version,
    headers: fc.array(header, { maxLength: 6 }),
    many: fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, fc.nat({ max: 150 })),
    body,
    host: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, fc.constant(false)),
    bareLf: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, fc.constant(true)),
  })
  .map((r) => {
    const eol = r.bareLf ? '\n' : '\r\n';
    const lines = [`${r.method} ${r.target} ${r.version}`.trimEnd()];
    if (r.host) lines.push('Host: example.com');
    for (const [name, value] of r.headers) lines.push(`${name}: ${value}`);
    for (let i = 0; i < r.many; i++) lines.push(`x-many-${i}: ${i}`);
    return Buffer.from(`${lines.join(eol)}${eol}${eol}${r.body}`, 'latin1');
  });

/** A well-formed request (half of the requests), so that the edits and pipelining reach routing and forwarding. */
const cleanRequest = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD'),
    target: fc.constantFrom('/', '/a/b', '/a?b=c'),
    headers: fc.array(fc.tuple(fc.constantFrom('accept', 'x-a', 'user-agent'), token), { maxLength: 3 }),
    body: fc.string({ maxLength: 64 }),
    chunked: fc.boolean(),
  })
  .map((r) => {
    const lines = [`${r.method} ${r.target} HTTP/1.1`, 'Host: example.com'];
    for (const [name, value] of r.headers) lines.push(`${name}: ${value}`);
    const body = Buffer.from(r.body);
    if (r.chunked && body.length > 0) lines.push('Transfer-Encoding: chunked');
    else if (body.length > 0) lines.push(`Content-Length: ${body.length}`);
    const framed =
      r.chunked && body.length > 0 ? `${body.length.toString(16)}\r\n${r.body}\r\n0\r\n\r\n` : r.body;
    return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), Buffer.from(framed)]);
  });
const request = fc.oneof({ arbitrary: cleanRequest, weight: 1 }, { arbitrary: hostileRequest, weight: 1 });

/** A fuzz case: 1 to 3 pipelined requests, byte edits, and how the bytes are cut and the connection ended. */
const fuzzCase = fc.record({
  requests: fc.array(request, { minLength: 1, maxLength: 3 }),
  edits: fc.oneof(
    { arbitrary: fc.constant([]), weight: 2 },
    { arbitrary: fc.array(mutation, { maxLength: 3 }), weight: 1 },
  ),
  cuts,
  // 'after-answer': the client waits a little for the first bytes of an answer before its FIN,
  // as most clients do; at a FIN, node drops the requests still in flight ('half-close').
  ending: fc.constantFrom('after-answer', 'after-answer', 'half-close', 'reset'),
});
type FuzzCase = typeof fuzzCase extends fc.Arbitrary<infer T> ? T : never;

interface Outcome {
  /** The status of the first response, 'none' when the proxy closed without one. */
  readonly status: string;
  /** Whether every response head received is well formed. */
  readonly wellFormed: boolean;
  /** False when the proxy kept the connection open past the deadline. */
  readonly closed: boolean;
}

/** Sends one fuzz case on its own connection; resolves when the proxy closed it (or the deadline passed). */
async function send(c: FuzzCase): Promise<Outcome> {
  const bytes = mutate(Buffer.concat(c.requests), c.edits);
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const received: Buffer[] = [];
  let answered: () => void = () => undefined;
  const answer = new Promise<void>((resolve) => (answered = resolve));
  socket.on('data', (d: Buffer) => {
    received.push(d);
    answered();
  });
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, CLOSE_DEADLINE_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      answered();
      resolve(true);
    });
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve).once('close', resolve));
  for (const piece of chunk(bytes, c.cuts)) {
    if (socket.destroyed) break;
    socket.write(piece);
    await tick();
  }
  // An incomplete request gets no answer until a timeout: the client gives up waiting first.
  if (c.ending === 'after-answer') await Promise.race([answer, closed, sleep(ANSWER_WAIT_MS)]);
  if (c.ending === 'reset') socket.resetAndDestroy();
  else socket.end();
  const didClose = await closed;
  socket.destroy();
  const text = Buffer.concat(received).toString('latin1');
  const heads = text.match(/HTTP\/1\.[01] [^\r\n]*\r\n/g) ?? [];
  const wellFormed =
    text === '' ||
    (/^HTTP\/1\.[01] [1-5]\d\d /.test(text) && heads.every((h) => /^HTTP\/1\.[01] [1-5]\d\d /.test(h)));
  return {
    status: /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 'none',
    wellFormed,
    closed: didClose || c.ending === 'reset',
  };
}

/** A request on a long-lived keep-alive connection: the proxy still serves well-behaved clients. */
function witness(agent: http.Agent, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: `/witness/${n}`, agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          resolve(`${res.statusCode ?? 0} ${text}`);
        });
      })
      .on('error', reject);
  });
}

/** Downstream connections the proxy holds open on the fuzzed listener (Envoy's gauge). */
function activeConnections(): number {
  return fz.gauge('http.fuzz.downstream_cx_active');
}

it(
  'malformed requests over real sockets: a response or a close, other connections served, nothing left behind',
  async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect(await witness(agent, 0)).toBe('200 GET /witness/0 0');
    gc();
    const heapBefore = process.memoryUsage().heapUsed;

    const rounds = runs(200);
    const batch = 24;
    const cases = fc.sample(
      fuzzCase,
      FUZZ_SEED === undefined ? rounds : { numRuns: rounds, seed: FUZZ_SEED },
    );
    const statuses = new Map<string, number>();
    const failures: string[] = [];
    for (let i = 0; i < cases.length; i += batch) {
      const slice = cases.slice(i, i + batch);
      const outcomes = await Promise.all(slice.map(send));
      outcomes.forEach((o, j) => {
        statuses.set(o.status, (statuses.get(o.status) ?? 0) + 1);
        const c = slice[j] as FuzzCase;
        const shown = () =>
          JSON.stringify(mutate(Buffer.concat(c.requests), c.edits).toString('latin1').slice(0, 300));
        if (!o.closed) failures.push(`left open: ${shown()}`);
        if (!o.wellFormed) failures.push(`malformed response: ${shown()}`);
        if (o.status === '500') failures.push(`500: ${shown()}`);
      });
      // The witness connection is answered between batches: fuzzed connections never disturb it.
      expect(await witness(agent, i + 1)).toBe(`200 GET /witness/${i + 1} 0`);
    }
    agent.destroy();

    expect(failures).toEqual([]);
    expect(fz.internalErrors).toEqual([]);
    expect(upstreamSaw.ambiguous).toBe(0);
    // The cases reach both the upstream and the parser's rejections.
    expect(upstreamSaw.requests).toBeGreaterThan(rounds / 20);
    expect(statuses.get('400') ?? 0).toBeGreaterThan(0);

    // Every fuzzed connection is gone (the witness's too, now) and the heap is back near its start.
    // Polls the proxy's own gauge; the bound only turns a leak into a failure instead of a hang.
    for (let i = 0; i < 500 && activeConnections() > 0; i++) await sleep(10);
    expect(activeConnections()).toBe(0);
    gc();
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 1024 * 1024);
    console.info(
      `fuzz-http1: ${rounds} connections, first-response statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
  },
  fuzzTimeout(30_000),
);
