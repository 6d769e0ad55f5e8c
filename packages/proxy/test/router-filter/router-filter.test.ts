import { Client, request } from 'undici';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRouterFilter } from '../../src/router-filter/index.js';
import type { ForwardingRouterFilter, RouterFilterOptions } from '../../src/router-filter/index.js';
import type { RouteEntry, StreamInfo } from '../../src/types.js';
import {
  abortWhileHeld,
  ManualTime,
  openConnections,
  TestCluster,
  TestClusters,
  TestListener,
  retryPolicy,
  route,
  until,
  upstreamsClosedBy,
} from './harness.js';
import { cleanupAfterEach } from '../e2e/scope.js';

const cleanups = cleanupAfterEach();

const up = upstreamsClosedBy(cleanups);

interface Setup {
  filter: ForwardingRouterFilter;
  listener: TestListener;
  clusters: TestClusters;
  url: string;
}

async function proxy(
  clusters: TestCluster[],
  entry: RouteEntry | null,
  options: Partial<RouterFilterOptions> = {},
): Promise<Setup> {
  const manager = new TestClusters(...clusters);
  const filter = createRouterFilter({
    clusters: manager,
    config: { type: 'router', suppressEnvoyHeaders: false },
    ...options,
  });
  const listener = new TestListener(
    () => filter,
    () => entry,
  );
  const port = await listener.listen();
  cleanups.push(async () => {
    await listener.close();
    await manager.close();
  });
  return { filter, listener, clusters: manager, url: `http://127.0.0.1:${port}` };
}

function ok(body = 'ok') {
  return (_req: unknown, res: ServerResponse): void => {
    res.end(body);
  };
}

describe('router filter: forwarding', () => {
  it('forwards a request and streams the response back, without hop-by-hop headers', async () => {
    const a = await up((req, res) => {
      res.setHeader('connection', 'keep-alive, x-hop');
      res.setHeader('x-hop', '1');
      res.setHeader('keep-alive', 'timeout=77');
      res.setHeader('x-end', 'kept');
      res.end(`${req.method} ${req.url} host=${req.headers.host} route=${String(req.headers['x-route'])}`);
    });
    const { url, listener } = await proxy(
      [new TestCluster('backend', [a.port])],
      route({ prefixRewrite: ['/api/', '/'] }),
    );
    const res = await request(`${url}/api/items?x=1`, { headers: { host: 'shop.example' } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('GET /items?x=1 host=shop.example route=r');
    expect(res.headers['x-end']).toBe('kept');
    expect(res.headers['x-hop']).toBeUndefined();
    expect(res.headers['keep-alive']).not.toBe('timeout=77');
    expect(res.headers['x-route-response']).toBe('r');
    expect(Number(res.headers['x-envoy-upstream-service-time'])).toBeGreaterThanOrEqual(0);
    const info = (listener.served[0] as { ctx: { info: StreamInfo } }).ctx.info;
    expect(info.upstreamCluster).toBe('backend');
    expect(info.upstreamHost).toBe(`127.0.0.1:${a.port}`);
    expect(info.attempts).toBe(1);
    expect(info.responseCodeDetails).toBe('via_upstream');
    expect(info.bytesSent).toBeGreaterThan(0);
  });

  it('adds no x-envoy-* headers with suppressEnvoyHeaders', async () => {
    const seen: IncomingMessage[] = [];
    const a = await up((req, res) => {
      seen.push(req);
      res.end('ok');
    });
    const { url } = await proxy(
      [new TestCluster('backend', [a.port])],
      route({ timeoutMs: 1000, retry: retryPolicy() }),
      { config: { type: 'router', suppressEnvoyHeaders: true } },
    );
    const res = await request(url);
    expect(await res.body.text()).toBe('ok');
    expect(res.headers['x-envoy-upstream-service-time']).toBeUndefined();
    expect(seen[0]?.headers['x-envoy-attempt-count']).toBeUndefined();
    expect(seen[0]?.headers['x-envoy-expected-rq-timeout-ms']).toBeUndefined();
  });

  it('streams a request body upstream', async () => {
    const a = await up((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(String(n)));
    });
    const { url } = await proxy([new TestCluster('backend', [a.port])], route());
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < 200; i++) yield Buffer.alloc(4096, i);
      })(),
    );
    const res = await request(url, { method: 'POST', body });
    expect(await res.body.text()).toBe(String(200 * 4096));
  });

  it('answers 404 NR without a route, 503 NC for a missing cluster, direct responses and redirects', async () => {
    const none = await proxy([], null);
    const r1 = await request(none.url);
    expect(r1.statusCode).toBe(404);
    await r1.body.dump();
    expect([...(none.listener.served[0]?.ctx.info.responseFlags ?? [])]).toEqual(['NR']);

    const missing = await proxy([], route({ cluster: 'nowhere' }));
    const r2 = await request(missing.url);
    expect(r2.statusCode).toBe(503);
    await r2.body.dump();
    expect(missing.listener.served[0]?.ctx.info.responseCodeDetails).toBe('cluster_not_found');
    expect(missing.listener.served[0]?.ctx.info.responseFlags.has('NC')).toBe(true);

    const header = await proxy([], route({ cluster: null }));
    const r3 = await request(header.url);
    expect(r3.statusCode).toBe(503);
    await r3.body.dump();

    const direct = await proxy([], route({ directResponse: { status: 200, body: 'hello' } }));
    const r4 = await request(direct.url);
    expect(await r4.body.text()).toBe('hello');

    const redirect = await proxy([], route({ redirect: { status: 301, location: 'https://x.example/' } }));
    const r5 = await request(redirect.url);
    expect(r5.statusCode).toBe(301);
    expect(r5.headers.location).toBe('https://x.example/');
    await r5.body.dump();
  });
});

