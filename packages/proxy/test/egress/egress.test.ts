// The in-process egress: requests dispatched in the process (no socket to a listener) through a
// route configuration or a listener's connection manager, to real loopback upstreams.
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Dispatcher, fetch } from 'undici';
import type * as model from '@meshlet/xds';
import {
  createProxy,
  defineHttpFilter,
  type Egress,
  type HttpProxy,
  type ObservedChain,
  type StreamObserver,
} from '../../src/index.js';
import {
  action,
  cluster,
  customFilter,
  filterChain,
  hcm,
  listener,
  match,
  retryPolicy,
  route,
  routeAction,
  routeConfig,
  snapshot,
  virtualHost,
} from '../e2e/helpers.js';
import { FakeTime } from '../cluster/helpers.js';
import { e2eScope } from '../e2e/scope.js';

const { cleanups, upstream } = e2eScope();

function proxyOf(
  config: model.XdsSnapshot,
  more: Parameters<typeof createProxy>[0] | object = {},
): HttpProxy {
  const proxy = createProxy({ config, ...more });
  cleanups.push(() => proxy.close());
  return proxy;
}

interface Result {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  trailers: Record<string, string | string[] | undefined>;
}

/** Dispatches through `egress` with a hand-written handler: the protocol, as undici's own clients use it. */
function send(
  egress: Egress,
  options: Partial<Dispatcher.DispatchOptions> & { origin: string },
  onStart?: (controller: Dispatcher.DispatchController) => void,
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: Result['headers'] = {};
    egress.dispatch(
      { method: 'GET', path: '/', ...options },
      {
        onRequestStart(controller) {
          onStart?.(controller);
        },
        onResponseStart(_controller, statusCode, responseHeaders) {
          status = statusCode;
          headers = responseHeaders;
        },
        onResponseData(_controller, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd(_controller, trailers) {
          resolve({ status, headers, body: Buffer.concat(chunks).toString(), trailers });
        },
        onResponseError(_controller, error) {
          reject(error);
        },
      },
    );
  });
}

/** A dispatcher over an egress, so that undici's `fetch` can use it. */
class EgressDispatcher extends Dispatcher {
  private readonly egress: Egress;
  constructor(egress: Egress) {
    super();
    this.egress = egress;
  }
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.egress.dispatch(options, handler);
  }
}

function outbound(routes: Record<string, model.Route[]>, clusters: model.Cluster[]): model.XdsSnapshot {
  return snapshot({
    routeConfigurations: [
      routeConfig(
        'outbound',
        Object.entries(routes).map(([domain, r]) => virtualHost(domain, [domain, `${domain}:*`], r)),
      ),
    ],
    clusters,
  });
}

