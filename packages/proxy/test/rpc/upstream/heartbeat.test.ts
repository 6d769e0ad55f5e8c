// Heartbeats on idle upstream connections: acknowledged by a sofa-bolt-node server, and a raw
// Bolt server (meshlet's codec) that stops answering them gets its connection declared dead.
import { describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { ByteQueue } from '@meshlet/buffer';
import { bolt, BoltFrame } from '@meshlet/codec';
import { createRpcUpstreams } from '../../../src/rpc/upstream/index.js';
import {
  boltRequestBytes,
  boltServer,
  call,
  clusterOf,
  listen,
  manualTime,
  portOf,
  until,
  upstreamScope,
  decodeFrame,
} from './helpers.js';

function downstreamFrame(id: number, args: unknown[]): BoltFrame {
  return decodeFrame(bolt, boltRequestBytes(id, 'plus', args));
}

const { opened, clusters } = upstreamScope();

describe('RPC upstreams: heartbeats', () => {
  it('sends a heartbeat on a connection idle for the interval; acknowledged, the connection lives', async () => {
    const server = await boltServer((request) => {
      const [a, b] = request.data?.args as [number, number];
      return { value: { $class: 'java.lang.Integer', $: a + b } };
    });
    const { cluster, host, stats, close } = clusterOf(server.port);
    clusters.push(close);
    const time = manualTime();
    const upstreams = createRpcUpstreams({
      timers: time.wheel,
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 500,
      heartbeatMisses: 1,
    });
    opened.push(upstreams);
    const first = call(upstreams, cluster, host, bolt, downstreamFrame(1, [1, 2]));
    expect((await first.outcome).kind).toBe('response');
    time.tick(900);
    expect(server.heartbeats).toBe(0); // not idle long enough
    time.tick(100);
    await until(() => server.heartbeats === 1, 'first heartbeat');
    // The ack comes before this response on the same connection.
    const second = call(upstreams, cluster, host, bolt, downstreamFrame(2, [3, 4]));
    expect((await second.outcome).kind).toBe('response');
    time.tick(600); // past the heartbeat timeout: it was answered, nothing happens
    time.tick(1000);
    await until(() => server.heartbeats === 2, 'second heartbeat');
    expect(upstreams.connectionCount).toBe(1);
    expect(server.accepted).toHaveLength(1);
    expect(stats.events).toEqual([`connectionOpened ${host.key}`]);
  });

  it('declares a connection dead after heartbeats go unanswered: its pending request fails with `reset`', async () => {
    // A raw Bolt server speaking meshlet's codec: it reads everything and answers nothing.
    const heartbeatIds: number[] = [];
    const requests: number[] = [];
    const accepted: Socket[] = [];
    const server = await listen((socket) => {
      accepted.push(socket);
      const codec = bolt.createCodec();
      const queue = new ByteQueue();
      socket.on('data', (chunk: Buffer) => {
        queue.push(chunk);
        for (let frame = codec.decode(queue); frame; frame = codec.decode(queue)) {
          if (bolt.isHeartbeat(frame)) heartbeatIds.push(frame.requestId);
          else requests.push(frame.requestId);
        }
      });
    });
    const { cluster, host, stats, close } = clusterOf(portOf(server));
    clusters.push(close);
    const time = manualTime();
    const upstreams = createRpcUpstreams({
      timers: time.wheel,
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 500,
      heartbeatMisses: 2,
    });
    opened.push(upstreams);
    const pending = call(upstreams, cluster, host, bolt, downstreamFrame(1, [1, 2]));
    await until(() => requests.length === 1, 'request received');
    time.tick(1000);
    await until(() => heartbeatIds.length === 1, 'first heartbeat');
    time.tick(500); // first miss: the next heartbeat goes out at once
    time.tick(10);
    await until(() => heartbeatIds.length === 2, 'second heartbeat');
    expect(pending.calls()).toBe(0);
    time.tick(500); // second miss: dead
    const outcome = await pending.outcome;
    expect(outcome).toMatchObject({ kind: 'failure', failure: 'reset' });
    expect(outcome.kind === 'failure' && outcome.message).toMatch(/heartbeats .* unanswered/);
    // Heartbeat ids are upstream ids too: never one a pending request holds.
    expect(heartbeatIds).not.toContain(requests[0]);
    expect(stats.events).toEqual([`connectionOpened ${host.key}`, `connectionClosed ${host.key}`]);
    await until(
      () => accepted[0]?.destroyed === true || accepted[0]?.readableEnded === true,
      'server saw the close',
    );
    expect(upstreams.connectionCount).toBe(0);
  });

  it('answers heartbeats the upstream sends', async () => {
    let reply: BoltFrame | null = null;
    const server = await listen((socket) => {
      const codec = bolt.createCodec();
      const queue = new ByteQueue();
      socket.on('data', (chunk: Buffer) => {
        queue.push(chunk);
        for (let frame = codec.decode(queue); frame; frame = codec.decode(queue)) {
          if (frame.kind === 'heartbeat-reply') reply = frame;
          else if (frame.kind === 'request') {
            // Answer the request, then probe the client.
            const response = new BoltFrame({ kind: 'response', requestId: frame.requestId });
            for (const part of codec.encode(response)) socket.write(part);
            for (const part of codec.encode(new BoltFrame({ kind: 'heartbeat', requestId: 4242 })))
              socket.write(part);
          }
        }
      });
    });
    const { cluster, host, close } = clusterOf(portOf(server));
    clusters.push(close);
    const upstreams = createRpcUpstreams({ timers: manualTime().wheel });
    opened.push(upstreams);
    const first = call(upstreams, cluster, host, bolt, downstreamFrame(1, [1, 2]));
    expect((await first.outcome).kind).toBe('response');
    await until(() => reply !== null, 'heartbeat reply');
    expect((reply as BoltFrame | null)?.requestId).toBe(4242);
  });
});
