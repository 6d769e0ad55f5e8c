import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createClusterManager } from '../../src/cluster/index.js';
import type { DefaultClusterManager, ManagedCluster, ResolvedAddress } from '../../src/cluster/index.js';
import {
  assignmentJson,
  cluster,
  clusters,
  endpoint,
  FakeTime,
  must,
  namedServer,
  nextHealthCheck,
  nextResolution,
  NO_ENDPOINTS,
  staticCluster,
} from './helpers.js';
import { cleanupAfterEach } from '../e2e/scope.js';

const cleanup = cleanupAfterEach();

const OUTLIER = {
  outlier_detection: {
    consecutive_5xx: 3,
    interval: '10s',
    base_ejection_time: '30s',
    max_ejection_percent: 100,
  },
};

describe('outlier detection through report()', () => {
  it('ejects a host after consecutive 5xx, keeps the ejection across an unchanged update, and returns it after the ejection time', () => {
    const time = new FakeTime(1000);
    const m = createClusterManager({ now: time.now, timers: time });
    cleanup.push(() => m.close());
    m.update(clusters(staticCluster('web', [8001, 8002], OUTLIER)), NO_ENDPOINTS);
    const web = must(m.get('web'));
    const bad = must(web.loadBalancer.get('127.0.0.1:8001'));
    const good = must(web.loadBalancer.get('127.0.0.1:8002'));
    web.report(bad, { kind: 'response', status: 503 });
    web.report(bad, { kind: 'response', status: 500 });
    expect(bad.health).toBe('healthy');
    web.report(good, { kind: 'response', status: 200 });
    web.report(bad, { kind: 'response', status: 502 });
    expect(bad.health).toBe('ejected');
    expect(must(web.outlierDetector).stats().ejectionsActive).toBe(1);
    for (let i = 0; i < 10; i++) expect(web.pick({})).toBe(good);

    m.update(clusters(staticCluster('web', [8001, 8002], OUTLIER)), NO_ENDPOINTS);
    expect(m.get('web')).toBe(web);
    expect(bad.health).toBe('ejected');

    time.advance(30_000); // sweeps at 10 s, 20 s, 30 s: the 30 s ejection is over
    expect(bad.health).toBe('healthy');
    const picked = new Set<unknown>();
    for (let i = 0; i < 4; i++) picked.add(web.pick({}));
    expect(picked).toEqual(new Set([bad, good]));
  });

  it('counts connect failures, timeouts and resets as local-origin failures (gateway errors unless split)', () => {
    const time = new FakeTime(1000);
    const m = createClusterManager({ now: time.now, timers: time });
    cleanup.push(() => m.close());
    m.update(clusters(staticCluster('web', [8001, 8002], OUTLIER)), NO_ENDPOINTS);
    const web = must(m.get('web'));
    const host = must(web.loadBalancer.get('127.0.0.1:8001'));
    web.report(host, { kind: 'connect-failed' });
    web.report(host, { kind: 'timeout' });
    web.report(host, { kind: 'reset' });
    expect(host.health).toBe('ejected');
    expect(must(web.outlierDetector).stats().enforced['consecutive-5xx']).toBe(1);
  });

  it('stops monitoring a host that leaves, and a passing health check ends an ejection', async () => {
    const time = new FakeTime(1000);
    const server = await namedServer('ok');
    cleanup.push(() => server.close());
    const m = createClusterManager({ now: time.now, timers: time });
    cleanup.push(() => m.close());
    const config = (ports: number[]): ReturnType<typeof staticCluster> =>
      staticCluster('web', ports, {
        ...OUTLIER,
        health_checks: [
          {
            timeout: '1s',
            interval: '1s',
            unhealthy_threshold: 1,
            healthy_threshold: 1,
            http_health_check: { path: '/' },
          },
        ],
      });
    m.update(clusters(config([server.port, 8009])), NO_ENDPOINTS);
    const web = must(m.get('web'));
    const detector = must(web.outlierDetector);
    expect(detector.size).toBe(2);
    const host = must(web.loadBalancer.get(`127.0.0.1:${server.port}`));
    const first = nextHealthCheck(web, host);
    time.advance(10);
    await first;
    for (let i = 0; i < 3; i++) web.report(host, { kind: 'response', status: 500 });
    expect(host.health).toBe('ejected');
    const next = nextHealthCheck(web, host);
    time.advance(60_000);
    await next;
    expect(detector.isEjected(host)).toBe(false);
    expect(host.health).toBe('healthy');

    m.update(clusters(config([server.port])), NO_ENDPOINTS);
    expect(detector.size).toBe(1);
  });
});

/** A resolver answering from a table the test edits; loopback addresses only. */
class FakeResolver {
  readonly answers = new Map<string, readonly ResolvedAddress[] | Error>();
  readonly calls: { name: string; family: number }[] = [];
  lookup(hostname: string, options: { all: true; family: 0 | 4 | 6 }): Promise<readonly ResolvedAddress[]> {
    this.calls.push({ name: hostname, family: options.family });
    const answer = this.answers.get(hostname);
    if (answer instanceof Error) return Promise.reject(answer);
    return Promise.resolve(answer ?? []);
  }
}

