import { createServer } from 'node:net';
import { createServer as createH2cServer } from 'node:http2';
import type { AddressInfo, Server, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { IncomingHttpHeaders } from 'node:http';
import { createClusterManager } from '../../src/cluster/index.js';
import type { DefaultClusterManager, ManagedCluster } from '../../src/cluster/index.js';
import {
  clusters,
  FakeTime,
  httpServer,
  must,
  nextHealthCheck,
  NO_ENDPOINTS,
  staticCluster,
  withAccessors,
} from './helpers.js';
import type { TestServer } from './helpers.js';
import { cleanupAfterEach } from '../e2e/scope.js';

const cleanup = cleanupAfterEach();

function manager(time: FakeTime): DefaultClusterManager {
  const m = createClusterManager({ now: time.now, timers: time, random: () => 0.5 });
  cleanup.push(() => m.close());
  return m;
}

const NO_PANIC = { common_lb_config: { healthy_panic_threshold: { value: 0 } } };

/** A health endpoint whose status the test sets; records the last check's headers. */
async function healthServer(): Promise<
  TestServer & { status: number; headers: IncomingHttpHeaders; hang: boolean; degraded: boolean }
> {
  const state = { status: 200, headers: {} as IncomingHttpHeaders, hang: false, degraded: false };
  const s = await httpServer((req, res) => {
    req.resume();
    state.headers = req.headers;
    if (state.hang) return;
    res.writeHead(state.status, state.degraded ? { 'x-envoy-degraded': '1' } : {}).end();
  });
  cleanup.push(() => s.close());
  return withAccessors(s, {
    get status() {
      return state.status;
    },
    set status(v: number) {
      state.status = v;
    },
    get headers() {
      return state.headers;
    },
    get hang() {
      return state.hang;
    },
    get degraded() {
      return state.degraded;
    },
    set degraded(v: boolean) {
      state.degraded = v;
    },
    set hang(v: boolean) {
      state.hang = v;
    },
  });
}

function requestArrives(server: TestServer): Promise<void> {
  return new Promise((resolve) => {
    server.server.once('request', () => {
      resolve();
    });
  });
}

function httpCheck(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    health_checks: [
      {
        timeout: '0.5s',
        interval: '1s',
        no_traffic_interval: '5s',
        unhealthy_threshold: 2,
        healthy_threshold: 2,
        http_health_check: {
          path: '/healthz',
          host: 'health.internal',
          request_headers_to_add: [{ header: { key: 'x-check', value: 'yes' } }],
        },
        ...extra,
      },
    ],
    ...NO_PANIC,
  };
}

async function check(
  time: FakeTime,
  c: ManagedCluster,
  ms: number,
): Promise<ReturnType<typeof nextHealthCheck>> {
  const next = nextHealthCheck(c);
  time.advance(ms);
  return next;
}

describe('active HTTP health checks', () => {
  it('keeps a new host out until its first check passes, then follows the checks with their thresholds', async () => {
    const time = new FakeTime(1000);
    const server = await healthServer();
    const m = manager(time);
    m.update(clusters(staticCluster('web', [server.port], httpCheck())), NO_ENDPOINTS);
    const web = must(m.get('web'));
    const host = must(web.loadBalancer.hosts[0]);
    // Envoy: a host of a health-checked cluster starts unhealthy (FAILED_ACTIVE_HC | PENDING_ACTIVE_HC).
    expect(host.health).toBe('unhealthy');
    expect(web.pick({})).toBeNull();

    // The first check runs at once; one success is enough for a pending host.
    let r = await check(time, web, 10);
    expect(r.event).toMatchObject({ outcome: 'success', healthy: true, changed: true, status: 200 });
    expect(web.pick({})).toBe(host);
    expect(server.headers.host).toBe('health.internal');
    expect(server.headers['x-check']).toBe('yes');
    expect(server.headers['user-agent']).toBe('Envoy/HC');

    // An unexpected status fails the host at once (Envoy ignores the threshold for it).
    server.status = 503;
    r = await check(time, web, 5_000); // no traffic yet: the no-traffic interval
    expect(r.event).toMatchObject({ outcome: 'active-failure', healthy: false, changed: true, status: 503 });
    expect(host.health).toBe('unhealthy');
    expect(web.pick({})).toBeNull();

    // Back to 200: two successes (healthy_threshold) to return.
    server.status = 200;
    r = await check(time, web, 5_000);
    expect(r.event).toMatchObject({ outcome: 'success', healthy: false, changed: false });
    expect(web.pick({})).toBeNull();
    r = await check(time, web, 5_000);
    expect(r.event).toMatchObject({ outcome: 'success', healthy: true, changed: true });
    expect(web.pick({})).toBe(host);

    // x-envoy-degraded: healthy but degraded (Envoy's DEGRADED_ACTIVE_HC), and back.
    server.degraded = true;
    r = await check(time, web, 5_000);
    expect(r.event).toMatchObject({ outcome: 'success', healthy: true, degraded: true, changed: true });
    expect(host.health).toBe('degraded');
    server.degraded = false;
    r = await check(time, web, 5_000);
    expect(r.event).toMatchObject({ outcome: 'success', healthy: true, degraded: false, changed: true });
    expect(host.health).toBe('healthy');
  });

  it('uses the interval once the cluster has traffic, and counts timeouts toward the unhealthy threshold', async () => {
    const time = new FakeTime(1000);
    const server = await healthServer();
    const m = manager(time);
    m.update(clusters(staticCluster('web', [server.port], httpCheck())), NO_ENDPOINTS);
    const web = must(m.get('web'));
    const host = must(web.loadBalancer.hosts[0]);
    await check(time, web, 10);
    web.dispatcher(host, 'http1'); // traffic: the 1 s interval from now on
    let r = await check(time, web, 5_000); // the check planned before traffic
    expect(r.event.outcome).toBe('success');
    r = await check(time, web, 1_000);
    expect(r.event.outcome).toBe('success');

    server.hang = true;
    const first = nextHealthCheck(web);
    let arrived = requestArrives(server);
    time.advance(1_000); // the check starts...
    await arrived;
    time.advance(500); // ...and times out
    r = await first;
    expect(r.event).toMatchObject({ outcome: 'timeout', healthy: true, changed: false });
    expect(web.pick({})).toBe(host);
    const second = nextHealthCheck(web);
    arrived = requestArrives(server);
    time.advance(1_000);
    await arrived;
    time.advance(500);
    r = await second;
    expect(r.event).toMatchObject({ outcome: 'timeout', healthy: false, changed: true });
    expect(web.pick({})).toBeNull();
  });

  it('keeps health-check state across an update that leaves the cluster unchanged, and carries it into a rebuilt cluster', async () => {
    const time = new FakeTime(1000);
    const server = await healthServer();
    const m = manager(time);
    m.update(clusters(staticCluster('web', [server.port], httpCheck())), NO_ENDPOINTS);
    const web = must(m.get('web'));
    await check(time, web, 10);
    const host = must(web.loadBalancer.hosts[0]);
    expect(host.health).toBe('healthy');
    m.update(clusters(staticCluster('web', [server.port], httpCheck())), NO_ENDPOINTS);
    expect(m.get('web')).toBe(web);
    expect(host.health).toBe('healthy');
    // A changed config builds a new cluster; the host's verdict comes along (no new wait).
    m.update(
      clusters(staticCluster('web', [server.port], { ...httpCheck(), lb_policy: 'RANDOM' })),
      NO_ENDPOINTS,
    );
    const rebuilt = must(m.get('web'));
    expect(rebuilt).not.toBe(web);
    expect(rebuilt.pick({})).not.toBeNull();
  });
});

