// Upstream faults, HTTP: a real proxy on loopback in front of upstreams that refuse, reset, stall,
// half-close, fail DNS or TLS, storm 5xx, or accept and never answer. Each fault gets Envoy's local
// reply and response flag, a retry or an ejection; and nothing is left behind: every socket,
// server and timer the scenario created is destroyed once it closed what it started.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { createProxy, type HttpProxy, type ObserverFactory, type ProxyOptions } from '../../src/index.js';
import type { DnsResolver } from '../../src/cluster/dns.js';
import { FakeTime } from '../cluster/helpers.js';
import {
  cluster,
  envoyCluster,
  gateway,
  namedUpstream,
  outlierDetection,
  retryPolicy,
  route,
  routeAction,
  thresholds,
  type NamedUpstream,
} from '../e2e/helpers.js';
import { closedPort } from '../tcp/helpers.js';
import { leakChecked, rawServer, statOf } from './resources.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../upstream/fixtures/${name}`, import.meta.url), 'utf8');

interface Outcome {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** What one scenario started; closed in reverse order, then checked for leaks. */
class Scenario {
  readonly time = new FakeTime(1_000_000);
  /** Response flags and details of every finished stream, in order. */
  readonly ended: { flags: string[]; details: string }[] = [];
  readonly closers: (() => unknown)[] = [];
  proxy!: HttpProxy;
  client!: Pool;

  private readonly recorder: ObserverFactory = {
    forChain: () => ({
      connectionOpened: () => undefined,
      connectionClosed: () => undefined,
      streamStarted: () => undefined,
      streamEnded: (ctx) => {
        this.ended.push({ flags: [...ctx.info.responseFlags], details: ctx.info.responseCodeDetails });
      },
    }),
  };

  /** Starts the proxy; on fake time unless `realTime` (retries with backoff run on real timers). */
  async start(
    config: model.XdsSnapshot,
    more: Partial<ProxyOptions> = {},
    realTime = false,
  ): Promise<HttpProxy> {
    const proxy = createProxy({
      config,
      ...(realTime ? {} : { now: this.time.now, timers: this.time }),
      observers: [this.recorder],
      ...more,
    });
    this.closers.push(() => proxy.close());
    await proxy.start();
    this.proxy = proxy;
    const port = (proxy.address('ingress') as AddressInfo).port;
    this.client = new Pool(`http://127.0.0.1:${port}`, { connections: 32 });
    this.closers.push(() => this.client.close());
    return proxy;
  }

  async upstream(name: string, handler?: (req: IncomingMessage, res: ServerResponse) => void) {
    const u = await namedUpstream(name, handler);
    this.closers.push(u.close);
    return u;
  }

  /** A raw TCP server: `onSocket` decides what a connection gets. */
  async tcp(onSocket: (socket: Socket) => void): Promise<{ port: number; sockets: Set<Socket> }> {
    return rawServer(onSocket, this.closers);
  }

  async get(path = '/'): Promise<Outcome> {
    const res = await this.client.request({ method: 'GET', path });
    return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
  }

  stat(name: string): number | undefined {
    return statOf(this.proxy, name);
  }

  /** Closes what the scenario started, last first. */
  async close(): Promise<void> {
    for (const c of this.closers.splice(0).reverse()) await c();
  }
}

/** Runs a scenario, closes it, and checks that nothing it created is left behind. */
function scenario(run: (s: Scenario) => Promise<void>): Promise<void> {
  return leakChecked(() => new Scenario(), run);
}

/** Resolves when `upstream` got `n` requests in all. */
function requestsReached(upstream: NamedUpstream, n: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (upstream.requests.length >= n) resolve();
      else upstream.server.once('request', () => setImmediate(check));
    };
    check();
  });
}

const RESET_BEFORE_HEADERS = 'upstream connect error or disconnect/reset before headers. reset reason: ';

