// The RPC upstream pool against the real sofa-bolt-node peer: multiplexing with id rewrite,
// timeouts, oneway requests, the in-flight bound, and a server that dies mid-flight.
import { afterEach, describe, expect, it } from 'vitest';
import { TimerWheel } from '@meshlet/breaker';
import { ByteQueue } from '@meshlet/buffer';
import { bolt, BoltFrame } from '@meshlet/codec';
import { createRpcUpstreams, type RpcConnectionPools } from '../../../src/rpc/upstream/index.js';
import {
  boltRequestBytes,
  boltServer,
  call,
  closeAll,
  clusterOf,
  sofaDecode,
  type Outcome,
} from './helpers.js';

/** A request frame as the RPC proxy gets it from a downstream sofa-bolt-node client. */
function downstreamFrame(id: number, method: string, args: unknown[]): BoltFrame {
  const queue = new ByteQueue();
  queue.push(boltRequestBytes(id, method, args));
  const frame = bolt.createCodec().decode(queue);
  if (frame === null) throw new Error('incomplete frame');
  return frame;
}

function responseOf(outcome: Outcome): BoltFrame {
  if (outcome.kind !== 'response') throw new Error(`${outcome.failure}: ${outcome.message}`);
  if (!(outcome.frame instanceof BoltFrame)) throw new Error('not a Bolt frame');
  return outcome.frame;
}

const opened: RpcConnectionPools[] = [];
const clusters: (() => Promise<void>)[] = [];

function upstreamsFor(options: Parameters<typeof createRpcUpstreams>[0] = {}): RpcConnectionPools {
  const upstreams = createRpcUpstreams({ timers: new TimerWheel({ tickMs: 5 }), ...options });
  opened.push(upstreams);
  return upstreams;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((u) => u.close()));
  await Promise.all(clusters.splice(0).map((close) => close()));
  await closeAll();
});

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
});
