// The proxy's stats after real traffic (2xx, 5xx, a retry, an overflow, a connect failure, a
// local rate limit) through `createProxy` on loopback, read back through the Prometheus text
// exposition with an independent parser: Envoy's metric names and tags, exact values.
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { Socket } from 'node:net';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { buildConnector, Client } from 'undici';
import { describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { hostStatsOf } from '../../src/index.js';
import { cluster, gateway, match, retryPolicy, route, routeAction, thresholds } from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';

const { cleanups, start, upstream } = e2eScope();

/**
 * `name{labels}` → value, from the exposition parsed by parse-prometheus-text-format. That parser
 * folds every series of a histogram family into one and drops their labels, so histograms are
 * read from their `+Inf` bucket when the family has one series, and otherwise from the
 * `_count` line of the text.
 */
function index(text: string): {
  value(name: string, labels: Record<string, string>): number | undefined;
  histogramCount(name: string, labels: Record<string, string>): number | undefined;
} {
  const families = parsePrometheusTextFormat(text);
  const find = (name: string, labels: Record<string, string>) => {
    const family = families.find((f) => f.name === name);
    return family?.metrics.find((m) => {
      const l = m.labels ?? {};
      return (
        Object.keys(labels).length === Object.keys(l).length &&
        Object.entries(labels).every(([k, v]) => l[k] === v)
      );
    });
  };
  return {
    value: (name, labels) => {
      const m = find(name, labels);
      return m?.value === undefined ? undefined : Number(m.value);
    },
    histogramCount: (name, labels) => {
      const family = families.find((f) => f.name === name && f.type === 'HISTOGRAM');
      if (family === undefined) return undefined;
      const tags = Object.entries(labels)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
      const line = text.split('\n').find((l) => l.startsWith(`${name}_count{${tags}} `));
      const count = line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
      const series = text.split('\n').filter((l) => l.startsWith(`${name}_count`)).length;
      if (series === 1) expect(Number(family.metrics[0]?.buckets?.['+Inf'])).toBe(count);
      return count;
    },
  };
}

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return port;
}

/** An undici client of the proxy, one connection, whose socket's byte counts we keep. */
function clientOf(port: number, sockets: Socket[]): Client {
  const connect = buildConnector({});
  const client = new Client(`http://127.0.0.1:${port}`, {
    pipelining: 1,
    connect: (options, callback) => {
      connect(options, (error, socket) => {
        if (socket !== null) sockets.push(socket);
        if (error !== null) callback(error, null);
        else callback(null, socket);
      });
    },
  });
  cleanups.push(() => client.destroy());
  return client;
}

async function get(client: Client, path: string): Promise<number> {
  const res = await client.request({ method: 'GET', path, headers: { host: 'test' } });
  await res.body.text();
  return res.statusCode;
}

const RL = 'envoy.filters.http.local_ratelimit';
const percent100 = { numerator: 100, denominator: 100 } as const;

function rateLimit(more: Partial<model.LocalRateLimitConfig> = {}): model.LocalRateLimitConfig {
  return {
    type: 'local_rate_limit',
    statPrefix: 'http_local_rate_limiter',
    status: 429,
    responseHeadersToAdd: [],
    descriptors: [],
    localRateLimitPerDownstreamConnection: false,
    enableXRatelimitHeaders: 'OFF',
    ...more,
  };
}