describe('active HTTP/2 health checks', () => {
  it('checks over h2c when codec_client_type is HTTP2', async () => {
    const versions: string[] = [];
    const server = createH2cServer((req, res) => {
      versions.push(req.httpVersion);
      res.writeHead(200).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        }),
    );
    const time = new FakeTime(1000);
    const m = manager(time);
    m.update(
      clusters(
        staticCluster('h2', [(server.address() as AddressInfo).port], {
          health_checks: [
            {
              timeout: '1s',
              interval: '1s',
              unhealthy_threshold: 1,
              healthy_threshold: 1,
              http_health_check: { path: '/healthz', codec_client_type: 'HTTP2' },
            },
          ],
        }),
      ),
      NO_ENDPOINTS,
    );
    const r = await check(time, must(m.get('h2')), 10);
    expect(r.event).toMatchObject({ outcome: 'success', healthy: true });
    expect(versions).toEqual(['2.0']);
    await m.close(); // closes the checker's HTTP/2 session, so the server can close
  });
});

async function tcpServer(
  onData?: (socket: Socket, data: Buffer) => void,
): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (data) => onData?.(socket, data));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  );
  return { server, port: (server.address() as AddressInfo).port };
}

describe('active TCP health checks', () => {
  it('passes on connect alone, and fails after unhealthy_threshold refused connects', async () => {
    const time = new FakeTime(1000);
    const { server, port } = await tcpServer();
    const m = manager(time);
    m.update(
      clusters(
        staticCluster('db', [port], {
          health_checks: [
            {
              timeout: '1s',
              interval: '1s',
              unhealthy_threshold: 2,
              healthy_threshold: 1,
              tcp_health_check: {},
            },
          ],
          ...NO_PANIC,
        }),
      ),
      NO_ENDPOINTS,
    );
    const db = must(m.get('db'));
    let r = await check(time, db, 10);
    expect(r.event).toMatchObject({ outcome: 'success', healthy: true });
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    r = await check(time, db, 60_000);
    expect(r.event).toMatchObject({ outcome: 'failure', healthy: true, changed: false });
    r = await check(time, db, 60_000);
    expect(r.event).toMatchObject({ outcome: 'failure', healthy: false, changed: true });
    expect(db.pick({})).toBeNull();
  });

  it('sends the payload and expects every receive block in order', async () => {
    const time = new FakeTime(1000);
    let reply = Buffer.from('+PONG\r\n');
    const { port } = await tcpServer((socket, data) => {
      if (data.toString() === 'PING\r\n') socket.write(reply);
    });
    const m = manager(time);
    m.update(
      clusters(
        staticCluster('redis', [port], {
          health_checks: [
            {
              timeout: '1s',
              interval: '1s',
              unhealthy_threshold: 1,
              healthy_threshold: 1,
              tcp_health_check: {
                send: { text: Buffer.from('PING\r\n').toString('hex') },
                receive: [
                  { text: Buffer.from('+PO').toString('hex') },
                  { text: Buffer.from('NG').toString('hex') },
                ],
              },
            },
          ],
          ...NO_PANIC,
        }),
      ),
      NO_ENDPOINTS,
    );
    const redis = must(m.get('redis'));
    let r = await check(time, redis, 10);
    expect(r.event).toMatchObject({ outcome: 'success', healthy: true });
    reply = Buffer.from('-ERR\r\n');
    const next = nextHealthCheck(redis);
    time.advance(60_000);
    time.advance(1_000); // no matching answer: the timeout fails the check
    r = await next;
    expect(r.event).toMatchObject({ outcome: 'timeout', healthy: false, changed: true });
  });
});
