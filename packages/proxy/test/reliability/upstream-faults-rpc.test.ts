// Upstream faults, RPC (Bolt): Bolt requests encoded by sofa-bolt-node through a real proxy's
// rpc_proxy listener to upstreams that refuse, reset, half-close, stall, fail DNS or answer
// errors. Each gets the protocol's error reply with Envoy's response flag, a retry on idempotent
// routes, or an ejection; and every socket, server and timer a scenario created is destroyed.
import type { AddressInfo, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ByteQueue } from '@meshlet/buffer';
import { BoltStatus, bolt } from '@meshlet/codec';
import type * as model from '@meshlet/xds';
import { createProxy, type HttpProxy, type ObserverFactory } from '../../src/index.js';
import type { DnsResolver } from '../../src/cluster/dns.js';
import { FakeTime } from '../cluster/helpers.js';
import { envoyCluster, outlierDetection } from '../e2e/helpers.js';
import { type BoltServer, echo, rawBoltCall, rpcRoute, rpcSnapshot, startBoltServer } from '../rpc/peers.js';
import { closedPort } from '../tcp/helpers.js';
import { leakChecked, rawServer, statOf } from './resources.js';

const SERVICE = 'com.acme.Greeter:1.0';

class RpcScenario {
  readonly time = new FakeTime(1_000_000);
  readonly ended: { flags: string[]; details: string }[] = [];
  readonly closers: (() => unknown)[] = [];
  proxy!: HttpProxy;
  port = 0;

  private readonly recorder: ObserverFactory = {
    forChain: () => ({
      connectionOpened: () => undefined,
      connectionClosed: () => undefined,
      streamStarted: () => undefined,
      streamEnded: (ctx) => {
        this.ended.push({ flags: [...ctx.info.responseFlags], details: ctx.info.responseCodeDetails });
      },
    }),
  };

  async start(
    routes: model.RpcRoute[],
    clusters: Record<string, number[]>,
    more: { clusters?: Partial<Record<string, Partial<model.Cluster>>>; resolver?: DnsResolver } = {},
    extraClusters: model.Cluster[] = [],
  ): Promise<void> {
    const snapshot = rpcSnapshot(
      { protocol: 'bolt', routes },
      clusters,
      more.clusters ? { clusters: more.clusters } : {},
    );
    for (const c of extraClusters) (snapshot.clusters as Map<string, model.Cluster>).set(c.name, c);
    const proxy = createProxy({
      config: snapshot,
      now: this.time.now,
      timers: this.time,
      observers: [this.recorder],
      ...(more.resolver ? { resolver: more.resolver } : {}),
    });
    this.closers.push(() => proxy.close());
    await proxy.start();
    this.proxy = proxy;
    this.port = (proxy.address('rpc') as AddressInfo).port;
  }

  async bolt(behaviour = echo('bolt')): Promise<BoltServer> {
    const server = await startBoltServer(behaviour);
    this.closers.push(() => server.close());
    return server;
  }

  /** A raw TCP upstream: `onSocket` decides what a connection gets. */
  async tcp(onSocket: (socket: Socket) => void): Promise<{ port: number; sockets: Set<Socket> }> {
    return rawServer(onSocket, this.closers);
  }

  /** One Bolt call on its own connection; resolves to the response status. */
  async call(service = SERVICE): Promise<number> {
    return (await rawBoltCall(this.port, service)).status;
  }

  stat(name: string): number | undefined {
    return statOf(this.proxy, name);
  }

  async close(): Promise<void> {
    for (const c of this.closers.splice(0).reverse()) await c();
  }
}

/** Runs a scenario, closes it, and checks that nothing it created is left behind. */
function scenario(run: (s: RpcScenario) => Promise<void>): Promise<void> {
  return leakChecked(() => new RpcScenario(), run);
}

type BoltRequest = NonNullable<ReturnType<ReturnType<typeof bolt.createCodec>['decode']>>;

/** Serves Bolt with meshlet's codec: every request gets `reply(request)`'s frame, or nothing. */
function boltAnswering(reply: (request: BoltRequest) => Buffer[] | null) {
  return (socket: Socket): void => {
    const codec = bolt.createCodec();
    const queue = new ByteQueue();
    socket.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      for (let frame = codec.decode(queue); frame !== null; frame = codec.decode(queue)) {
        if (frame.kind === 'heartbeat') continue;
        const out = reply(frame);
        if (out !== null) for (const b of out) socket.write(b);
      }
    });
  };
}

const greeter = (more: Partial<model.RpcRoute> = {}): model.RpcRoute[] => [rpcRoute('svc', more)];

