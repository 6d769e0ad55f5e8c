// The demo gateway that `npm start` runs (examples/gateway): its Envoy config, user filter,
// retries, canary routing and rate limit, through a real proxy to real loopback services.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDemo, tour, type Demo } from '../examples/gateway/main.ts';

let demo: Demo;
beforeAll(async () => {
  demo = await startDemo(0);
});
afterAll(async () => {
  await demo.close();
});

it('examples/gateway: the tour shows the API-key filter, retries, the canary and the rate limit', async () => {
  const lines = await tour(demo.url, demo.adminUrl);
  expect(lines[0]).toMatch(/→ 200 meshlet demo gateway/);
  expect(lines[1]).toMatch(/→ 401 missing or unknown x-api-key/);
  const v1 = lines.slice(2, 6).map((l) => JSON.parse(l.slice(l.indexOf('{'))) as Record<string, unknown>);
  expect(lines.slice(2, 6).every((l) => l.includes('→ 200 '))).toBe(true);
  expect(new Set(v1.map((b) => b.version))).toEqual(new Set(['v1']));
  expect(v1.every((b) => b.client === 'demo')).toBe(true);
  // v1-b fails every second request: one of the four was retried, on the other v1 instance.
  expect(v1.some((b) => b.attempt === 2 && b.instance === 'v1-a')).toBe(true);
  expect(lines[6]).toMatch(/→ 200 .*"version":"v2"/);
  expect(lines[7]).toMatch(/×429/);
  // The admin server's Prometheus output counts what the tour sent, by cluster and class.
  expect(lines[8]).toMatch(/admin \/stats\/prometheus .*→ .*catalog 2xx: \d+/);
  const limited = await fetch(`${demo.url}/api/x`, { headers: { 'x-api-key': 'demo-key' } });
  expect(limited.headers.get('x-ratelimit-limit')).toBe('10');
});
