import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import {
  cluster,
  filterChain,
  gateway,
  hcm,
  listener,
  match,
  origin,
  route,
  routeAction,
  routeConfig,
  snapshot,
  startHttpServer,
  virtualHost,
} from './helpers.js';
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

  it('strips the headers only a trusted hop may set from external requests (Envoy header sanitizing)', async () => {
    const headersSeen: Record<string, string | string[] | undefined>[] = [];
    const server = await startHttpServer((req, res) => {
      headersSeen.push(req.headers);
      res.end('ok');
    });
    cleanups.push(server.close);
    const config = (useRemoteAddress: boolean) =>
      gateway({
        routes: [route('r', { route: routeAction('a') })],
        clusters: [cluster('a', [server.port])],
        hcm: { useRemoteAddress },
      });
    const forged = {
      'x-envoy-internal': 'true',
      'x-envoy-retry-on': '5xx',
      'x-envoy-max-retries': '9',
      'x-envoy-upstream-rq-timeout-ms': '1',
      'x-envoy-fault-abort-request': '503', // not a sanitized header: left to the fault filter
    };
    // Without use_remote_address, a request whose XFF is not one internal address is external.
    const edge = await start(config(false));
    await (
      await request(`${origin(edge)}/`, { headers: { ...forged, 'x-forwarded-for': '203.0.113.7' } })
    ).body.text();
    expect(headersSeen[0]?.['x-envoy-internal']).toBeUndefined();
    expect(headersSeen[0]?.['x-envoy-retry-on']).toBeUndefined();
    expect(headersSeen[0]?.['x-envoy-max-retries']).toBeUndefined();
    expect(headersSeen[0]?.['x-envoy-upstream-rq-timeout-ms']).toBeUndefined();
    expect(headersSeen[0]?.['x-envoy-fault-abort-request']).toBe('503');
    // XFF of exactly one internal address: an internal request, headers kept.
    await (
      await request(`${origin(edge)}/`, { headers: { ...forged, 'x-forwarded-for': '10.1.2.3' } })
    ).body.text();
    expect(headersSeen[1]?.['x-envoy-retry-on']).toBe('5xx');
    expect(headersSeen[1]?.['x-envoy-internal']).toBe('true');
    // With use_remote_address, a loopback client without XFF is internal: the proxy says so.
    const inner = await start(config(true));
    await (await request(`${origin(inner)}/`)).body.text();
    expect(headersSeen[2]?.['x-envoy-internal']).toBe('true');
    // ... and one that sent an XFF is external, whatever it claims.
    await (
      await request(`${origin(inner)}/`, { headers: { ...forged, 'x-forwarded-for': '10.1.2.3' } })
    ).body.text();
    expect(headersSeen[3]?.['x-envoy-internal']).toBeUndefined();
    expect(headersSeen[3]?.['x-envoy-retry-on']).toBeUndefined();
  });

  it('a forged x-envoy-internal does not lift require_tls EXTERNAL_ONLY', async () => {
    const server = await startHttpServer((_req, res) => {
      res.end('ok');
    });
    cleanups.push(server.close);
    const vhost = virtualHost('secure', ['*'], [route('r', { route: routeAction('a') })], {
      requireTls: 'EXTERNAL_ONLY',
    });
    const proxy = await start(
      snapshot({
        listeners: [listener('ingress', [filterChain(hcm({ routeConfig: routeConfig('local', [vhost]) }))])],
        clusters: [cluster('a', [server.port])],
      }),
    );
    const forged = await request(`${origin(proxy)}/pay`, {
      headers: { host: 'shop.example.com', 'x-envoy-internal': 'true', 'x-forwarded-for': '203.0.113.7' },
    });
    await forged.body.dump();
    expect(forged.statusCode).toBe(301);
    expect(forged.headers.location).toBe('https://shop.example.com/pay');
  });
});
