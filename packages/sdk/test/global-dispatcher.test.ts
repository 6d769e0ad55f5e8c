// setGlobalDispatcher(mesh.dispatcher): an application's plain fetch() goes through the mesh.
// undici 8's setGlobalDispatcher sets both the v2 global (read by the installed undici's fetch)
// and the legacy v1 global, wrapped for the old handler API (read by Node's bundled fetch).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Agent,
  fetch as undiciFetch,
  getGlobalDispatcher,
  setGlobalDispatcher,
  type Dispatcher,
} from 'undici';
import { envoyBootstrap, envoyCluster, mesh, upstream } from './helpers.js';

let previous: Dispatcher;
beforeEach(() => {
  previous = getGlobalDispatcher();
});
afterEach(() => {
  setGlobalDispatcher(previous);
});

async function meshOverFlaky(): Promise<{ good: { requests: unknown[] }; bad: { requests: unknown[] } }> {
  const bad = await upstream('bad', (req, res) => {
    req.resume();
    res.statusCode = 502;
    res.end('bad');
  });
  const good = await upstream('good');
  const m = await mesh({
    config: envoyBootstrap(
      [],
      [
        envoyCluster('orders', [bad.port, good.port], {
          // Outlier detection ejects the failing host after one 5xx.
          outlier_detection: { consecutive_5xx: 1, base_ejection_time: '30s', max_ejection_percent: 100 },
        }),
      ],
    ),
  });
  setGlobalDispatcher(m.dispatcher);
  return { good, bad };
}

describe('the global dispatcher', () => {
  it("sends the installed undici's fetch() through the mesh", async () => {
    const { bad } = await meshOverFlaky();
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push(await (await undiciFetch('http://orders/x')).text());
    // The failing host answered once, then was ejected: every later request went to the good one.
    expect(bad.requests.length).toBe(1);
    expect(bodies.slice(2)).toEqual(['good', 'good', 'good', 'good']);
  });

  it("sends Node's global fetch() through the mesh too (its bundled undici reads the legacy global)", async () => {
    const { good, bad } = await meshOverFlaky();
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push(await (await globalThis.fetch('http://orders/y')).text());
    // `orders` resolves nowhere but in the mesh; outlier detection ejected the bad host after one 5xx.
    expect(bad.requests.length).toBe(1);
    expect(good.requests.length).toBe(3);
    expect(bodies.slice(2)).toEqual(['good', 'good']);
  });

  it('is a real Dispatcher: undici.request works with it too', async () => {
    await meshOverFlaky();
    const { request } = await import('undici');
    const res = await request('http://orders/z', { dispatcher: getGlobalDispatcher() });
    await res.body.text();
    expect([200, 502]).toContain(res.statusCode);
    expect(getGlobalDispatcher()).not.toBeInstanceOf(Agent);
  });
});