describe('egress through a route configuration', () => {
  it('routes by authority and path, with no listener bound, and counts http.egress_<name>.*', async () => {
    const orders = await upstream('orders');
    const ordersV2 = await upstream('orders-v2');
    const users = await upstream('users');
    const proxy = proxyOf(
      outbound(
        {
          orders: [
            route('v2', { match: match('/v2'), route: routeAction('orders-v2') }),
            route('all', { route: routeAction('orders') }),
          ],
          users: [route('all', { route: routeAction('users') })],
        },
        [
          cluster('orders', [orders.port]),
          cluster('orders-v2', [ordersV2.port]),
          cluster('users', [users.port]),
        ],
      ),
    );
    const egress = proxy.egress('outbound');
    expect(await send(egress, { origin: 'http://orders', path: '/api/1' })).toMatchObject({
      status: 200,
      body: 'orders',
    });
    expect((await send(egress, { origin: 'http://orders:8080', path: '/v2/x' })).body).toBe('orders-v2');
    expect((await send(egress, { origin: 'http://users', path: '/' })).body).toBe('users');
    const none = await send(egress, { origin: 'http://nowhere', path: '/' });
    expect(none.status).toBe(404);
    expect(orders.requests[0]?.headers.host).toBe('orders');
    expect(orders.requests[0]?.url).toBe('/api/1');
    expect(typeof orders.requests[0]?.headers['x-request-id']).toBe('string');
    const stats = proxy.stats?.json() as Record<string, unknown>;
    expect(JSON.stringify(stats)).toContain('http.egress_outbound.downstream_rq_total');
    expect(proxy.address('outbound')).toBeUndefined();
  });

  it('hands response headers over as undici reads them: repeated ones as lists, no hop-by-hop', async () => {
    const svc = await upstream('svc', (req, res) => {
      req.resume();
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('x-one', 'only');
      res.setHeader('connection', 'keep-alive, x-hop');
      res.setHeader('x-hop', 'dropped');
      res.end('ok');
    });
    const proxy = proxyOf(
      outbound({ svc: [route('all', { route: routeAction('svc') })] }, [cluster('svc', [svc.port])]),
    );
    const egress = proxy.egress('outbound');
    const result = await send(egress, { origin: 'http://svc' });
    expect(result.status).toBe(200);
    expect(result.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(result.headers['x-one']).toBe('only');
    expect(result.headers.connection).toBeUndefined();
    expect(result.headers['x-hop']).toBeUndefined();
    const res = await fetch('http://svc/', { dispatcher: new EgressDispatcher(egress) });
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(res.headers.get('x-one')).toBe('only');
    expect(res.headers.has('x-hop')).toBe(false);
    expect(await res.text()).toBe('ok');
  });

  it('retries a 5xx on another host', async () => {
    const bad = await upstream('bad', (req, res) => {
      req.resume();
      res.statusCode = 503;
      res.end('bad');
    });
    const good = await upstream('good');
    const proxy = proxyOf(
      outbound(
        {
          svc: [
            route('r', {
              route: routeAction('svc', {
                retryPolicy: retryPolicy({
                  retryOn: ['5xx'],
                  numRetries: 2,
                  hostSelectionRetryMaxAttempts: 3,
                  retryHostPredicates: ['envoy.retry_host_predicates.previous_hosts'],
                  retryBackOff: { baseIntervalMs: 1, maxIntervalMs: 2 },
                }),
              }),
            }),
          ],
        },
        [cluster('svc', [bad.port, good.port])],
      ),
    );
    const egress = proxy.egress('outbound');
    for (let i = 0; i < 4; i++) {
      expect(await send(egress, { origin: 'http://svc' })).toMatchObject({ status: 200, body: 'good' });
    }
    expect(bad.requests.length).toBeGreaterThan(0);
  });

  it('answers 503 with x-envoy-overloaded when the breaker is full', async () => {
    const held: ServerResponse[] = [];
    let arrived: () => void = () => undefined;
    const slow = await upstream('slow', (req, res) => {
      req.resume();
      held.push(res);
      arrived();
    });
    const proxy = proxyOf(
      outbound({ svc: [route('r', { route: routeAction('svc') })] }, [
        cluster('svc', [slow.port], {
          circuitBreakers: {
            thresholds: [
              {
                priority: 'DEFAULT',
                maxConnections: 1,
                maxPendingRequests: 1,
                maxRequests: 1,
                maxRetries: 3,
                trackRemaining: false,
              },
            ],
          },
        }),
      ]),
    );
    const egress = proxy.egress('outbound');
    const first = new Promise<void>((resolve) => (arrived = resolve));
    const pending = send(egress, { origin: 'http://svc' });
    await first;
    const overflow = await send(egress, { origin: 'http://svc' });
    expect(overflow.status).toBe(503);
    expect(overflow.headers['x-envoy-overloaded']).toBe('true');
    for (const res of held) res.end('slow');
    expect(await pending).toMatchObject({ status: 200, body: 'slow' });
  });

  it('splits traffic by weighted clusters', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const weighted = (name: string, weight: number): model.WeightedCluster => ({
      name,
      weight,
      typedPerFilterConfig: {},
      requestHeadersToAdd: [],
      requestHeadersToRemove: [],
      responseHeadersToAdd: [],
      responseHeadersToRemove: [],
    });
    // A deterministic spread of draws over [0, 1): shares are exact, not sampled.
    let i = 0;
    const random = (): number => ((i++ * 7919) % 1000) / 1000;
    const proxy = proxyOf(
      outbound(
        {
          svc: [
            route('r', {
              route: action({
                weightedClusters: { clusters: [weighted('a', 80), weighted('b', 20)], totalWeight: 100 },
              }),
            }),
          ],
        },
        [cluster('a', [a.port]), cluster('b', [b.port])],
      ),
      { random },
    );
    const egress = proxy.egress('outbound');
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let n = 0; n < 200; n++) {
      const { body } = await send(egress, { origin: 'http://svc' });
      counts[body] = (counts[body] ?? 0) + 1;
    }
    expect(counts.a).toBeGreaterThanOrEqual(150);
    expect(counts.a).toBeLessThanOrEqual(170);
    expect((counts.a ?? 0) + (counts.b ?? 0)).toBe(200);
  });

  it('streams a request body up and a response body down, with backpressure, through fetch', async () => {
    const echo = await upstream('echo', (req, res) => {
      res.setHeader('content-type', 'application/octet-stream');
      req.pipe(res);
    });
    const proxy = proxyOf(
      outbound({ echo: [route('r', { route: routeAction('echo') })] }, [cluster('echo', [echo.port])]),
    );
    const dispatcher = new EgressDispatcher(proxy.egress('outbound'));
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const parts = 64;
    async function* body(): AsyncGenerator<Buffer> {
      for (let k = 0; k < parts; k++) {
        // A producer that yields to the event loop between chunks, as a real source would.
        await new Promise((resolve) => setImmediate(resolve));
        yield chunk;
      }
    }
    const res = await fetch('http://echo/upload', {
      method: 'POST',
      body: body(),
      duplex: 'half',
      dispatcher,
    });
    expect(res.status).toBe(200);
    let total = 0;
    // Read slowly: the egress must pause the upstream rather than buffer without bound.
    for await (const piece of res.body as AsyncIterable<Uint8Array>) {
      total += piece.length;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(total).toBe(chunk.length * parts);
  });

  it('honours the controller: pause stops data until resume', async () => {
    const big = await upstream('big', (req, res) => {
      req.resume();
      res.end(Buffer.alloc(4 * 1024 * 1024, 'y'));
    });
    const proxy = proxyOf(
      outbound({ big: [route('r', { route: routeAction('big') })] }, [cluster('big', [big.port])]),
    );
    const egress = proxy.egress('outbound');
    let received = 0;
    let whilePaused = 0;
    let paused = false;
    let controllerRef: Dispatcher.DispatchController | null = null;
    const done = new Promise<void>((resolve, reject) => {
      egress.dispatch(
        { origin: 'http://big', path: '/', method: 'GET' },
        {
          onRequestStart(controller) {
            controllerRef = controller;
          },
          onResponseData(controller, chunk) {
            received += chunk.length;
            if (paused) whilePaused += chunk.length;
            if (!paused && received > 256 * 1024 && received < 1024 * 1024) {
              paused = true;
              controller.pause();
              setTimeout(() => {
                paused = false;
                controller.resume();
              }, 20);
            }
          },
          onResponseEnd() {
            resolve();
          },
          onResponseError(_c, error) {
            reject(error);
          },
        },
      );
    });
    await done;
    expect(controllerRef).not.toBeNull();
    expect(received).toBe(4 * 1024 * 1024);
    // Chunks already in flight when pausing may still arrive, but far from the whole rest.
    expect(whilePaused).toBeLessThan(2 * 1024 * 1024);
  });

  it('aborts the upstream request when the caller aborts', async () => {
    let closed: () => void = () => undefined;
    const upstreamClosed = new Promise<void>((resolve) => (closed = resolve));
    let arrived: () => void = () => undefined;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const hang = await upstream('hang', (req, res) => {
      res.on('close', closed);
      arrived();
    });
    const proxy = proxyOf(
      outbound({ hang: [route('r', { route: routeAction('hang') })] }, [cluster('hang', [hang.port])]),
    );
    const dispatcher = new EgressDispatcher(proxy.egress('outbound'));
    const ac = new AbortController();
    const pending = fetch('http://hang/', { dispatcher, signal: ac.signal });
    await requestArrived;
    ac.abort();
    await expect(pending).rejects.toThrow(/abort/i);
    await upstreamClosed;
  });

  it('lets requests in flight finish on their version across update()', async () => {
    const held: ServerResponse[] = [];
    let arrived: () => void = () => undefined;
    const oldOne = await upstream('old', (req, res) => {
      req.resume();
      held.push(res);
      arrived();
    });
    const newOne = await upstream('new');
    const config = (target: string): model.XdsSnapshot =>
      outbound({ svc: [route('r', { route: routeAction(target) })] }, [
        cluster('old', [oldOne.port]),
        cluster('new', [newOne.port]),
      ]);
    const proxy = proxyOf(config('old'));
    const egress = proxy.egress('outbound');
    const first = new Promise<void>((resolve) => (arrived = resolve));
    const pending = send(egress, { origin: 'http://svc' });
    await first;
    await proxy.update(config('new'));
    expect((await send(egress, { origin: 'http://svc' })).body).toBe('new');
    for (const res of held) res.end('old');
    expect((await pending).body).toBe('old');
  });

  it("runs the chain's observers (as access logs and tracing see a listener's streams)", async () => {
    const svc = await upstream('svc');
    const seen: string[] = [];
    const observer: StreamObserver = {
      connectionOpened() {
        seen.push('connection opened'); // never: the egress has no connection
      },
      connectionClosed() {
        seen.push('connection closed');
      },
      streamStarted(ctx) {
        seen.push(`start ${ctx.request.authority}${ctx.request.path} ${ctx.connection.listenerName}`);
      },
      streamEnded(ctx) {
        seen.push(
          `end ${ctx.response?.status ?? 0} ${ctx.info.upstreamCluster ?? '-'} attempts=${ctx.info.attempts} sent=${ctx.info.bytesSent}`,
        );
      },
    };
    const chains: ObservedChain[] = [];
    const proxy = proxyOf(
      outbound({ svc: [route('r', { route: routeAction('svc') })] }, [cluster('svc', [svc.port])]),
      {
        observers: [
          {
            forChain(chain: ObservedChain) {
              chains.push(chain);
              return observer;
            },
          },
        ],
      },
    );
    await send(proxy.egress('outbound'), { origin: 'http://svc', path: '/o' });
    expect(chains.map((c) => c.statPrefix)).toContain('egress_outbound');
    expect(seen).toEqual(['start svc/o egress:outbound', 'end 200 svc attempts=1 sent=3']);
  });

  it('sends nothing when the caller aborts in onRequestStart', async () => {
    const svc = await upstream('svc');
    const proxy = proxyOf(
      outbound({ svc: [route('r', { route: routeAction('svc') })] }, [cluster('svc', [svc.port])]),
    );
    const egress = proxy.egress('outbound');
    const reason = new Error('changed my mind');
    await expect(
      send(egress, { origin: 'http://svc' }, (controller) => {
        controller.abort(reason);
      }),
    ).rejects.toBe(reason);
    expect((await send(egress, { origin: 'http://svc' })).body).toBe('svc');
    expect(svc.requests.length).toBe(1);
  });

  it('reports an unknown egress name as an error to the handler', async () => {
    const proxy = proxyOf(snapshot({}));
    await expect(send(proxy.egress('missing'), { origin: 'http://x' })).rejects.toMatchObject({
      code: 'MESHLET_ERR_INVALID_ARGUMENT',
    });
  });
});

