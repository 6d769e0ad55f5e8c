// Regression tests of bugs the reliability suites found, each named after its bug
// (docs/reliability.md, "Bugs found").
import { describe, expect, it } from 'vitest';
import { Client } from 'undici';
import type { AddressInfo } from 'node:net';
import { createClusterManager } from '../../src/cluster/cluster-manager.js';
import { createProxy } from '../../src/index.js';
import { FakeTime } from '../cluster/helpers.js';
import { cluster, gateway, namedUpstream, outlierDetection, route, routeAction } from '../e2e/helpers.js';

describe('regressions', () => {
  it('proxy-close-leaves-timer-armed: close() leaves no timer behind after requests cancelled their deadlines', async () => {
    const time = new FakeTime(1_000_000);
    const upstream = await namedUpstream('up');
    const proxy = createProxy({
      config: gateway({
        routes: [route('r', { route: routeAction('up', { timeoutMs: 15_000 }) })],
        clusters: [cluster('up', [upstream.port])],
      }),
      now: time.now,
      timers: time,
    });
    await proxy.start();
    const client = new Client(`http://127.0.0.1:${(proxy.address('ingress') as AddressInfo).port}`);
    const res = await client.request({ method: 'GET', path: '/' });
    expect(await res.body.text()).toBe('up');
    await client.close();
    await proxy.close();
    await upstream.close();
    // Before the fix the route timeout's cancelled entry kept the wheel's timer set for 15 s.
    expect(time.pendingTimers).toBe(0);
  });

  it('cluster-manager-close-leaves-timer-armed: close() leaves no timer behind after an outlier sweep was scheduled', async () => {
    const time = new FakeTime(1_000_000);
    const clusters = createClusterManager({ now: time.now, timers: time });
    const c = cluster('svc', [1], { outlierDetection: outlierDetection() });
    clusters.update(new Map([[c.name, c]]), new Map());
    expect(time.pendingTimers).toBe(1);
    await clusters.close();
    expect(time.pendingTimers).toBe(0);
  });
});