describe('upstream faults (HTTP): local reply, flag, retry, ejection, nothing left behind', () => {
  it('connection refused: 503 UF; retried on another host with retry_on connect-failure', async () => {
    await scenario(async (s) => {
      const dead = await closedPort();
      const good = await s.upstream('good');
      await s.start(
        gateway({
          routes: [
            route('plain', {
              match: { prefix: '/plain', caseSensitive: true, headers: [], queryParameters: [], grpc: false },
              route: routeAction('dead'),
            }),
            route('retried', {
              route: routeAction('mixed', {
                retryPolicy: retryPolicy({
                  retryOn: ['connect-failure'],
                  numRetries: 2,
                  retryHostPredicates: ['envoy.retry_host_predicates.previous_hosts'],
                  hostSelectionRetryMaxAttempts: 3,
                  retryBackOff: { baseIntervalMs: 1, maxIntervalMs: 2 },
                }),
              }),
            }),
          ],
          clusters: [cluster('dead', [dead]), cluster('mixed', [dead, good.port])],
        }),

        {},
        true,
      );
      const refused = await s.get('/plain');
      expect(refused).toMatchObject({ status: 503, body: `${RESET_BEFORE_HEADERS}connection failure` });
      expect(s.ended.at(-1)).toEqual({
        flags: ['UF'],
        details: 'upstream_reset_before_response_started{connection_failure}',
      });
      expect(s.stat('cluster.dead.upstream_cx_connect_fail')).toBe(1);
      for (let i = 0; i < 4; i++) expect(await s.get('/')).toMatchObject({ status: 200, body: 'good' });
      expect(s.stat('cluster.mixed.upstream_rq_retry')).toBeGreaterThan(0);
    });
  });

  it('reset before the response head: 503 UC; retried with retry_on reset', async () => {
    await scenario(async (s) => {
      const reset = await s.tcp((socket) => {
        socket.once('data', () => socket.resetAndDestroy());
      });
      const good = await s.upstream('good');
      await s.start(
        gateway({
          routes: [
            route('plain', {
              match: { prefix: '/plain', caseSensitive: true, headers: [], queryParameters: [], grpc: false },
              route: routeAction('reset'),
            }),
            route('retried', {
              route: routeAction('mixed', {
                retryPolicy: retryPolicy({
                  retryOn: ['reset'],
                  numRetries: 1,
                  retryHostPredicates: ['envoy.retry_host_predicates.previous_hosts'],
                  hostSelectionRetryMaxAttempts: 3,
                  retryBackOff: { baseIntervalMs: 1, maxIntervalMs: 2 },
                }),
              }),
            }),
          ],
          clusters: [cluster('reset', [reset.port]), cluster('mixed', [reset.port, good.port])],
        }),

        {},
        true,
      );
      expect(await s.get('/plain')).toMatchObject({
        status: 503,
        body: `${RESET_BEFORE_HEADERS}connection termination`,
      });
      expect(s.ended.at(-1)?.flags).toEqual(['UC']);
      for (let i = 0; i < 4; i++) expect(await s.get('/')).toMatchObject({ status: 200, body: 'good' });
    });
  });

  it('reset in the middle of the response body: the downstream stream is reset (UR), the proxy serves on', async () => {
    await scenario(async (s) => {
      const half = await s.tcp((socket) => {
        socket.once('data', () => {
          socket.write(
            'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst forty bytes of a hundred promised.',
          );
          setImmediate(() => socket.resetAndDestroy());
        });
      });
      const good = await s.upstream('good');
      await s.start(
        gateway({
          routes: [
            route('half', {
              match: { prefix: '/half', caseSensitive: true, headers: [], queryParameters: [], grpc: false },
              route: routeAction('half'),
            }),
            route('good', { route: routeAction('good') }),
          ],
          clusters: [cluster('half', [half.port]), cluster('good', [good.port])],
        }),
      );
      const res = await s.client.request({ method: 'GET', path: '/half' });
      expect(res.statusCode).toBe(200);
      await expect(res.body.text()).rejects.toThrow();
      expect(s.ended.at(-1)?.flags).toEqual(['UR', 'LR']);
      // A new connection (the reset one is gone) is served normally.
      expect(await s.get('/')).toMatchObject({ status: 200, body: 'good' });
      expect(half.sockets.size).toBe(0);
    });
  });

  it('slow headers: 504 UT at the route timeout, the upstream request cancelled; per_try_timeout retries elsewhere', async () => {
    await scenario(async (s) => {
      const stalled: ServerResponse[] = [];
      const slow = await s.upstream('slow', (req, res) => {
        req.resume();
        stalled.push(res);
      });
      const good = await s.upstream('good');
      await s.start(
        gateway({
          routes: [
            route('slow', {
              match: { prefix: '/slow', caseSensitive: true, headers: [], queryParameters: [], grpc: false },
              route: routeAction('slow', { timeoutMs: 1000 }),
            }),
            route('retried', {
              route: routeAction('mixed', {
                timeoutMs: 5000,
                retryPolicy: retryPolicy({
                  retryOn: ['reset'],
                  numRetries: 1,
                  perTryTimeoutMs: 200,
                  retryHostPredicates: ['envoy.retry_host_predicates.previous_hosts'],
                  hostSelectionRetryMaxAttempts: 3,
                  retryBackOff: { baseIntervalMs: 1, maxIntervalMs: 2 },
                }),
              }),
            }),
          ],
          clusters: [cluster('slow', [slow.port]), cluster('mixed', [slow.port, good.port])],
        }),
      );
      const pending = s.get('/slow');
      await requestsReached(slow, 1);
      s.time.advance(1000);
      expect(await pending).toMatchObject({ status: 504, body: 'upstream request timeout' });
      expect(s.ended.at(-1)).toEqual({ flags: ['UT'], details: 'upstream_response_timeout' });
      // The cancelled request's connection is closed: an HTTP/1 request cannot be abandoned on it.
      await Promise.all([...slow.sockets].map((socket) => once(socket, 'close')));
      expect(s.time.pendingTimers).toBe(0);

      for (let i = 0; i < 3; i++) {
        const slowBefore = slow.requests.length;
        const goodBefore = good.requests.length;
        const retried = s.get('/');
        const first = await Promise.race([
          requestsReached(slow, slowBefore + 1).then(() => 'slow'),
          requestsReached(good, goodBefore + 1).then(() => 'good'),
        ]);
        if (first === 'slow') {
          // The try times out, then the retry's backoff (a wheel tick) passes.
          s.time.advance(200);
          await new Promise((resolve) => setImmediate(resolve));
          s.time.advance(20);
        }
        expect(await retried).toMatchObject({ status: 200, body: 'good' });
      }
      // Round robin sent at least one of the three first to the stalled host: it was retried.
      expect(slow.requests.length).toBeGreaterThanOrEqual(2);
      for (const res of stalled) res.destroy();
    });
  });

  it('slow body: a response head then silence resets the downstream at the route timeout (UT)', async () => {
    await scenario(async (s) => {
      const trickle = await s.upstream('trickle', (req, res) => {
        req.resume();
        res.writeHead(200, { 'content-length': '10' });
        res.write('12345');
      });
      await s.start(
        gateway({
          routes: [route('r', { route: routeAction('trickle', { timeoutMs: 1000 }) })],
          clusters: [cluster('trickle', [trickle.port])],
        }),
      );
      const res = await s.client.request({ method: 'GET', path: '/' });
      expect(res.statusCode).toBe(200);
      const body = res.body.text();
      s.time.advance(1000);
      await expect(body).rejects.toThrow();
      expect(s.ended.at(-1)?.flags).toEqual(['UT', 'LR']);
      await Promise.all([...trickle.sockets].map((socket) => once(socket, 'close')));
    });
  });

  it('half-closed upstream: a FIN instead of a response is 503 UC; a kept-alive connection the upstream closes is not reused', async () => {
    await scenario(async (s) => {
      const fin = await s.tcp((socket) => {
        socket.once('data', () => socket.end());
      });
      // Answers keep-alive, then closes the connection right after the response.
      const closing = await s.upstream('closing', (req, res) => {
        req.resume();
        res.end('closing', () => res.socket?.end());
      });
      await s.start(
        gateway({
          routes: [
            route('fin', {
              match: { prefix: '/fin', caseSensitive: true, headers: [], queryParameters: [], grpc: false },
              route: routeAction('fin'),
            }),
            route('closing', {
              route: routeAction('closing', {
                retryPolicy: retryPolicy({
                  retryOn: ['reset'],
                  numRetries: 2,
                  retryBackOff: { baseIntervalMs: 1, maxIntervalMs: 2 },
                }),
              }),
            }),
          ],
          clusters: [cluster('fin', [fin.port]), cluster('closing', [closing.port])],
        }),

        {},
        true,
      );
      expect(await s.get('/fin')).toMatchObject({
        status: 503,
        body: `${RESET_BEFORE_HEADERS}connection termination`,
      });
      expect(s.ended.at(-1)?.flags).toEqual(['UC']);
      for (let i = 0; i < 10; i++) expect(await s.get('/')).toMatchObject({ status: 200, body: 'closing' });
      expect(fin.sockets.size).toBe(0);
    });
  });

  it('DNS failure: a STRICT_DNS or LOGICAL_DNS name that does not resolve is 503 UH (no healthy upstream), then recovers', async () => {
    await scenario(async (s) => {
      const good = await s.upstream('good');
      let resolvable = false;
      const resolver: DnsResolver = {
        lookup: (hostname) => {
          if (resolvable && hostname === 'orders.mesh.test')
            return Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
          return Promise.reject(
            Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }),
          );
        },
      };
      const dnsCluster = (name: string, type: 'STRICT_DNS' | 'LOGICAL_DNS'): model.Cluster =>
        envoyCluster({
          name,
          type,
          dns_refresh_rate: '1s',
          load_assignment: {
            cluster_name: name,
            endpoints: [
              {
                lb_endpoints: [
                  {
                    endpoint: {
                      address: { socket_address: { address: 'orders.mesh.test', port_value: good.port } },
                    },
                  },
                ],
              },
            ],
          },
        });
      await s.start(
        gateway({
          routes: [
            route('logical', {
              match: {
                prefix: '/logical',
                caseSensitive: true,
                headers: [],
                queryParameters: [],
                grpc: false,
              },
              route: routeAction('logical'),
            }),
            route('strict', { route: routeAction('strict') }),
          ],
          clusters: [dnsCluster('strict', 'STRICT_DNS'), dnsCluster('logical', 'LOGICAL_DNS')],
        }),
        { resolver },
      );
      await new Promise((resolve) => setImmediate(resolve));
      for (const path of ['/', '/logical']) {
        expect(await s.get(path)).toMatchObject({ status: 503, body: 'no healthy upstream' });
        expect(s.ended.at(-1)).toEqual({ flags: ['UH'], details: 'no_healthy_upstream' });
      }
      resolvable = true;
      s.time.advance(1000);
      await new Promise((resolve) => setImmediate(resolve));
      for (const path of ['/', '/logical'])
        expect(await s.get(path)).toMatchObject({ status: 200, body: 'good' });
    });
  });

  it('TLS failure: a plain server, an untrusted certificate and a SAN mismatch are each 503 UF', async () => {
    await scenario(async (s) => {
      const plain = await s.upstream('plain');
      const sockets = new Set<Socket>();
      const tlsServer = createHttpsServer(
        { cert: fixture('server.crt'), key: fixture('server.key') },
        (req, res) => {
          req.resume();
          res.end('secure');
        },
      );
      tlsServer.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      tlsServer.listen(0, '127.0.0.1');
      await once(tlsServer, 'listening');
      s.closers.push(async () => {
        for (const socket of sockets) socket.destroy();
        tlsServer.close();
        await once(tlsServer, 'close');
      });
      const tlsPort = (tlsServer.address() as AddressInfo).port;
      const tls = (name: string, port: number, ca: string, san: string): model.Cluster =>
        envoyCluster({
          name,
          load_assignment: {
            cluster_name: name,
            endpoints: [
              {
                lb_endpoints: [
                  { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } },
                ],
              },
            ],
          },
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
              sni: 'upstream.test',
              common_tls_context: {
                validation_context: {
                  trusted_ca: { inline_string: ca },
                  match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: san } }],
                },
              },
            },
          },
        });
      const paths = ['/plain', '/untrusted', '/wrong-san', '/ok'];
      const names = ['plain', 'untrusted', 'wrong-san', 'ok'];
      await s.start(
        gateway({
          routes: paths.map((p, i) =>
            route(names[i] as string, {
              match: { prefix: p, caseSensitive: true, headers: [], queryParameters: [], grpc: false },
              route: routeAction(names[i] as string),
            }),
          ),
          clusters: [
            tls('plain', plain.port, fixture('ca.crt'), 'upstream.test'),
            tls('untrusted', tlsPort, fixture('other-ca.crt'), 'upstream.test'),
            tls('wrong-san', tlsPort, fixture('ca.crt'), 'other.test'),
            tls('ok', tlsPort, fixture('ca.crt'), 'upstream.test'),
          ],
        }),
      );
      for (const path of ['/plain', '/untrusted', '/wrong-san']) {
        expect(await s.get(path)).toMatchObject({
          status: 503,
          body: `${RESET_BEFORE_HEADERS}connection failure`,
        });
        expect(s.ended.at(-1)?.flags).toEqual(['UF']);
      }
      expect(await s.get('/ok')).toMatchObject({ status: 200, body: 'secure' });
    });
  });

  it('5xx storm: retries bounded by max_retries (UO overflow), the failing host ejected by outlier detection', async () => {
    await scenario(async (s) => {
      // Two storm hosts hold their first 20 requests until all arrived, then answer 503 together:
      // 20 requests want a retry at once.
      const held: ServerResponse[] = [];
      const storming = (req: IncomingMessage, res: ServerResponse): void => {
        req.resume();
        res.statusCode = 503;
        held.push(res);
        if (held.length === 20) for (const r of held) r.end('storm');
        else if (held.length > 20) res.end('storm');
      };
      const storm1 = await s.upstream('storm1', storming);
      const storm2 = await s.upstream('storm2', storming);
      const calm = await s.upstream('calm');
      const policy = retryPolicy({
        retryOn: ['5xx'],
        numRetries: 3,
        retryBackOff: { baseIntervalMs: 1, maxIntervalMs: 2 },
      });
      await s.start(
        gateway({
          routes: [
            route('storm', {
              match: { prefix: '/storm', caseSensitive: true, headers: [], queryParameters: [], grpc: false },
              route: routeAction('storm', { retryPolicy: policy }),
            }),
            route('r', { route: routeAction('svc', { retryPolicy: policy }) }),
          ],
          clusters: [
            cluster('storm', [storm1.port, storm2.port], {
              circuitBreakers: { thresholds: [thresholds({ maxRetries: 2 })] },
            }),
            cluster('svc', [storm1.port, calm.port], {
              outlierDetection: outlierDetection({
                consecutive5xx: 3,
                maxEjectionPercent: 50,
                enforcingSuccessRate: 0,
              }),
            }),
          ],
        }),
        {},
        true,
      );
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => s.get('/storm')));
      expect(outcomes.every((o) => o.status === 503 && o.body === 'storm')).toBe(true);
      // Each upstream request is a first try or a counted retry. Without the breaker the storm
      // would have been multiplied by 1 + 3 retries (80 requests); max_retries (2 at once) turned
      // most retries away (UO).
      const retries = s.stat('cluster.storm.upstream_rq_retry') ?? 0;
      const stormed = storm1.requests.length + storm2.requests.length;
      expect(stormed).toBe(20 + retries);
      expect(stormed).toBeLessThan(40);
      expect(s.ended.filter((e) => e.flags.includes('UO')).length).toBeGreaterThanOrEqual(10);

      // A host answering 5xx in a healthy cluster is ejected after 3 in a row; then gets nothing.
      for (let i = 0; i < 12; i++) expect(await s.get('/')).toMatchObject({ status: 200, body: 'calm' });
      expect(s.stat('cluster.svc.outlier_detection.ejections_enforced_total')).toBe(1);
      const before = storm1.requests.length;
      for (let i = 0; i < 10; i++) expect(await s.get('/')).toMatchObject({ status: 200, body: 'calm' });
      expect(storm1.requests.length).toBe(before);
    });
  });

  it('an upstream that accepts and never answers: 504 UT at the route timeout, its connection closed', async () => {
    await scenario(async (s) => {
      let received = (): void => undefined;
      const silent = await s.tcp((socket) => {
        socket.on('data', () => {
          received();
        });
      });
      await s.start(
        gateway({
          routes: [route('r', { route: routeAction('silent', { timeoutMs: 2000 }) })],
          clusters: [cluster('silent', [silent.port])],
        }),
      );
      for (let i = 0; i < 3; i++) {
        const got = new Promise<void>((resolve) => (received = resolve));
        const pending = s.get('/');
        await got;
        s.time.advance(2000);
        expect(await pending).toMatchObject({ status: 504, body: 'upstream request timeout' });
        expect(s.ended.at(-1)?.flags).toEqual(['UT']);
      }
      await Promise.all([...silent.sockets].map((socket) => once(socket, 'close')));
      expect(silent.sockets.size).toBe(0);
    });
  });
});
