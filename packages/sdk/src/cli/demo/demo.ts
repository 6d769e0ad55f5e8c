// `meshlet demo`: three loopback "catalog" services (v1 twice, one of them flaky, and a v2 canary)
// behind @meshlet/proxy, configured by the embedded Envoy bootstrap of config.ts, with a user
// filter plugin (an API-key check) written below.
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, defineHttpFilter, type HttpFilter, type HttpProxy } from '@meshlet/proxy';
import { parseBootstrap, type LoadedBootstrap } from '@meshlet/xds';
import { startGateway } from '../gateway.js';
import { DEMO_CONFIG_TEMPLATE } from './config.js';

/** The demo's user filter: requests need one of the configured API keys in the configured header. */
export const apiKey: HttpFilter<{ header: string; keys: ReadonlySet<string> }> = defineHttpFilter<{
  header: string;
  keys: ReadonlySet<string>;
}>({
  name: 'demo.api_key', // the TypedStruct's type_url ends with it
  configure(config) {
    const { header, keys } = config as { header?: unknown; keys?: unknown };
    if (typeof header !== 'string' || header === '')
      throw new ConfigError('demo.api_key: header must be a name');
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
      throw new ConfigError('demo.api_key: keys must be a list of strings');
    }
    return { header: header.toLowerCase(), keys: new Set<string>(keys) };
  },
  onRequest(ctx, cfg) {
    const key = ctx.request.headers[cfg.header];
    if (typeof key !== 'string' || !cfg.keys.has(key)) {
      ctx.reply(401, `missing or unknown ${cfg.header}\n`, { 'www-authenticate': 'ApiKey' });
      return;
    }
    ctx.request.headers[cfg.header] = undefined; // the services never see the key
    ctx.request.headers['x-demo-client'] = 'demo';
  },
  onResponse(ctx) {
    if (ctx.response !== null) ctx.response.headers['x-gateway'] = 'meshlet';
  },
});

