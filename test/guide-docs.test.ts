// docs/guide is true to the code: every bootstrap in it is one meshlet accepts, and the filter
// plugin of filter-plugins.md (the same source as below) behaves as the page says through a real
// proxy, with the page's per-route config.
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  createProxy,
  defineHttpFilter,
  snapshotOfBootstrap,
  type HttpProxy,
} from '@meshlet/proxy';
import { parseBootstrap } from '@meshlet/xds';

const guide = new URL('../docs/guide/', import.meta.url);
const pages = readdirSync(guide).filter((f) => f.endsWith('.md'));
const blocks = (page: string, lang: string): string[] =>
  [
    ...readFileSync(new URL(page, guide), 'utf8').matchAll(
      new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'),
    ),
  ].map((m) => m[1] as string);

// guide:begin (docs/guide/filter-plugins.md shows this block as written)
/** POSTs must carry a JSON object with the required fields, within `limit` bytes. */
export const jsonGuard = defineHttpFilter<{ limit: number; required: readonly string[] }>({
  name: 'acme.json_guard',
  configure(config) {
    const { limit, required } = config as { limit?: unknown; required?: unknown };
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit <= 0)
      throw new ConfigError('acme.json_guard: limit must be a positive integer');
    if (!Array.isArray(required) || !required.every((f) => typeof f === 'string'))
      throw new ConfigError('acme.json_guard: required must be a list of field names');
    return { limit, required };
  },
  async onRequest(ctx, cfg) {
    if (ctx.request.method !== 'POST') return;
    const body = await ctx.readBody(cfg.limit);
    if (body === null) return; // over the limit: the proxy answered 413
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      ctx.reply(400, 'the body must be JSON\n');
      return;
    }
    const fields = typeof doc === 'object' && doc !== null ? doc : {};
    const missing = cfg.required.filter((f) => !(f in fields));
    if (missing.length > 0) ctx.reply(422, `missing: ${missing.join(', ')}\n`);
  },
});
// guide:end

describe('docs/guide', () => {
  it('every YAML bootstrap in the guide parses and makes a proxy', () => {
    let checked = 0;
    for (const page of pages) {
      for (const yaml of blocks(page, 'yaml')) {
        if (!/^(static|dynamic)_resources:/m.test(yaml)) continue;
        const { bootstrap } = parseBootstrap(yaml, `docs/guide/${page}`);
        const proxy = createProxy({ config: snapshotOfBootstrap(bootstrap), filters: [jsonGuard] });
        expect(proxy).toBeDefined();
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(2); // configuration.md, istio.md
  });

  it('filter-plugins.md shows jsonGuard as this test runs it', () => {
    const source = readFileSync(new URL(import.meta.url), 'utf8');
    const ours = /\/\/ guide:begin.*\n([\s\S]*?)\/\/ guide:end/.exec(source)?.[1];
    const shown = blocks('filter-plugins.md', 'ts').find((b) => b.includes('acme.json_guard'));
    expect(ours).toBeDefined();
    expect(shown).toContain(ours);
  });

  describe('filter-plugins.md: jsonGuard with its per-route config, through a proxy', () => {
    let upstream: Server;
    let proxy: HttpProxy;
    let url: string;
    beforeAll(async () => {
      upstream = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.end(`upstream got ${req.method} ${req.url}\n`));
      });
      upstream.listen(0, '127.0.0.1');
      await once(upstream, 'listening');
      const routes = blocks('filter-plugins.md', 'yaml').find((b) => b.startsWith('routes:')) ?? '';
      const indent = (text: string, n: number): string =>
        text
          .split('\n')
          .map((l) => (l === '' ? l : ' '.repeat(n) + l))
          .join('\n');
      const yaml = `static_resources:
  listeners:
    - name: ingress
      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                route_config:
                  name: main
                  virtual_hosts:
                    - name: all
                      domains: ['*']
${indent(routes, 22)}
                        - match: { prefix: / }
                          route: { cluster: orders }
                http_filters:
                  - name: acme.json_guard
                    typed_config:
                      '@type': type.googleapis.com/xds.type.v3.TypedStruct
                      type_url: type.googleapis.com/acme.json_guard
                      value: { limit: 64, required: [sku] }
                  - name: envoy.filters.http.router
                    typed_config:
                      '@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: orders
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: orders
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${(upstream.address() as AddressInfo).port} } } }
`;
      const { bootstrap } = parseBootstrap(yaml, 'guide');
      proxy = createProxy({ config: snapshotOfBootstrap(bootstrap), filters: [jsonGuard] });
      await proxy.start();
      url = `http://127.0.0.1:${proxy.address('ingress')?.port}`;
    });
    afterAll(async () => {
      await proxy.close();
      upstream.closeAllConnections();
      upstream.close();
    });
    const post = async (path: string, body: string): Promise<[number, string]> => {
      const res = await fetch(url + path, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      return [res.status, await res.text()];
    };

    it('checks bodies with the chain config, the route override, and not at all where disabled', async () => {
      // The chain's config: sku required, at most 64 bytes.
      expect(await post('/items', '{"sku":"a1"}')).toEqual([200, 'upstream got POST /items\n']);
      expect(await post('/items', '{"name":"x"}')).toEqual([422, 'missing: sku\n']);
      expect(await post('/items', 'not json')).toEqual([400, 'the body must be JSON\n']);
      expect((await post('/items', JSON.stringify({ sku: 'x'.repeat(100) })))[0]).toBe(413);
      expect((await fetch(url + '/items')).status).toBe(200); // not a POST
      // /api/orders: its own config (4096 bytes, sku and quantity).
      expect(await post('/api/orders', '{"sku":"a1"}')).toEqual([422, 'missing: quantity\n']);
      const big = JSON.stringify({ sku: 'x'.repeat(100), quantity: 1 });
      expect(await post('/api/orders', big)).toEqual([200, 'upstream got POST /api/orders\n']);
      // /health: the filter is off.
      expect(await post('/health', 'not json')).toEqual([200, 'upstream got POST /health\n']);
    });
  });
});
