// The RPC upstream pool against the real sofa-bolt-node peer: multiplexing with id rewrite,
// timeouts, oneway requests, the in-flight bound, and a server that dies mid-flight.
import { describe, expect, it } from 'vitest';
import { TimerWheel } from '@meshlet/breaker';
import { bolt, BoltFrame } from '@meshlet/codec';
import { createRpcUpstreams, type RpcConnectionPools } from '../../../src/rpc/upstream/index.js';
import {
  boltRequestBytes,
  boltServer,
  call,
  clusterOf,
  gate,
  listen,
  manualTime,
  portOf,
  sofaDecode,
  until,
  type Outcome,
  upstreamScope,
  decodeFrame,
} from './helpers.js';

function sum(request: { data?: { args?: unknown[] } }): { value: unknown } {
  const [a, b] = request.data?.args as [number, number];
  return { value: { $class: 'java.lang.Integer', $: a + b } };
}

/** The value sofa-bolt-node reads from a response frame. */
function valueOf(outcome: Outcome): unknown {
  return sofaDecode(responseOf(outcome).raw as Buffer).data?.appResponse;
}

/** A request frame as the RPC proxy gets it from a downstream sofa-bolt-node client. */
function downstreamFrame(id: number, method: string, args: unknown[]): BoltFrame {
  return decodeFrame(bolt, boltRequestBytes(id, method, args));
}

function responseOf(outcome: Outcome): BoltFrame {
  if (outcome.kind !== 'response') throw new Error(`${outcome.failure}: ${outcome.message}`);
  if (!(outcome.frame instanceof BoltFrame)) throw new Error('not a Bolt frame');
  return outcome.frame;
}

const { opened, clusters } = upstreamScope();

function upstreamsFor(options: Parameters<typeof createRpcUpstreams>[0] = {}): RpcConnectionPools {
  const upstreams = createRpcUpstreams({ timers: new TimerWheel({ tickMs: 5 }), ...options });
  opened.push(upstreams);
  return upstreams;
}