describe('proxy stats in Prometheus, after e2e traffic', () => {
  it('counts requests, responses, retries, overflows, connect failures and rate limits with Envoy names', async () => {
    const svc = await upstream('svc', (req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      res.statusCode = req.url === '/fail' ? 503 : 200;
      res.end('svc');
    });
    const svcConnections: Socket[] = [];
    svc.server.on('connection', (s: Socket) => svcConnections.push(s));
    let flakyCalls = 0;
    const flaky = await upstream('flaky', (req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      res.statusCode = flakyCalls++ === 0 ? 503 : 200;
      res.end('flaky');
    });
    let release: () => void = () => undefined;
    let arrived: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (arrived = resolve));
    const tiny = await upstream('tiny', (req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      release = () => res.end('tiny');
      arrived();
    });
    const dead = await deadPort();

    const config = gateway({
      routes: [
        route('retry', {
          match: match('/retry'),
          route: routeAction('flaky', {
            retryPolicy: retryPolicy({
              numRetries: 1,
              retryBackOff: { baseIntervalMs: 1, maxIntervalMs: 2 },
            }),
          }),
        }),
        route('overflow', { match: match('/overflow'), route: routeAction('tiny') }),
        route('dead', { match: match('/dead'), route: routeAction('dead') }),
        route('limited', {
          match: match('/limited'),
          route: routeAction('svc'),
          typedPerFilterConfig: {
            [RL]: rateLimit({
              tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 3_600_000 },
              filterEnabled: percent100,
              filterEnforced: percent100,
            }),
          },
        }),
        route('svc', { route: routeAction('svc') }),
      ],
      clusters: [
        cluster('svc', [svc.port]),
        cluster('flaky', [flaky.port]),
        cluster('tiny', [tiny.port], { circuitBreakers: { thresholds: [thresholds({ maxRequests: 1 })] } }),
        cluster('dead', [dead]),
      ],
      // Without a token bucket the filter limits (and counts) nothing; the route's config does.
      httpFilters: [{ name: RL, isOptional: false, disabled: false, config: rateLimit() }],
      hcm: { statPrefix: 'ingress_http' },
    });
    const proxy = await start(config);
    const store = proxy.stats;
    if (store === null) throw new Error('stats are on by default');
    const address = proxy.address('ingress');
    if (address === undefined) throw new Error('not bound');
    const port = address.port;

    const sockets: Socket[] = [];
    const main = clientOf(port, sockets);
    const statuses: number[] = [];
    for (const path of ['/ok', '/ok', '/ok', '/fail', '/fail', '/retry', '/dead', '/limited', '/limited']) {
      statuses.push(await get(main, path));
    }
    expect(statuses).toEqual([200, 200, 200, 503, 503, 200, 503, 200, 429]);
    // The circuit breaker: one request held upstream, the next overflows.
    const first = clientOf(port, sockets);
    const second = clientOf(port, sockets);
    const holding = get(first, '/overflow');
    await held;
    expect(await get(second, '/overflow')).toBe(503);
    release();
    expect(await holding).toBe(200);

    const open = index(store.prometheus());
    const listenerTag = { envoy_listener_address: `127.0.0.1_${port}` };
    expect(open.value('envoy_listener_downstream_cx_total', listenerTag)).toBe(3);
    expect(open.value('envoy_listener_downstream_cx_active', listenerTag)).toBe(3);
    const hcm = { envoy_http_conn_manager_prefix: 'ingress_http' };
    expect(open.value('envoy_http_downstream_cx_active', hcm)).toBe(3);
    expect(open.value('envoy_http_downstream_rq_active', hcm)).toBe(0);

    // Per host, for the admin's /clusters.
    const svcCluster = proxy.clusters.get('svc');
    const svcHost = svcCluster?.loadBalancer.hosts[0];
    if (svcCluster === undefined || svcHost === undefined) throw new Error('no svc host');
    expect(hostStatsOf(svcCluster, svcHost)).toMatchObject({
      rqTotal: 6,
      rqActive: 0,
      rqSuccess: 4,
      rqError: 2,
      cxTotal: svcConnections.length,
      cxConnectFail: 0,
    });
    const deadCluster = proxy.clusters.get('dead');
    const deadHost = deadCluster?.loadBalancer.hosts[0];
    if (deadCluster === undefined || deadHost === undefined) throw new Error('no dead host');
    expect(hostStatsOf(deadCluster, deadHost)).toMatchObject({ rqTotal: 1, rqError: 1, cxConnectFail: 1 });

    await proxy.close();
    const p = index(store.prometheus());

    // The connection manager.
    expect(p.value('envoy_http_downstream_rq_total', hcm)).toBe(11);
    expect(p.value('envoy_http_downstream_rq_http1_total', hcm)).toBe(11);
    expect(p.value('envoy_http_downstream_rq_http2_total', hcm)).toBe(0);
    expect(p.value('envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '2' })).toBe(6);
    expect(p.value('envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '4' })).toBe(1);
    expect(p.value('envoy_http_downstream_rq_xx', { ...hcm, envoy_response_code_class: '5' })).toBe(4);
    expect(p.histogramCount('envoy_http_downstream_rq_time', hcm)).toBe(11);
    expect(p.value('envoy_http_downstream_cx_total', hcm)).toBe(3);
    expect(p.value('envoy_http_downstream_cx_active', hcm)).toBe(0);
    expect(p.value('envoy_http_downstream_cx_destroy', hcm)).toBe(3);
    const written = sockets.reduce((n, s) => n + s.bytesWritten, 0);
    const read = sockets.reduce((n, s) => n + s.bytesRead, 0);
    expect(p.value('envoy_http_downstream_cx_rx_bytes_total', hcm)).toBe(written);
    expect(p.value('envoy_http_downstream_cx_tx_bytes_total', hcm)).toBe(read);

    // The listener.
    expect(p.value('envoy_listener_downstream_cx_total', listenerTag)).toBe(3);
    expect(p.value('envoy_listener_downstream_cx_active', listenerTag)).toBe(0);
    expect(p.value('envoy_listener_downstream_cx_destroy', listenerTag)).toBe(3);

    // svc: /ok ×3, /fail ×2, /limited ×1 (the limited one never left the proxy).
    const c = (name: string) => ({ envoy_cluster_name: name });
    expect(p.value('envoy_cluster_upstream_rq_total', c('svc'))).toBe(6);
    expect(p.value('envoy_cluster_upstream_rq_active', c('svc'))).toBe(0);
    expect(p.value('envoy_cluster_upstream_rq', { ...c('svc'), envoy_response_code: '200' })).toBe(4);
    expect(p.value('envoy_cluster_upstream_rq', { ...c('svc'), envoy_response_code: '503' })).toBe(2);
    expect(p.value('envoy_cluster_upstream_rq_xx', { ...c('svc'), envoy_response_code_class: '2' })).toBe(4);
    expect(p.value('envoy_cluster_upstream_rq_xx', { ...c('svc'), envoy_response_code_class: '5' })).toBe(2);
    expect(p.histogramCount('envoy_cluster_upstream_rq_time', c('svc'))).toBe(6);
    expect(p.value('envoy_cluster_upstream_cx_total', c('svc'))).toBe(svcConnections.length);
    expect(p.value('envoy_cluster_upstream_cx_active', c('svc'))).toBe(0);
    expect(p.value('envoy_cluster_upstream_cx_destroy', c('svc'))).toBe(svcConnections.length);
    expect(p.value('envoy_cluster_membership_total', c('svc'))).toBe(1);
    expect(p.value('envoy_cluster_membership_healthy', c('svc'))).toBe(1);

    // flaky: a 503, retried, then a 200.
    expect(p.value('envoy_cluster_upstream_rq_total', c('flaky'))).toBe(2);
    expect(p.value('envoy_cluster_upstream_rq_retry', c('flaky'))).toBe(1);
    expect(p.value('envoy_cluster_upstream_rq', { ...c('flaky'), envoy_response_code: '503' })).toBe(1);
    expect(p.value('envoy_cluster_upstream_rq', { ...c('flaky'), envoy_response_code: '200' })).toBe(1);
    expect(p.histogramCount('envoy_cluster_upstream_rq_time', c('flaky'))).toBe(2);

    // tiny: one request went, one overflowed.
    expect(p.value('envoy_cluster_upstream_rq_total', c('tiny'))).toBe(1);
    expect(p.value('envoy_cluster_upstream_rq_pending_overflow', c('tiny'))).toBe(1);

    // dead: the attempt found no connection (Envoy charges the 503 it answers).
    expect(p.value('envoy_cluster_upstream_rq_total', c('dead'))).toBe(1);
    expect(p.value('envoy_cluster_upstream_cx_connect_fail', c('dead'))).toBe(1);
    expect(p.value('envoy_cluster_upstream_cx_total', c('dead'))).toBe(0);
    expect(p.value('envoy_cluster_upstream_rq_xx', { ...c('dead'), envoy_response_code_class: '5' })).toBe(1);

    // The local rate limit (Envoy roots it at `<stat_prefix>.http_local_rate_limit.`).
    const rl = 'envoy_http_local_rate_limiter_http_local_rate_limit_';
    expect(p.value(`${rl}enabled`, {})).toBe(2);
    expect(p.value(`${rl}ok`, {})).toBe(1);
    expect(p.value(`${rl}rate_limited`, {})).toBe(1);
    expect(p.value(`${rl}enforced`, {})).toBe(1);
  });
});
