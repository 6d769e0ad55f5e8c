// A user filter (defineHttpFilter) end to end — reject, rewrite, add headers, per-route
// overrides — and the listener limits through createProxy: header size and count, headers
// timeout, max connections.
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import {
  ConfigError,
  createProxy,
  defineHttpFilter,
  type HttpProxy,
  type ProxyOptions,
} from '../../src/index.js';
import {
  cluster,
  customFilter,
  gateway,
  match,
  namedUpstream,
  origin,
  route,
  routeAction,
} from './helpers.js';
import { e2eScope } from './scope.js';

const { cleanups, start } = e2eScope();

interface TenantConfig {
  readonly header: string;
  readonly prefix: string;
}

const tenantFilter = defineHttpFilter<TenantConfig>({
  name: 'acme.tenant',
  configure(config) {
    const { header, prefix } = config as { header?: unknown; prefix?: unknown };
    if (typeof header !== 'string' || typeof prefix !== 'string') {
      throw new ConfigError('acme.tenant: header and prefix must be strings');
    }
    return { header, prefix };
  },
  onRequest(ctx, cfg) {
    const tenant = ctx.request.headers[cfg.header];
    if (typeof tenant !== 'string') {
      ctx.reply(403, 'tenant required', { 'x-acme-reason': 'no-tenant' });
      return;
    }
    ctx.request.headers['x-tenant-id'] = tenant.toUpperCase();
    ctx.request.path = `${cfg.prefix}${ctx.request.path}`;
    ctx.clearRouteCache();
  },
  async onResponse(ctx) {
    await Promise.resolve();
    const response = ctx.response;
    if (response !== null) response.headers['x-acme-tenant'] = String(ctx.request.headers['x-tenant-id']);
  },
});

describe('a user filter end to end', () => {
  it('rejects, rewrites the path, adds request and response headers; a route can disable it', async () => {
    const seen: { path: string | undefined; tenant: unknown }[] = [];
    const api = await namedUpstream('api', (req, res) => {
      req.resume();
      seen.push({ path: req.url, tenant: req.headers['x-tenant-id'] });
      res.end('api');
    });
    cleanups.push(api.close);
    const proxy = await start(
      gateway({
        routes: [
          route('public', {
            match: match('/public'),
            route: routeAction('api'),
            typedPerFilterConfig: { tenant: { type: 'disabled' } },
          }),
          route('v2', { match: match('/v2/'), route: routeAction('api') }),
        ],
        clusters: [cluster('api', [api.port])],
        httpFilters: [customFilter('tenant', 'acme.tenant', { header: 'x-tenant', prefix: '/v2' })],
      }),
      { filters: [tenantFilter] },
    );
    const denied = await request(`${origin(proxy)}/orders`);
    expect(denied.statusCode).toBe(403);
    expect(denied.headers['x-acme-reason']).toBe('no-tenant');
    expect(await denied.body.text()).toBe('tenant required');
    expect(seen).toEqual([]);

    const ok = await request(`${origin(proxy)}/orders?id=1`, { headers: { 'x-tenant': 'blue' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['x-acme-tenant']).toBe('BLUE');
    expect(await ok.body.text()).toBe('api');
    expect(seen).toEqual([{ path: '/v2/orders?id=1', tenant: 'BLUE' }]);

    const open = await request(`${origin(proxy)}/public/x`);
    expect(open.statusCode).toBe(200);
    expect(open.headers['x-acme-tenant']).toBeUndefined();
    await open.body.dump();
  });

  it('fails createProxy with a ConfigError when the filter rejects its config or is not registered', () => {
    const config = gateway({
      routes: [route('r', { route: routeAction('api') })],
      clusters: [cluster('api', [1])],
      httpFilters: [customFilter('tenant', 'acme.tenant', { header: 42 })],
    });
    expect(() => createProxy({ config, filters: [tenantFilter] })).toThrow(
      /filter "tenant": acme.tenant: header and prefix must be strings/,
    );
    expect(() => createProxy({ config })).toThrow(ConfigError);
  });
});

describe('listener limits', () => {
  async function limited(
    hcmMore: NonNullable<Parameters<typeof gateway>[0]['hcm']>,
    more: Partial<ProxyOptions> = {},
  ): Promise<HttpProxy> {
    const a = await namedUpstream('a');
    cleanups.push(a.close);
    return start(
      gateway({
        routes: [route('r', { route: routeAction('a') })],
        clusters: [cluster('a', [a.port])],
        hcm: hcmMore,
      }),
      more,
    );
  }

  it('answers 431 to headers over maxRequestHeadersKb and over maxHeadersCount', async () => {
    const proxy = await limited({
      maxRequestHeadersKb: 2,
      commonHttpProtocolOptions: { headersWithUnderscoresAction: 'ALLOW', maxHeadersCount: 10 },
    });
    const big = await request(`${origin(proxy)}/`, { headers: { 'x-big': 'x'.repeat(3000) } });
    expect(big.statusCode).toBe(431);
    await big.body.dump();
    const headers: Record<string, string> = {};
    for (let i = 0; i < 20; i++) headers[`x-h${i}`] = 'v';
    const many = await request(`${origin(proxy)}/`, { headers });
    expect(many.statusCode).toBe(431);
    await many.body.dump();
    const fine = await request(`${origin(proxy)}/`);
    expect(await fine.body.text()).toBe('a');
  });

  it('closes a slowloris connection after requestHeadersTimeoutMs with 408', async () => {
    const proxy = await limited({ requestHeadersTimeoutMs: 200 });
    const socket = net.connect(proxy.address('ingress')?.port ?? 0, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nhost: a\r\nx-drip: ');
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    await once(socket, 'close');
    expect(text).toMatch(/^HTTP\/1\.1 408/);
  });

  it('refuses connections beyond maxConnections', async () => {
    const proxy = await limited({}, { maxConnections: 1 });
    const port = proxy.address('ingress')?.port ?? 0;
    const first = net.connect(port, '127.0.0.1');
    cleanups.push(async () => {
      first.destroy();
      await Promise.resolve();
    });
    await once(first, 'connect');
    first.write('GET / HTTP/1.1\r\nhost: a\r\n\r\n');
    await once(first, 'data');
    const second = net.connect(port, '127.0.0.1');
    second.on('error', () => undefined);
    second.write('GET / HTTP/1.1\r\nhost: a\r\n\r\n');
    let answered = false;
    second.on('data', () => (answered = true));
    await once(second, 'close');
    expect(answered).toBe(false);
  });
});
