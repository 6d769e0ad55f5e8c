// The contract between two leaf packages that do not import each other: @meshlet/breaker's
// OutlierDetector ejects and un-ejects through a small target, and a @meshlet/lb balancer is
// such a target (its eject/uneject). Real upstreams on loopback, real fetch; only time is simulated, so the
// 30 s ejection passes without waiting.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutlierDetector, TimerWheel, type HostMonitor } from '@meshlet/breaker';
import { createLoadBalancer, type Host } from '@meshlet/lb';
import { FakeTime } from './support/fake-time.js';

const UPSTREAMS = 10;
const servers: Server[] = [];
let failing = '';

beforeAll(async () => {
  for (let i = 0; i < UPSTREAMS; i++) {
    const server = createServer((req, res) => {
      const me = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      res.statusCode = me === failing ? 503 : 200;
      res.end(me);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
  }
});

afterAll(() => {
  for (const server of servers) server.close();
});

describe('outlier detection feeding the load balancer', () => {
  it('ejects an upstream after 5 consecutive 5xx, sends it nothing while ejected, and returns it after the ejection time', async () => {
    const ports = servers.map((s) => (s.address() as AddressInfo).port);
    const lb = createLoadBalancer(
      'ROUND_ROBIN',
      ports.map((port) => ({ address: '127.0.0.1', port })),
    );
    const time = new FakeTime();
    const detector = new OutlierDetector<Host>({
      wheel: new TimerWheel({ tickMs: 10, clock: time, scheduler: time }),
      target: lb, // lb.eject(host) and lb.uneject(host) are the detector's whole interface
    });
    const monitors = new Map<Host, HostMonitor<Host>>();
    for (const host of lb.hosts) monitors.set(host, detector.addHost(host));
    failing = `127.0.0.1:${ports[3] as number}`;

    /** Sends `n` requests through the balancer; returns how many each upstream answered. */
    async function send(n: number): Promise<Map<string, number>> {
      const seen = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const host = lb.pick();
        expect(host).not.toBeNull();
        const h = host as Host;
        const res = await fetch(`http://${h.address}:${h.port}/`);
        const who = await res.text();
        seen.set(who, (seen.get(who) ?? 0) + 1);
        monitors.get(h)?.reportHttpStatus(res.status);
      }
      return seen;
    }

    // Round robin: the failing upstream gets one request in ten, so 50 requests give it its 5th 503.
    const before = await send(50);
    expect(before.get(failing)).toBe(5);
    expect(lb.get(failing)?.health).toBe('ejected');
    expect(detector.stats().ejectionsActive).toBe(1);

    const during = await send(90);
    expect(during.has(failing)).toBe(false);
    expect([...during.values()]).toEqual(Array.from({ length: 9 }, () => 10));

    // The base ejection time (30 s) passes; the next interval sweep (every 10 s) returns it.
    failing = '';
    time.advance(40_000);
    expect(lb.get(`127.0.0.1:${ports[3] as number}`)?.health).toBe('healthy');
    const after = await send(20);
    expect(after.get(`127.0.0.1:${ports[3] as number}`)).toBe(2);
    detector.close();
  });
});
