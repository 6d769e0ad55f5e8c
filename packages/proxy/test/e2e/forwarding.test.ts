import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { cluster, gateway, match, origin, route, routeAction, startHttpServer } from './helpers.js';
import { e2eScope } from './scope.js';

const { cleanups, start } = e2eScope();

async function upstream(name: string) {
  const seen: {
    host: string | undefined;
    xff: string | undefined;
    xfp: string | undefined;
    id: string | undefined;
    path: string | undefined;
  }[] = [];
  const server = await startHttpServer((req, res) => {
    seen.push({
      host: req.headers.host,
      xff: req.headers['x-forwarded-for'] as string | undefined,
      xfp: req.headers['x-forwarded-proto'] as string | undefined,
      id: req.headers['x-request-id'] as string | undefined,
      path: req.url,
    });
    res.setHeader('x-upstream', name);
    res.setHeader('connection', 'x-hop');
    res.setHeader('x-hop', '1');
    res.end(`hello from ${name}`);
  });
  cleanups.push(server.close);
  return { ...server, seen };
}

describe('forwarding through the proxy (HTTP/1.1, keep-alive)', () => {
  it('forwards to the cluster, keeps Host, sets x-forwarded-* and x-request-id', async () => {
    const a = await upstream('a');
    const proxy = await start(
      gateway({
        routes: [route('r', { route: routeAction('a') })],
        clusters: [cluster('a', [a.port])],
        hcm: { useRemoteAddress: true },
      }),
    );
    const res = await request(`${origin(proxy)}/x?y=1`, { headers: { host: 'shop.example.com' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-upstream']).toBe('a');
    expect(res.headers['x-hop']).toBeUndefined();
    expect(await res.body.text()).toBe('hello from a');
    expect(a.seen[0]).toMatchObject({
      host: 'shop.example.com',
      xff: '127.0.0.1',
      xfp: 'http',
      path: '/x?y=1',
    });
    expect(a.seen[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers 404 without a route and 503 when the cluster has no host', async () => {
    const proxy = await start(
      gateway({
        routes: [route('r', { match: match('/api'), route: routeAction('empty') })],
        clusters: [cluster('empty', [])],
      }),
    );
    const none = await request(`${origin(proxy)}/other`);
    expect(none.statusCode).toBe(404);
    await none.body.dump();
    const empty = await request(`${origin(proxy)}/api`);
    expect(empty.statusCode).toBe(503);
    expect(await empty.body.text()).toBe('no healthy upstream');
  });
});