describe('router filter: failures and retries', () => {
  it('retries a 503 on another host; the retry carries x-envoy-attempt-count', async () => {
    const bad = await up((_req, res) => {
      res.statusCode = 503;
      res.end('bad host body');
    });
    const good = await up((req, res) =>
      res.end(`good attempt=${String(req.headers['x-envoy-attempt-count'])}`),
    );
    const cluster = new TestCluster('backend', [bad.port, good.port]);
    const { url, filter, listener } = await proxy(
      [cluster],
      route({ retry: retryPolicy({ numRetries: 2 }) }),
      {
        random: () => 0,
      },
    );
    const res = await request(url);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('good attempt=2');
    expect(bad.requests).toHaveLength(1);
    expect(filter.stats.retries).toBe(1);
    expect(listener.served[0]?.ctx.info.attempts).toBe(2);
    expect(cluster.outcomes.map((o) => o.outcome)).toEqual([
      { kind: 'response', status: 503 },
      { kind: 'response', status: 200 },
    ]);
    const limits = cluster.limits('default');
    await until(() => limits.requests.count === 0);
    expect(limits.retries.count).toBe(0);
  });

  it('replays a streamed request body on the retry', async () => {
    const bad = await up((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = 503;
        res.end();
      });
    });
    const good = await up((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks).toString('base64').length.toString()));
    });
    const { url } = await proxy(
      [new TestCluster('backend', [bad.port, good.port])],
      route({ retry: retryPolicy() }),
      {
        random: () => 0,
      },
    );
    const payload = Buffer.alloc(20_000, 7);
    const body = Readable.from([payload.subarray(0, 10_000), payload.subarray(10_000)]);
    const res = await request(url, { method: 'POST', body, headers: { 'content-length': '20000' } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe(payload.toString('base64').length.toString());
  });

  it('does not retry a body larger than the replay buffer', async () => {
    const bad = await up((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = 503;
        res.end();
      });
    });
    const good = await up(ok());
    const { url, filter } = await proxy(
      [new TestCluster('backend', [bad.port, good.port])],
      route({ retry: retryPolicy() }),
      { random: () => 0, retryBufferLimitBytes: 1024 },
    );
    const body = Readable.from([Buffer.alloc(4096), Buffer.alloc(4096)]);
    const res = await request(url, { method: 'POST', body });
    expect(res.statusCode).toBe(503);
    await res.body.dump();
    expect(filter.stats.retriesNotReplayable).toBe(1);
    expect(good.requests).toHaveLength(0);
  });

  it('forwards the last retriable response with URX when retries are exhausted', async () => {
    const bad = await up((_req, res) => {
      res.statusCode = 502;
      res.end('still bad');
    });
    const { url, listener } = await proxy(
      [new TestCluster('backend', [bad.port])],
      route({ retry: retryPolicy({ numRetries: 2 }) }),
      {
        random: () => 0,
      },
    );
    const res = await request(url);
    expect(res.statusCode).toBe(502);
    expect(await res.body.text()).toBe('still bad');
    expect(bad.requests).toHaveLength(3);
    expect(listener.served[0]?.ctx.info.responseFlags.has('URX')).toBe(true);
  });

  it('answers 503 UF on a connect failure, and a retry finds a live host', async () => {
    const dead = await up(ok());
    const deadPort = dead.port;
    await dead.close();
    const noRetry = await proxy([new TestCluster('backend', [deadPort])], route());
    const r1 = await request(noRetry.url);
    expect(r1.statusCode).toBe(503);
    expect(await r1.body.text()).toBe(
      'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
    );
    expect(noRetry.listener.served[0]?.ctx.info.responseFlags.has('UF')).toBe(true);
    const deadCluster = noRetry.clusters.map.get('backend') as TestCluster;
    expect(deadCluster.outcomes[0]?.outcome).toEqual({ kind: 'connect-failed' });

    const live = await up(ok('alive'));
    const withRetry = await proxy(
      [new TestCluster('backend', [deadPort, live.port])],
      route({ retry: retryPolicy({ retryOn: ['connect-failure'] }) }),
      { random: () => 0 },
    );
    const r2 = await request(withRetry.url);
    expect(await r2.body.text()).toBe('alive');
  });

  it('answers 503 UC when the upstream resets before the response head', async () => {
    const resetting = await up((req) => {
      req.socket.destroy();
    });
    const { url, listener } = await proxy([new TestCluster('backend', [resetting.port])], route());
    const res = await request(url);
    expect(res.statusCode).toBe(503);
    expect(await res.body.text()).toBe(
      'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
    );
    expect(listener.served[0]?.ctx.info.responseFlags.has('UC')).toBe(true);
  });

  it('answers 503 UPE when the upstream answers with something that is not HTTP', async () => {
    const garbage = await up((req) => {
      req.socket.end('NOT HTTP AT ALL\r\n\r\n');
    });
    const huge = await up((req) => {
      req.socket.end(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(200_000)}\r\n\r\n`);
    });
    for (const upstream of [garbage, huge]) {
      const { url, listener } = await proxy([new TestCluster('backend', [upstream.port])], route());
      const res = await request(url);
      expect(res.statusCode).toBe(503);
      expect(await res.body.text()).toBe(
        'upstream connect error or disconnect/reset before headers. reset reason: protocol error',
      );
      expect(listener.served[0]?.ctx.info.responseFlags.has('UPE')).toBe(true);
    }
  });

  it('resets the downstream stream when the upstream fails after the head', async () => {
    const half = await up((req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setImmediate(() => req.socket.destroy());
    });
    const { url } = await proxy([new TestCluster('backend', [half.port])], route());
    const res = await request(url);
    expect(res.statusCode).toBe(200);
    await expect(res.body.text()).rejects.toThrow();
  });

  it('overflows with 503 UO and x-envoy-overloaded when maxRequests is reached', async () => {
    const held: ServerResponse[] = [];
    const slow = await up((_req, res) => held.push(res));
    const cluster = new TestCluster('backend', [slow.port], { thresholds: [{ maxRequests: 1 }] });
    const { url, filter, listener } = await proxy([cluster], route());
    const first = request(url);
    await until(() => held.length === 1);
    const second = await request(url);
    expect(second.statusCode).toBe(503);
    expect(second.headers['x-envoy-overloaded']).toBe('true');
    expect(await second.body.text()).toBe(
      'upstream connect error or disconnect/reset before headers. reset reason: overflow',
    );
    expect(listener.served[1]?.ctx.info.responseFlags.has('UO')).toBe(true);
    expect(filter.stats.overflow).toBe(1);
    expect(cluster.limits('default').requests.overflows).toBe(1);
    (held[0] as ServerResponse).end('first');
    expect(await (await first).body.text()).toBe('first');
  });

  it('answers 503 UH when no host is healthy', async () => {
    const cluster = new TestCluster('backend', []);
    const { url, listener } = await proxy([cluster], route());
    const res = await request(url);
    expect(res.statusCode).toBe(503);
    expect(await res.body.text()).toBe('no healthy upstream');
    expect(listener.served[0]?.ctx.info.responseFlags.has('UH')).toBe(true);
  });
});

describe('router filter: timeouts (injected clock)', () => {
  it('answers 504 UT when the route timeout passes, and aborts the upstream request', async () => {
    const time = new ManualTime();
    const held: IncomingMessage[] = [];
    const slow = await up((req) => held.push(req));
    const cluster = new TestCluster('backend', [slow.port]);
    const { url, listener } = await proxy([cluster], route({ timeoutMs: 5000 }), {
      timers: time.wheel,
      now: () => time.now,
    });
    const pending = request(url);
    await until(() => held.length === 1);
    time.advance(4999);
    time.advance(2);
    const res = await pending;
    expect(res.statusCode).toBe(504);
    expect(await res.body.text()).toBe('upstream request timeout');
    expect(listener.served[0]?.ctx.info.responseFlags.has('UT')).toBe(true);
    expect(cluster.outcomes[0]?.outcome).toEqual({ kind: 'timeout' });
    // The upstream request was aborted: its connection closes.
    await until(() => (held[0] as IncomingMessage).socket.destroyed);
    expect(cluster.limits('default').requests.count).toBe(0);
  });

  it('retries on another host after a per-try timeout', async () => {
    const time = new ManualTime();
    const held: IncomingMessage[] = [];
    const slow = await up((req) => held.push(req));
    const fast = await up(ok('fast'));
    const { url, filter } = await proxy(
      [new TestCluster('backend', [slow.port, fast.port])],
      route({ timeoutMs: 60_000, retry: retryPolicy({ perTryTimeoutMs: 100 }) }),
      { timers: time.wheel, now: () => time.now, random: () => 0 },
    );
    const pending = request(url);
    await until(() => held.length === 1);
    time.advance(101); // per-try timeout: the retry is scheduled (backoff 0)
    time.advance(1); // backoff over: the retry goes out
    const res = await pending;
    expect(await res.body.text()).toBe('fast');
    expect(filter.stats.perTryTimeouts).toBe(1);
  });

  it('answers 408 SI when the stream is idle for the route idle timeout', async () => {
    const time = new ManualTime();
    const held: IncomingMessage[] = [];
    const slow = await up((req) => held.push(req));
    const { url, listener } = await proxy(
      [new TestCluster('backend', [slow.port])],
      route({ idleTimeoutMs: 1000 }),
      {
        timers: time.wheel,
        now: () => time.now,
      },
    );
    const pending = request(url);
    await until(() => held.length === 1);
    time.advance(1001);
    const res = await pending;
    expect(res.statusCode).toBe(408);
    await res.body.dump();
    expect(listener.served[0]?.ctx.info.responseFlags.has('SI')).toBe(true);
  });

  it('honours grpc-timeout, capped by grpcTimeoutHeaderMaxMs', async () => {
    const time = new ManualTime();
    const held: IncomingMessage[] = [];
    const slow = await up((req) => held.push(req));
    const { url } = await proxy(
      [new TestCluster('backend', [slow.port])],
      route({ timeoutMs: 0, grpcTimeoutHeaderMaxMs: 150 }),
      { timers: time.wheel, now: () => time.now },
    );
    const grpc = { 'content-type': 'application/grpc' };
    const short = request(url, { headers: { ...grpc, 'grpc-timeout': '100m' } });
    await until(() => held.length === 1);
    expect(held[0]?.headers['x-envoy-expected-rq-timeout-ms']).toBe('100');
    time.advance(101);
    expect((await short).statusCode).toBe(504);
    // 10 s asked, 150 ms allowed.
    const capped = request(url, { headers: { ...grpc, 'grpc-timeout': '10S' } });
    await until(() => held.length === 2);
    expect(held[1]?.headers['x-envoy-expected-rq-timeout-ms']).toBe('150');
    time.advance(151);
    expect((await capped).statusCode).toBe(504);
  });
});

describe('router filter: more timeouts and retry limits', () => {
  it('retries after a per-try idle timeout', async () => {
    const time = new ManualTime();
    const held: IncomingMessage[] = [];
    const slow = await up((req) => held.push(req));
    const fast = await up(ok('fast'));
    const { url, filter } = await proxy(
      [new TestCluster('backend', [slow.port, fast.port])],
      route({ retry: retryPolicy({ perTryIdleTimeoutMs: 500 }) }),
      { timers: time.wheel, now: () => time.now, random: () => 0 },
    );
    const pending = request(url);
    await until(() => held.length === 1);
    time.advance(501);
    time.advance(1);
    expect(await (await pending).body.text()).toBe('fast');
    expect(filter.stats.perTryTimeouts).toBe(1);
  });

  it('resets the stream when the route timeout passes after the head', async () => {
    const time = new ManualTime();
    const heads: ServerResponse[] = [];
    const stalling = await up((_req, res) => {
      res.writeHead(200, { 'content-length': '10' });
      res.write('abc');
      heads.push(res);
    });
    const { url, listener } = await proxy(
      [new TestCluster('backend', [stalling.port])],
      route({ timeoutMs: 1000 }),
      {
        timers: time.wheel,
        now: () => time.now,
      },
    );
    const res = await request(url);
    expect(res.statusCode).toBe(200);
    const text = res.body.text();
    await until(() => (listener.served[0]?.ctx.info.bytesSent ?? 0) === 3);
    time.advance(1001);
    await expect(text).rejects.toThrow();
    expect(listener.served[0]?.ctx.info.responseFlags.has('UT')).toBe(true);
  });

  it('does not retry over the cluster max_retries: the response goes back with UO, counted', async () => {
    const bad = await up((_req, res) => {
      res.statusCode = 503;
      res.end('bad');
    });
    const good = await up(ok());
    const cluster = new TestCluster('backend', [bad.port, good.port], { thresholds: [{ maxRetries: 0 }] });
    const { url, filter, listener } = await proxy([cluster], route({ retry: retryPolicy() }), {
      random: () => 0,
    });
    const res = await request(url);
    expect(res.statusCode).toBe(503);
    expect(await res.body.text()).toBe('bad');
    expect(filter.stats.retryOverflow).toBe(1);
    expect(cluster.limits('default').retries.overflows).toBe(1);
    expect(listener.served[0]?.ctx.info.responseFlags.has('UO')).toBe(true);
    expect(good.requests).toHaveLength(0);
  });
});

describe('router filter: errors in timer callbacks', () => {
  it('reports an error thrown under a timer and keeps serving', async () => {
    const time = new ManualTime();
    const errors: unknown[] = [];
    const held: IncomingMessage[] = [];
    const slow = await up((req, res) => {
      held.push(req);
      if (held.length > 1) res.end('second');
    });
    const { url, listener } = await proxy(
      [new TestCluster('backend', [slow.port])],
      route({ timeoutMs: 1000 }),
      {
        timers: time.wheel,
        now: () => time.now,
        onError: (error) => errors.push(error),
      },
    );
    const first = request(url);
    await until(() => held.length === 1);
    const served = listener.served[0] as unknown as { ctx: { reply: () => void } };
    served.ctx.reply = () => {
      throw new Error('reply failed');
    };
    time.advance(1001);
    expect((errors[0] as Error).message).toBe('reply failed');
    // The client is not left hanging: its stream is reset.
    await expect(first).rejects.toThrow();
    expect(await (await request(url)).body.text()).toBe('second');
  });
});

describe('router filter: client aborts', () => {
  it('aborts the upstream request when the client goes away: no open upstream request or socket', async () => {
    const held: IncomingMessage[] = [];
    const slow = await up((req) => held.push(req));
    const cluster = new TestCluster('backend', [slow.port]);
    const { listener, filter } = await proxy([cluster], route({ timeoutMs: 60_000 }));
    await abortWhileHeld(listener.port, held, 5);
    await until(() => filter.stats.downstreamAborts === 5);
    await until(() => held.every((r) => r.socket.destroyed));
    const count = await openConnections(slow.server);
    expect(count).toBe(0);
    expect(cluster.limits('default').requests.count).toBe(0);
    expect(cluster.limits('default').pendingRequests.count).toBe(0);
    expect(cluster.lb.hosts[0]?.activeRequests).toBe(0);
    expect(listener.served.every((s) => s.ctx.info.responseFlags.has('DC'))).toBe(true);
  });

  it('cancels a pending retry backoff when the client goes away', async () => {
    const time = new ManualTime();
    const bad = await up((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const cluster = new TestCluster('backend', [bad.port]);
    const { listener, filter } = await proxy([cluster], route({ retry: retryPolicy({ numRetries: 3 }) }), {
      timers: time.wheel,
      now: () => time.now,
      random: () => 0.99,
    });
    const req = httpRequest({ port: listener.port, host: '127.0.0.1' });
    req.on('error', () => undefined);
    req.end();
    await until(() => filter.stats.retries === 1);
    expect(time.wheel.size).toBe(1);
    req.destroy();
    await until(() => filter.stats.downstreamAborts === 1);
    expect(time.wheel.size).toBe(0);
    time.advance(10_000);
    expect(bad.requests).toHaveLength(1);
    expect(cluster.limits('default').retries.count).toBe(0);
  });
});

describe('router filter: mirrors', () => {
  it('sends a copy to the shadow cluster with a -shadow authority, without waiting for it', async () => {
    const main = await up(ok('main'));
    const shadowed: IncomingMessage[] = [];
    const bodies: string[] = [];
    const shadow = await up((req) => {
      shadowed.push(req);
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => bodies.push(text));
      // Never answers: the main response must not wait for it.
    });
    const { url, filter } = await proxy(
      [new TestCluster('backend', [main.port]), new TestCluster('shadow', [shadow.port])],
      route({
        mirrors: [
          { cluster: 'shadow', fraction: 1 },
          { cluster: 'shadow', fraction: 0 },
        ],
      }),
      { random: () => 0.5 },
    );
    const res = await request(url, { method: 'POST', body: 'payload', headers: { host: 'api.example' } });
    expect(await res.body.text()).toBe('main');
    await until(() => bodies.length === 1);
    expect(shadowed[0]?.headers.host).toBe('api.example-shadow');
    expect(bodies[0]).toBe('payload');
    expect(filter.stats.mirrorsSent).toBe(1);
  });

  it('counts and swallows mirror failures', async () => {
    const main = await up(ok('main'));
    const { url, filter } = await proxy(
      [new TestCluster('backend', [main.port])],
      route({ mirrors: [{ cluster: 'missing', fraction: 1 }] }),
    );
    const res = await request(url);
    expect(await res.body.text()).toBe('main');
    expect(filter.stats.mirrorErrors).toBe(1);
  });
});

describe('router filter: backpressure', () => {
  it('a slow client bounds what the proxy reads from upstream', async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    let blocked = false;
    const big = await up((_req, res) => {
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) {
            blocked = true;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const { url } = await proxy([new TestCluster('backend', [big.port])], route());
    const client = new Client(url);
    cleanups.push(() => client.destroy());
    const res = await client.request({ path: '/', method: 'GET', highWaterMark: 16 * 1024 });
    // Read nothing: once every buffer on the way is full, the upstream stalls far below the total.
    await until(() => blocked);
    let stalledAt = -1;
    while (stalledAt !== written) {
      stalledAt = written;
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    expect(written).toBeLessThan(16 * 1024 * 1024);
    let received = 0;
    for await (const chunk of res.body) received += (chunk as Buffer).length;
    expect(received).toBe(total);
  });
});