/** One demo service instance: answers JSON naming itself; `failEvery` > 0 makes it fail with 503 now and then. */
async function service(version: string, instance: string, failEvery = 0): Promise<Server> {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    count++;
    if (failEvery > 0 && count % failEvery === 0) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('flaky instance says no\n');
      return;
    }
    const body = JSON.stringify({
      service: 'catalog',
      version,
      instance,
      path: req.url,
      client: req.headers['x-demo-client'],
      attempt: Number(req.headers['x-envoy-attempt-count'] ?? 1),
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body + '\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** The ports of the demo's three services. */
export interface DemoServicePorts {
  readonly v1a: number;
  readonly v1b: number;
  readonly v2: number;
}

/** The demo's services, running. */
export interface DemoServices {
  readonly ports: DemoServicePorts;
  close(): Promise<void>;
}

/** Starts the three catalog services on loopback ports picked by the system. */
export async function startDemoServices(): Promise<DemoServices> {
  const servers = [await service('v1', 'v1-a'), await service('v1', 'v1-b', 2), await service('v2', 'v2-a')];
  const [v1a, v1b, v2] = servers.map((s) => (s.address() as AddressInfo).port) as [number, number, number];
  return {
    ports: { v1a, v1b, v2 },
    async close() {
      for (const s of servers) s.closeAllConnections();
      await Promise.all(servers.map(async (s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}

/** The demo's bootstrap, with the gateway on `port`, the admin on `adminPort` (0: any free port). */
export function demoBootstrap(services: DemoServicePorts, port: number, adminPort: number): LoadedBootstrap {
  const yaml = DEMO_CONFIG_TEMPLATE.replaceAll('$GATEWAY_PORT', String(port))
    .replaceAll('$ADMIN_PORT', String(adminPort))
    .replaceAll('$V1A_PORT', String(services.v1a))
    .replaceAll('$V1B_PORT', String(services.v1b))
    .replaceAll('$V2_PORT', String(services.v2));
  return parseBootstrap(yaml, 'meshlet demo config');
}

/** The filter plugins the demo's config names, besides the CLI's own. */
export const DEMO_FILTERS: readonly HttpFilter[] = [apiKey];

/** A running demo: the proxy, its address, and a way to stop everything. */
export interface Demo {
  readonly proxy: HttpProxy;
  readonly url: string;
  /** The admin server (Envoy's admin API: /stats/prometheus, /clusters, /config_dump...). */
  readonly adminUrl: string;
  close(): Promise<void>;
}

/**
 * Starts the whole demo in this process: the three services, the gateway on `port` and its admin
 * server on `adminPort` (0: any free port), on 127.0.0.1. (`meshlet demo` runs the same with the
 * gateway in worker processes.)
 *
 * @example
 * ```ts
 * const demo = await startDemo(0);
 * for (const line of await tour(demo.url, demo.adminUrl)) console.log(line);
 * await demo.close();
 * ```
 */
export async function startDemo(port: number, adminPort = 0): Promise<Demo> {
  const services = await startDemoServices();
  try {
    const gateway = await startGateway({
      bootstrap: demoBootstrap(services.ports, port, adminPort),
      filters: DEMO_FILTERS,
      // Warnings and errors only: the tour's output stays readable (POST /logging?level=info for more).
      logLevel: 'warning',
    });
    return {
      proxy: gateway.proxy,
      url: gateway.url('gateway'),
      adminUrl: gateway.adminUrl,
      async close() {
        await gateway.close(0);
        await services.close();
      },
    };
  } catch (error) {
    await services.close();
    throw error;
  }
}

/**
 * One GET on a connection of its own, closed after the response: the tour leaves no idle
 * keep-alive connection behind to hold a draining worker until its drain time is over.
 */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

/** A few requests that show each feature, with what came back; then what the admin's stats say. */
export async function tour(url: string, adminUrl?: string): Promise<string[]> {
  const lines: string[] = [];
  const show = async (label: string, path: string, headers: Record<string, string> = {}): Promise<void> => {
    const res = await get(url + path, headers);
    lines.push(`${label.padEnd(34)} → ${res.status} ${res.body.trim()}`);
  };
  await show('welcome page (no key needed)', '/');
  await show('no API key', '/api/catalog');
  for (let i = 0; i < 4; i++)
    await show('v1, round robin, 5xx retried', '/api/catalog', { 'x-api-key': 'demo-key' });
  await show('canary by header (x-env: canary)', '/api/catalog', {
    'x-api-key': 'demo-key',
    'x-env': 'canary',
  });
  const statuses = new Map<number, number>();
  for (let i = 0; i < 12; i++) {
    const res = await get(url + '/api/burst', { 'x-api-key': 'demo-key' });
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  }
  lines.push(
    `${'12 more requests (10 per second)'.padEnd(34)} → ${[...statuses].map(([s, n]) => `${n}×${s}`).join(', ')}`,
  );
  if (adminUrl !== undefined) {
    // Envoy's metric names, so Envoy's Grafana dashboards work: requests per cluster and class.
    const res = await get(`${adminUrl}/stats/prometheus`);
    const wanted =
      /^envoy_cluster_upstream_rq_xx\{envoy_cluster_name="(\w+)",envoy_response_code_class="(\d)"\} (\d+)/;
    const counts: string[] = [];
    for (const line of res.body.split('\n')) {
      const m = wanted.exec(line);
      if (m !== null && m[3] !== '0') counts.push(`${m[1]} ${m[2]}xx: ${m[3]}`);
    }
    lines.push(`${'admin /stats/prometheus'.padEnd(34)} → ${counts.join(', ')}`);
  }
  return lines;
}

/** What to try by hand against a running demo. */
export function tryLines(url: string, adminUrl: string): string {
  return `Try it yourself:
  curl -i ${url}/
  curl -i ${url}/api/catalog                                   # 401: the API-key filter
  curl -i -H 'x-api-key: demo-key' ${url}/api/catalog          # v1, retried past the flaky instance
  curl -i -H 'x-api-key: demo-key' -H 'x-env: canary' ${url}/api/catalog   # the v2 canary
  for i in $(seq 15); do curl -s -o /dev/null -w '%{http_code} ' -H 'x-api-key: demo-key' ${url}/api/x; done; echo   # 429s past 10/s
  curl -s ${adminUrl}/stats/prometheus | grep upstream_rq_xx        # Envoy-named metrics
  curl -s ${adminUrl}/clusters                                     # hosts, health, outlier state`;
}