describe('egress through a listener', () => {
  it("runs the listener's HTTP filters and route table without its socket", async () => {
    const svc = await upstream('svc');
    const tag = defineHttpFilter({
      name: 'acme.tag',
      configure: (config: unknown) => config as { value: string },
      onRequest(ctx, config) {
        ctx.request.headers['x-tag'] = config.value;
      },
    });
    const manager = hcm({
      routeConfig: routeConfig('local', [
        virtualHost('all', ['*'], [route('r', { route: routeAction('svc') })]),
      ]),
      httpFilters: [customFilter('tag', 'acme.tag', { value: 'egress' })],
    });
    const proxy = proxyOf(
      snapshot({
        listeners: [listener('sidecar', [filterChain(manager)])],
        clusters: [cluster('svc', [svc.port])],
      }),
      { filters: [tag] },
    );
    const res = await send(proxy.egress('sidecar'), { origin: 'http://anything', path: '/p' });
    expect(res).toMatchObject({ status: 200, body: 'svc' });
    expect(svc.requests[0]?.headers['x-tag']).toBe('egress');
    expect(proxy.address('sidecar')).toBeUndefined();
  });
});

describe('egress under overload', () => {
  it('bug: an egress-only proxy (start() never called) never shed: its overload manager starts with egress()', async () => {
    const svc = await upstream('svc');
    let delayMs = 0;
    const sampler = { percentileMs: () => delayMs, reset: () => undefined, close: () => undefined };
    const time = new FakeTime(1_000_000);
    const proxy = proxyOf(
      outbound({ svc: [route('all', { route: routeAction('svc') })] }, [cluster('svc', [svc.port])]),
      {
        overloadManager: {
          refreshIntervalMs: 100,
          resourceMonitors: [
            {
              name: 'meshlet.resource_monitors.event_loop_delay',
              kind: 'event_loop_delay',
              maxDelayMs: 200,
              percentile: 99,
            },
          ],
          actions: [
            {
              name: 'envoy.overload_actions.stop_accepting_requests',
              kind: 'stop_accepting_requests',
              triggers: [{ name: 'meshlet.resource_monitors.event_loop_delay', threshold: { value: 1 } }],
            },
          ],
        },
        resourceSources: { eventLoopDelay: () => sampler },
        now: time.now,
        timers: time,
      },
    );
    const egress = proxy.egress('outbound');
    expect((await send(egress, { origin: 'http://svc' })).status).toBe(200);
    delayMs = 500;
    time.advance(100); // the manager's refresh interval: it samples only once started

    const shed = await send(egress, { origin: 'http://svc' });
    expect(shed).toMatchObject({ status: 503, body: 'envoy overloaded' });
    expect(shed.headers['x-envoy-overloaded']).toBe('true');
    expect(svc.requests).toHaveLength(1);
  });
});