function v4(...addresses: string[]): ResolvedAddress[] {
  return addresses.map((address) => ({ address, family: 4 }));
}

/** Two servers on one port, on 127.0.0.1 and 127.0.0.2, answering their address. */
async function twoAddresses(): Promise<number> {
  const one = createServer((req, res) => res.end('127.0.0.1'));
  await new Promise<void>((resolve) => one.listen(0, '127.0.0.1', resolve));
  const port = (one.address() as AddressInfo).port;
  const two = createServer((req, res) => res.end('127.0.0.2'));
  await new Promise<void>((resolve) => two.listen(port, '127.0.0.2', resolve));
  for (const s of [one, two]) {
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => {
            resolve();
          });
        }),
    );
  }
  return port;
}

function dnsCluster(
  name: string,
  port: number,
  extra: Record<string, unknown> = {},
): ReturnType<typeof cluster> {
  return cluster({
    name,
    type: 'STRICT_DNS',
    dns_refresh_rate: '5s',
    dns_lookup_family: 'V4_ONLY',
    load_assignment: assignmentJson(name, [endpoint('backend.test', port)]),
    ...extra,
  });
}

async function body(c: ManagedCluster, address: string, port: number): Promise<string> {
  const host = must(c.loadBalancer.get(`${address}:${port}`));
  const res = await c.dispatcher(host, 'http1').request({ method: 'GET', path: '/' });
  return res.body.text();
}

describe('STRICT_DNS', () => {
  function setup(): { time: FakeTime; resolver: FakeResolver; m: DefaultClusterManager } {
    const time = new FakeTime(1000);
    const resolver = new FakeResolver();
    const m = createClusterManager({ now: time.now, timers: time, resolver });
    cleanup.push(() => m.close());
    return { time, resolver, m };
  }

  it('resolves every name, re-resolves every dns_refresh_rate, and keeps the last good hosts when a lookup fails', async () => {
    const port = await twoAddresses();
    const { time, resolver, m } = setup();
    resolver.answers.set('backend.test', v4('127.0.0.1'));
    m.update(clusters(dnsCluster('api', port)), NO_ENDPOINTS);
    const api = must(m.get('api'));
    expect(api.loadBalancer.hosts.length).toBe(0); // none until the first answer
    await nextResolution(api); // the lookup answers asynchronously
    expect(resolver.calls).toEqual([{ name: 'backend.test', family: 4 }]);
    expect(await body(api, '127.0.0.1', port)).toBe('127.0.0.1');
    const first = must(api.loadBalancer.get(`127.0.0.1:${port}`));
    const firstPool = api.dispatcher(first, 'http1');

    resolver.answers.set('backend.test', v4('127.0.0.1', '127.0.0.2'));
    let next = nextResolution(api);
    time.advance(5_000);
    await next;
    expect(api.loadBalancer.hosts.map((h) => h.key).sort()).toEqual([
      `127.0.0.1:${port}`,
      `127.0.0.2:${port}`,
    ]);
    expect(api.loadBalancer.get(`127.0.0.1:${port}`)).toBe(first);
    expect(api.dispatcher(first, 'http1')).toBe(firstPool);
    expect(await body(api, '127.0.0.2', port)).toBe('127.0.0.2');

    resolver.answers.set('backend.test', new Error('SERVFAIL'));
    next = nextResolution(api);
    time.advance(5_000);
    await next;
    expect(api.loadBalancer.hosts.length).toBe(2);

    resolver.answers.set('backend.test', v4('127.0.0.2'));
    next = nextResolution(api);
    time.advance(5_000);
    await next;
    expect(api.loadBalancer.hosts.map((h) => h.key)).toEqual([`127.0.0.2:${port}`]);
    expect(firstPool).toHaveProperty('closed', true);
    expect(resolver.calls.length).toBe(4);
  });

  it('LOGICAL_DNS uses the first address of the answer; AUTO prefers IPv6', async () => {
    const { resolver, m } = setup();
    resolver.answers.set('backend.test', [
      { address: '127.0.0.3', family: 4 },
      { address: '127.0.0.4', family: 4 },
    ]);
    resolver.answers.set('v6.test', [
      { address: '127.0.0.5', family: 4 },
      { address: '::1', family: 6 },
    ]);
    m.update(
      clusters(
        dnsCluster('logical', 80, { type: 'LOGICAL_DNS' }),
        cluster({
          name: 'auto',
          type: 'STRICT_DNS',
          load_assignment: assignmentJson('auto', [endpoint('v6.test', 80)]),
        }),
      ),
      NO_ENDPOINTS,
    );
    const logical = must(m.get('logical'));
    const auto = must(m.get('auto'));
    await Promise.all([nextResolution(logical), nextResolution(auto)]);
    expect(logical.loadBalancer.hosts.map((h) => h.key)).toEqual(['127.0.0.3:80']);
    expect(auto.loadBalancer.hosts.map((h) => h.key)).toEqual(['::1:80']);
  });
});
