// The README's gateway, run: its YAML bootstrap (ports swapped for loopback test ports) and its
// user filter, through a real proxy to a real upstream.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { request } from 'undici';
import { parseBootstrap } from '@meshlet/xds';
import { ConfigError, createProxy, defineHttpFilter, snapshotOfBootstrap } from '../../src/index.js';
import { namedUpstream } from './helpers.js';
import { cleanupAfterEach } from './scope.js';

const cleanups = cleanupAfterEach();

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';

const tenant = defineHttpFilter<{ header: string }>({
  name: 'acme.tenant',
  configure(config) {
    const header = (config as { header?: unknown }).header;
    if (typeof header !== 'string') throw new ConfigError('acme.tenant: header must be a string');
    return { header };
  },
  onRequest(ctx, cfg) {
    const id = ctx.request.headers[cfg.header];
    if (typeof id !== 'string') {
      ctx.reply(403, 'tenant required');
      return;
    }
    ctx.request.headers['x-tenant-id'] = id.toLowerCase();
  },
  onResponse(ctx) {
    if (ctx.response) ctx.response.headers['x-served-by'] = 'meshlet';
  },
});

it('README: the gateway bootstrap and the tenant filter', async () => {
  expect(yaml).toContain('acme.tenant');
  const seen: unknown[] = [];
  const api = await namedUpstream('api', (req, res) => {
    req.resume();
    seen.push(req.headers['x-tenant-id']);
    res.end('orders');
  });
  cleanups.push(api.close);
  const text = yaml
    .replace('port_value: 8080', 'port_value: 0')
    .replace('port_value: 9000', `port_value: ${api.port}`);
  const { bootstrap } = parseBootstrap(text);
  const proxy = createProxy({ config: snapshotOfBootstrap(bootstrap), filters: [tenant] });
  cleanups.push(() => proxy.close());
  await proxy.start();
  const base = `http://127.0.0.1:${proxy.address('ingress')?.port}`;
  const denied = await request(`${base}/api/orders`);
  expect(denied.statusCode).toBe(403);
  expect(await denied.body.text()).toBe('tenant required');
  const ok = await request(`${base}/api/orders`, { headers: { 'x-tenant': 'Blue' } });
  expect(ok.statusCode).toBe(200);
  expect(ok.headers['x-served-by']).toBe('meshlet');
  expect(await ok.body.text()).toBe('orders');
  expect(seen).toEqual(['blue']);
  const none = await request(`${base}/other`, { headers: { 'x-tenant': 'Blue' } });
  expect(none.statusCode).toBe(404);
  await none.body.dump();
});