describe('RPC upstreams: Bolt against a sofa-bolt-node server', () => {
  it('multiplexes 100 concurrent requests on one connection, rewriting ids and mapping responses back', async () => {
    const server = await boltServer((request) => {
      const [a, b] = request.data?.args as [number, number];
      return { value: { $class: 'java.lang.Integer', $: a + b } };
    });
    const { cluster, host, stats, close } = clusterOf(server.port);
    clusters.push(close);
    const upstreams = upstreamsFor();
    // Every downstream frame carries the same id, 777777, as requests of 100 client connections may.
    const calls = Array.from({ length: 100 }, (_, i) =>
      call(upstreams, cluster, host, bolt, downstreamFrame(777777, 'plus', [i, 1000]), { timeoutMs: 5000 }),
    );
    const outcomes = await Promise.all(calls.map((c) => c.outcome));
    outcomes.forEach((outcome, i) => {
      const response = responseOf(outcome);
      expect(response.requestId).toBe(777777);
      // The bytes are patched back too: forwarded unchanged, the client reads its own id.
      const packet = sofaDecode(response.raw as Buffer);
      expect(packet.packetId).toBe(777777);
      expect(packet.data?.appResponse).toBe(i + 1000);
    });
    expect(calls.every((c) => c.calls() === 1)).toBe(true);
    // One connection, 100 distinct upstream ids.
    expect(server.accepted).toHaveLength(1);
    expect(new Set(server.requestIds).size).toBe(100);
    expect(server.requestIds).not.toContain(777777);
    expect(upstreams.connectionCount).toBe(1);
    expect(stats.events).toEqual([`connectionOpened ${host.key}`]);
  });

  it('times a request out with `timeout`, drops its late response and keeps the connection', async () => {
    const slow = gate();
    const server = await boltServer((request) =>
      request.data?.methodName === 'slow' ? { ...sum(request), after: slow.promise } : sum(request),
    );
    const { cluster, host, close } = clusterOf(server.port);
    clusters.push(close);
    const time = manualTime();
    const upstreams = upstreamsFor({ timers: time.wheel });
    const late = call(upstreams, cluster, host, bolt, downstreamFrame(1, 'slow', [1, 2]), { timeoutMs: 100 });
    const fast = call(upstreams, cluster, host, bolt, downstreamFrame(2, 'plus', [3, 4]), { timeoutMs: 100 });
    expect(valueOf(await fast.outcome)).toBe(7);
    time.tick(50);
    expect(late.calls()).toBe(0);
    time.tick(60);
    const outcome = await late.outcome;
    expect(outcome).toMatchObject({ kind: 'failure', failure: 'timeout' });
    expect(upstreams.pendingCount).toBe(0);
    // The late response arrives before the next one on the same connection, and is dropped.
    slow.open();
    const next = call(upstreams, cluster, host, bolt, downstreamFrame(3, 'plus', [5, 6]));
    expect(valueOf(await next.outcome)).toBe(11);
    expect(late.calls()).toBe(1);
    expect(server.accepted).toHaveLength(1);
  });

  it('writes oneway requests and keeps nothing pending for them', async () => {
    const server = await boltServer((request) => (request.data?.methodName === 'log' ? null : sum(request)));
    const { cluster, host, close } = clusterOf(server.port);
    clusters.push(close);
    const upstreams = upstreamsFor();
    const template = downstreamFrame(9, 'log', [1, 1]);
    const oneway = (id: number): BoltFrame =>
      new BoltFrame({
        kind: 'oneway',
        requestId: id,
        className: template.className,
        headers: template.headers,
        body: template.body,
        timeout: 3000,
      });
    // The first waits for the connection to open; the second is written on an open one.
    const first = call(upstreams, cluster, host, bolt, oneway(9), { oneway: true, timeoutMs: 50 });
    await until(() => server.requestIds.length === 1, 'first oneway received');
    expect(upstreams.pendingCount).toBe(0);
    const second = call(upstreams, cluster, host, bolt, oneway(10), { oneway: true });
    expect(upstreams.pendingCount).toBe(0);
    await until(() => server.requestIds.length === 2, 'second oneway received');
    const after = call(upstreams, cluster, host, bolt, downstreamFrame(11, 'plus', [1, 1]));
    expect(valueOf(await after.outcome)).toBe(2);
    expect([first.calls(), second.calls()]).toEqual([0, 0]);
  });

  it('bounds requests in flight per connection: a second connection, then `overflow`', async () => {
    const hold = gate();
    const server = await boltServer((request) => ({ ...sum(request), after: hold.promise }));
    const { cluster, host, stats, close } = clusterOf(server.port);
    clusters.push(close);
    const upstreams = upstreamsFor({ maxRequestsPerConnection: 2, connectionsPerHost: 2 });
    const calls = [1, 2, 3, 4, 5].map((n) =>
      call(upstreams, cluster, host, bolt, downstreamFrame(n, 'plus', [n, 0])),
    );
    expect(upstreams.connectionCount).toBe(2);
    const overflow = await calls[4]?.outcome;
    expect(overflow).toMatchObject({ kind: 'failure', failure: 'overflow' });
    await until(() => server.requestIds.length === 4, 'four requests received');
    hold.open();
    const values = await Promise.all(calls.slice(0, 4).map(async (c) => valueOf(await c.outcome)));
    expect(values).toEqual([1, 2, 3, 4]);
    expect(server.accepted).toHaveLength(2);
    expect(stats.count('connectionOpened')).toBe(2);
    // Room again: a request goes through.
    const again = call(upstreams, cluster, host, bolt, downstreamFrame(6, 'plus', [6, 0]));
    expect(valueOf(await again.outcome)).toBe(6);
  });

  it('fails every pending request with `reset` when the server dies mid-flight, then reconnects', async () => {
    const never = gate();
    const server = await boltServer((request) => ({ ...sum(request), after: never.promise }));
    const { cluster, host, stats, close } = clusterOf(server.port);
    clusters.push(close);
    const upstreams = upstreamsFor();
    const calls = Array.from({ length: 20 }, (_, i) =>
      call(upstreams, cluster, host, bolt, downstreamFrame(i, 'plus', [i, 0])),
    );
    await until(() => server.requestIds.length === 20, 'requests received');
    for (const socket of server.accepted) socket.destroy();
    const outcomes = await Promise.all(calls.map((c) => c.outcome));
    expect(outcomes.every((o) => o.kind === 'failure' && o.failure === 'reset')).toBe(true);
    expect(calls.every((c) => c.calls() === 1)).toBe(true);
    expect(upstreams.pendingCount).toBe(0);
    expect(stats.events).toEqual([`connectionOpened ${host.key}`, `connectionClosed ${host.key}`]);
    // The next request opens a new connection.
    never.open();
    const next = call(upstreams, cluster, host, bolt, downstreamFrame(99, 'plus', [40, 2]));
    expect(valueOf(await next.outcome)).toBe(42);
    expect(server.accepted).toHaveLength(2);
  });

  it('fails requests with `connect-failed` when the connection is refused', async () => {
    const closed = await listen(() => undefined);
    const port = portOf(closed);
    closed.close();
    await until(() => !closed.listening, 'server closed');
    const { cluster, host, stats, close } = clusterOf(port);
    clusters.push(close);
    const upstreams = upstreamsFor();
    const calls = [1, 2, 3].map((n) =>
      call(upstreams, cluster, host, bolt, downstreamFrame(n, 'plus', [n, 0])),
    );
    const outcomes = await Promise.all(calls.map((c) => c.outcome));
    expect(outcomes.map((o) => (o.kind === 'failure' ? o.failure : o.kind))).toEqual([
      'connect-failed',
      'connect-failed',
      'connect-failed',
    ]);
    expect(stats.events).toEqual([`connectionFailed ${host.key}`]);
    expect(upstreams.connectionCount).toBe(0);
  });

  it("fails requests with `connect-failed` when the connection is not open within the cluster's connect timeout", async () => {
    const server = await boltServer(sum);
    const { cluster, host, stats, close } = clusterOf(server.port, '0.5s');
    clusters.push(close);
    const time = manualTime();
    const upstreams = upstreamsFor({ timers: time.wheel });
    const waiting = call(upstreams, cluster, host, bolt, downstreamFrame(1, 'plus', [1, 0]));
    // The clock moves before the socket can connect (connecting is never synchronous).
    time.tick(400);
    expect(waiting.calls()).toBe(0);
    time.tick(110);
    const outcome = await waiting.outcome;
    expect(outcome).toMatchObject({ kind: 'failure', failure: 'connect-failed' });
    expect(outcome.kind === 'failure' && outcome.message).toMatch(/timed out after 500 ms/);
    expect(stats.events).toEqual([`connectionFailed ${host.key}`]);
    // Next time the connection has the time it needs.
    const next = call(upstreams, cluster, host, bolt, downstreamFrame(2, 'plus', [2, 0]));
    expect(valueOf(await next.outcome)).toBe(2);
  });

  it('cancel() forgets a request: no callback, its late response dropped', async () => {
    const hold = gate();
    const server = await boltServer((request) => ({ ...sum(request), after: hold.promise }));
    const { cluster, host, close } = clusterOf(server.port);
    clusters.push(close);
    const upstreams = upstreamsFor();
    const cancelled = call(upstreams, cluster, host, bolt, downstreamFrame(1, 'plus', [1, 0]), {
      timeoutMs: 5000,
    });
    const kept = call(upstreams, cluster, host, bolt, downstreamFrame(2, 'plus', [2, 0]));
    cancelled.cancel();
    expect(upstreams.pendingCount).toBe(1);
    await until(() => server.requestIds.length === 2, 'requests received');
    hold.open();
    expect(valueOf(await kept.outcome)).toBe(2);
    expect(cancelled.calls()).toBe(0);
  });

  it('close() fails pending requests with `reset`, and later sends too', async () => {
    const never = gate();
    const server = await boltServer((request) => ({ ...sum(request), after: never.promise }));
    const { cluster, host, stats, close } = clusterOf(server.port);
    clusters.push(close);
    const upstreams = upstreamsFor();
    const pending = call(upstreams, cluster, host, bolt, downstreamFrame(1, 'plus', [1, 0]));
    await until(() => server.requestIds.length === 1, 'request received');
    await upstreams.close();
    expect(await pending.outcome).toMatchObject({ kind: 'failure', failure: 'reset' });
    const after = call(upstreams, cluster, host, bolt, downstreamFrame(2, 'plus', [1, 0]));
    expect(await after.outcome).toMatchObject({ kind: 'failure', failure: 'reset' });
    expect(stats.count('connectionClosed')).toBe(1);
    never.open();
  });
});
