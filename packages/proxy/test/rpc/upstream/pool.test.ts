// Pool behaviour with protocols of the test's own: a ping-pong protocol (one request per
// connection at a time), a malformed response, idle close and retire().
import { describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { ByteQueue } from '@meshlet/buffer';
import { defineProtocol, Frame, MalformedFrameError, type FrameKind } from '@meshlet/codec';
import { createRpcUpstreams, type RpcConnectionPools } from '../../../src/rpc/upstream/index.js';
import type { RpcUpstreamsOptions } from '../../../src/rpc/upstream/index.js';
import { call, clusterOf, gate, listen, manualTime, portOf, until, upstreamScope } from './helpers.js';

// "pp": magic 0x50, kind byte, u32 id, u32 body length, body. Ping-pong: responses carry id 0.
const KINDS: readonly FrameKind[] = ['request', 'response', 'heartbeat', 'heartbeat-reply', 'oneway'];
const pp = defineProtocol({
  name: 'pp',
  multiplexed: false,
  match: (b) => (b.length < 1 ? 'need-more' : b[0] === 0x50 ? 'yes' : 'no'),
  frameLength: (q) => {
    if (q.length > 0 && q.readUInt8(0) !== 0x50) throw new MalformedFrameError('pp', 'bad magic', 0);
    return q.length < 10 ? -1 : 10 + q.readUInt32BE(6);
  },
  decode: (bytes) =>
    new Frame({
      protocol: 'pp',
      kind: KINDS[bytes[1] ?? 0] ?? 'request',
      requestId: bytes.readUInt32BE(2),
      body: bytes.subarray(10),
      raw: bytes,
    }),
  encode: (frame) => {
    const head = Buffer.alloc(10);
    head[0] = 0x50;
    head[1] = KINDS.indexOf(frame.kind);
    head.writeUInt32BE(frame.requestId, 2);
    head.writeUInt32BE(frame.body.length, 6);
    return [head, frame.body];
  },
  heartbeat: (requestId) => new Frame({ protocol: 'pp', kind: 'heartbeat', requestId }),
  heartbeatReply: (frame) =>
    new Frame({ protocol: 'pp', kind: 'heartbeat-reply', requestId: frame.requestId }),
  errorReply: (request) =>
    new Frame({ protocol: 'pp', kind: 'response', requestId: request.requestId, status: 1 }),
});

/** The same framing, multiplexed. */
const mx = defineProtocol({ ...pp.definition, name: 'mx', multiplexed: true });

function request(id: number, text: string): Frame {
  return new Frame({ protocol: 'pp', kind: 'request', requestId: id, body: Buffer.from(text) });
}

/** A pp server: answers `re:<body>` with id 0 once `hold` (if any) opens. */
async function ppServer(
  hold?: Promise<void>,
): Promise<{ port: number; accepted: Socket[]; received: string[] }> {
  const accepted: Socket[] = [];
  const received: string[] = [];
  const server = await listen((socket) => {
    accepted.push(socket);
    const codec = pp.createCodec();
    const queue = new ByteQueue();
    socket.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      for (let frame = codec.decode(queue); frame; frame = codec.decode(queue)) {
        if (frame.kind !== 'request') continue;
        const text = frame.body.toString();
        received.push(text);
        const answer = (): void => {
          const response = new Frame({
            protocol: 'pp',
            kind: 'response',
            requestId: 0,
            body: Buffer.from(`re:${text}`),
          });
          if (!socket.destroyed) for (const part of codec.encode(response)) socket.write(part);
        };
        if (hold === undefined || text === 'fast') answer();
        else void hold.then(answer);
      }
    });
  });
  return { port: portOf(server), accepted, received };
}

const { opened, clusters } = upstreamScope();

function upstreamsFor(options: RpcUpstreamsOptions): RpcConnectionPools {
  const upstreams = createRpcUpstreams(options);
  opened.push(upstreams);
  return upstreams;
}