describe('upstream faults (RPC, Bolt): error reply, flag, retry, ejection, nothing left behind', () => {
  it('connection refused: CONNECTION_CLOSED (unavailable) with UF; an idempotent route retries another host', async () => {
    await scenario(async (s) => {
      const dead = await closedPort();
      const good = await s.bolt();
      await s.start(
        [
          rpcRoute('dead', { match: { service: { exact: 'dead:1.0', ignoreCase: false }, headers: [] } }),
          rpcRoute('svc', { idempotent: true, numRetries: 1 }),
        ],
        { dead: [dead], svc: [dead, good.port] },
      );
      expect(await s.call('dead:1.0')).toBe(BoltStatus.CONNECTION_CLOSED);
      expect(s.ended.at(-1)).toEqual({ flags: ['UF'], details: 'upstream_connect_failure' });
      for (let i = 0; i < 4; i++) expect(await s.call()).toBe(BoltStatus.SUCCESS);
      expect(s.stat('cluster.svc.upstream_rq_retry')).toBeGreaterThan(0);
    });
  });

  it('reset with the request in flight: CONNECTION_CLOSED with UC; retried when idempotent', async () => {
    await scenario(async (s) => {
      const reset = await s.tcp((socket) => {
        socket.once('data', () => socket.resetAndDestroy());
      });
      const good = await s.bolt();
      await s.start(
        [
          rpcRoute('reset', { match: { service: { exact: 'reset:1.0', ignoreCase: false }, headers: [] } }),
          rpcRoute('svc', { idempotent: true, numRetries: 1 }),
        ],
        { reset: [reset.port], svc: [reset.port, good.port] },
      );
      expect(await s.call('reset:1.0')).toBe(BoltStatus.CONNECTION_CLOSED);
      expect(s.ended.at(-1)).toEqual({ flags: ['UC'], details: 'upstream_reset_before_response_started' });
      for (let i = 0; i < 4; i++) expect(await s.call()).toBe(BoltStatus.SUCCESS);
    });
  });

  it('half-closed upstream: a FIN instead of a response is CONNECTION_CLOSED with UC', async () => {
    await scenario(async (s) => {
      const fin = await s.tcp((socket) => {
        socket.once('data', () => socket.end());
      });
      await s.start(greeter(), { svc: [fin.port] });
      expect(await s.call()).toBe(BoltStatus.CONNECTION_CLOSED);
      expect(s.ended.at(-1)?.flags).toEqual(['UC']);
      expect(await s.call()).toBe(BoltStatus.CONNECTION_CLOSED);
    });
  });

  it('a response cut in the middle of its frame, then a reset: CONNECTION_CLOSED with UC', async () => {
    await scenario(async (s) => {
      const cut = await s.tcp(
        boltAnswering((request) => {
          const whole = Buffer.concat(bolt.createCodec().encode(bolt.errorReply(request, 'internal', 'x')));
          return [whole.subarray(0, Math.floor(whole.length / 2))];
        }),
      );
      // After the half frame, the connection dies.
      const original = cut.sockets;
      await s.start(greeter(), { svc: [cut.port] });
      const pending = s.call();
      await new Promise<void>((resolve) => {
        const check = (): void => {
          const socket = [...original][0];
          if (socket !== undefined && socket.bytesWritten > 0) {
            socket.resetAndDestroy();
            resolve();
          } else setImmediate(check);
        };
        check();
      });
      expect(await pending).toBe(BoltStatus.CONNECTION_CLOSED);
      expect(s.ended.at(-1)?.flags).toEqual(['UC']);
    });
  });

  it('an upstream that accepts and never answers: TIMEOUT with UT at the route timeout', async () => {
    await scenario(async (s) => {
      let received = (): void => undefined;
      const silent = await s.tcp((socket) => {
        socket.on('data', () => {
          received();
        });
      });
      await s.start(greeter({ timeoutMs: 1000 }), { svc: [silent.port] });
      for (let i = 0; i < 3; i++) {
        const got = new Promise<void>((resolve) => (received = resolve));
        const pending = s.call();
        await got;
        s.time.advance(1000);
        expect(await pending).toBe(BoltStatus.TIMEOUT);
        expect(s.ended.at(-1)).toEqual({ flags: ['UT'], details: 'upstream_response_timeout' });
      }
    });
  });

  it('DNS failure: a STRICT_DNS name that does not resolve is CONNECTION_CLOSED with UH', async () => {
    await scenario(async (s) => {
      const resolver: DnsResolver = {
        lookup: (hostname) =>
          Promise.reject(
            Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }),
          ),
      };
      const dns = envoyCluster({
        name: 'svc',
        type: 'STRICT_DNS',
        load_assignment: {
          cluster_name: 'svc',
          endpoints: [
            {
              lb_endpoints: [
                {
                  endpoint: {
                    address: { socket_address: { address: 'greeter.mesh.test', port_value: 12200 } },
                  },
                },
              ],
            },
          ],
        },
      });
      await s.start(greeter(), {}, { resolver }, [dns]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(await s.call()).toBe(BoltStatus.CONNECTION_CLOSED);
      expect(s.ended.at(-1)).toEqual({ flags: ['UH'], details: 'no_healthy_upstream' });
    });
  });

  it('error storm: a host answering SERVER_EXCEPTION is ejected by outlier detection and gets nothing more', async () => {
    await scenario(async (s) => {
      const failing = await s.tcp(
        boltAnswering((request) => bolt.createCodec().encode(bolt.errorReply(request, 'internal', 'boom'))),
      );
      const good = await s.bolt();
      await s.start(
        greeter(),
        { svc: [failing.port, good.port] },
        {
          clusters: {
            svc: {
              outlierDetection: outlierDetection({
                consecutive5xx: 3,
                maxEjectionPercent: 50,
                enforcingSuccessRate: 0,
              }),
            },
          },
        },
      );
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push(await s.call());
      // Round robin: the failing host answered its share until its third error in a row.
      expect(statuses.filter((x) => x === BoltStatus.SERVER_EXCEPTION)).toHaveLength(3);
      expect(s.stat('cluster.svc.outlier_detection.ejections_enforced_total')).toBe(1);
      const before = good.requests.length;
      for (let i = 0; i < 6; i++) expect(await s.call()).toBe(BoltStatus.SUCCESS);
      expect(good.requests.length).toBe(before + 6);
    });
  });
});
