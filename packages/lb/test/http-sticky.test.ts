// Sticky sessions over real HTTP on loopback: a node:http server routes each request with a
// Maglev balancer and a cookie/source-IP hash policy; the client is Node's fetch (undici).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoadBalancer, createRequestHasher } from '@meshlet/lb';
import { hostsOf } from './helpers.ts';

const lb = createLoadBalancer('MAGLEV', hostsOf(8));
const hashOf = createRequestHasher([
  { cookie: { name: 'sid' }, terminal: true },
  { connectionProperties: { sourceIp: true } },
]);
let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const host = lb.pick({ hash: hashOf({ headers: req.headers, sourceIp: req.socket.remoteAddress }) });
    res.end(host ? host.key : 'none');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const get = async (cookie?: string): Promise<string> =>
  (await fetch(url, cookie ? { headers: { cookie } } : {})).text();

describe('sticky sessions over loopback HTTP', () => {
  it('sends each session to one host, and spreads sessions over the hosts', async () => {
    const owners = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (let s = 0; s < 40; s++) {
        const key = await get(`sid=session-${s}`);
        expect(owners.get(`${s}`) ?? key).toBe(key);
        owners.set(`${s}`, key);
      }
    }
    expect(new Set(owners.values()).size).toBeGreaterThanOrEqual(6);
  });

  it('without a cookie, the client address decides (the same for every request from 127.0.0.1)', async () => {
    const first = await get();
    for (let i = 0; i < 5; i++) expect(await get()).toBe(first);
  });
});