describe('RPC upstreams: pools', () => {
  it('a ping-pong protocol gets one request per connection at a time', async () => {
    const hold = gate();
    const server = await ppServer(hold.promise);
    const { cluster, host, close } = clusterOf(server.port);
    clusters.push(close);
    const upstreams = upstreamsFor({ timers: manualTime().wheel, connectionsPerHost: 2 });
    const calls = ['a', 'b', 'c'].map((text, i) =>
      call(upstreams, cluster, host, pp, request(100 + i, text)),
    );
    expect(await calls[2]?.outcome).toMatchObject({ kind: 'failure', failure: 'overflow' });
    await until(() => server.received.length === 2, 'two requests');
    hold.open();
    const outcomes = await Promise.all(calls.slice(0, 2).map((c) => c.outcome));
    expect(
      outcomes.map((o) => (o.kind === 'response' ? [o.frame.requestId, o.frame.body.toString()] : o.failure)),
    ).toEqual([
      [100, 're:a'],
      [101, 're:b'],
    ]);
    expect(server.accepted).toHaveLength(2);
  });

  it('a ping-pong request that times out costs its connection (its late response would be misread)', async () => {
    const never = gate();
    const server = await ppServer(never.promise);
    const { cluster, host, stats, close } = clusterOf(server.port);
    clusters.push(close);
    const time = manualTime();
    const upstreams = upstreamsFor({ timers: time.wheel, connectionsPerHost: 1 });
    // The handler retries at once, from its onFailure: the retry must not land on the dying connection.
    let retry: ReturnType<typeof call> | undefined;
    const slow = call(upstreams, cluster, host, pp, request(1, 'slow'), { timeoutMs: 100 });
    void slow.outcome.then(() => {
      retry = call(upstreams, cluster, host, pp, request(5, 'fast'));
    });
    await until(() => server.received.length === 1, 'slow received');
    time.tick(110);
    expect(await slow.outcome).toMatchObject({ kind: 'failure', failure: 'timeout' });
    await until(() => retry !== undefined, 'retried');
    const retried = await retry?.outcome;
    expect(retried?.kind === 'response' && retried.frame.body.toString()).toBe('re:fast');
    expect(stats.events.slice(0, 3)).toEqual([
      `connectionOpened ${host.key}`,
      `connectionClosed ${host.key}`,
      `connectionOpened ${host.key}`,
    ]);
    expect(server.accepted).toHaveLength(2);
  });

  it('a malformed response kills the connection: pending requests fail with `reset`, onError is told', async () => {
    const server = await listen((socket) => {
      socket.once('data', () => socket.write(Buffer.from('this is not a frame')));
    });
    const { cluster, host, close } = clusterOf(portOf(server));
    clusters.push(close);
    const errors: unknown[] = [];
    const upstreams = upstreamsFor({
      timers: manualTime().wheel,
      onError: (error) => errors.push(error),
    });
    const pending = call(upstreams, cluster, host, pp, request(1, 'x'));
    expect(await pending.outcome).toMatchObject({ kind: 'failure', failure: 'reset' });
    expect(errors[0]).toBeInstanceOf(MalformedFrameError);
    expect(upstreams.connectionCount).toBe(0);
  });

  it('closes connections idle for idleTimeoutMs; retire() closes idle ones at once and busy ones when done', async () => {
    const hold = gate();
    const server = await ppServer(hold.promise);
    const { cluster, host, stats, close } = clusterOf(server.port);
    clusters.push(close);
    const time = manualTime();
    const upstreams = upstreamsFor({ timers: time.wheel, idleTimeoutMs: 1000, connectionsPerHost: 2 });
    const first = call(upstreams, cluster, host, pp, request(1, 'fast'));
    expect((await first.outcome).kind).toBe('response');
    time.tick(900);
    expect(upstreams.connectionCount).toBe(1);
    time.tick(110);
    expect(upstreams.connectionCount).toBe(0);
    expect(stats.count('connectionClosed')).toBe(1);

    // Two connections: one busy, one idle. Retiring the host closes the idle one now.
    const busy = call(upstreams, cluster, host, pp, request(2, 'held'));
    const quick = call(upstreams, cluster, host, pp, request(3, 'fast'));
    expect((await quick.outcome).kind).toBe('response');
    await until(() => server.received.includes('held'), 'held received');
    expect(upstreams.connectionCount).toBe(2);
    upstreams.retire(cluster.name, host.key);
    expect(upstreams.connectionCount).toBe(1);
    hold.open();
    expect((await busy.outcome).kind).toBe('response');
    expect(upstreams.connectionCount).toBe(0);
    expect(stats.count('connectionClosed')).toBe(3);
  });

  it('stops giving a write-blocked connection requests (over the socket high-water mark) until it drains', async () => {
    let paused: Socket | undefined;
    const server = await listen((socket) => {
      paused = socket;
      socket.pause(); // reads nothing: the client's socket buffer fills
    });
    const { cluster, host, close } = clusterOf(portOf(server));
    clusters.push(close);
    const upstreams = upstreamsFor({ timers: manualTime().wheel, connectionsPerHost: 1 });
    const small = (id: number): Frame => new Frame({ protocol: 'mx', kind: 'request', requestId: id });
    const big = new Frame({ protocol: 'mx', kind: 'request', requestId: 1, body: Buffer.alloc(4 << 20) });
    const first = call(upstreams, cluster, host, mx, big);
    const second = call(upstreams, cluster, host, mx, small(2));
    expect(await second.outcome).toMatchObject({ kind: 'failure', failure: 'overflow' });
    expect(upstreams.pendingCount).toBe(1);
    await until(() => paused !== undefined, 'accepted');
    paused?.resume();
    // Once the 4 MiB are through, the connection takes requests again.
    await until(() => {
      call(upstreams, cluster, host, mx, small(3));
      return upstreams.pendingCount === 2;
    }, 'taking requests again');
    expect(first.calls()).toBe(0);
  });
});
