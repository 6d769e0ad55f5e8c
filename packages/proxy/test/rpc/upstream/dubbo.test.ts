// Dubbo through the RPC upstream pool, to a raw `net` server speaking @meshlet/codec's dubbo
// protocol, with requests built by hessian.js as a Dubbo client writes them.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ByteQueue } from '@meshlet/buffer';
import { dubbo, DubboFrame, DubboStatus } from '@meshlet/codec';
import { createRpcUpstreams } from '../../../src/rpc/upstream/index.js';
import { call, clusterOf, listen, manualTime, portOf, until, upstreamScope, decodeFrame } from './helpers.js';

const require = createRequire(import.meta.url);
interface Encoder {
  write(value: unknown): Encoder;
  get(): Buffer;
}
const hessian = require('hessian.js') as { EncoderV2: new () => Encoder };

/** A Dubbo two-way request (DubboCodec.encodeRequestData with Hessian 2) with one String argument. */
function requestBytes(id: bigint, argument: string): Buffer {
  const body = new hessian.EncoderV2()
    .write('2.0.2')
    .write('org.apache.dubbo.demo.EchoService')
    .write('1.0.0')
    .write('echo')
    .write('Ljava/lang/String;')
    .write(argument)
    .write({ path: 'org.apache.dubbo.demo.EchoService' })
    .get();
  const header = Buffer.alloc(16);
  header.writeUInt16BE(0xdabb, 0);
  header[2] = 0xc2; // request, two-way, hessian2
  header.writeBigUInt64BE(id, 4);
  header.writeUInt32BE(body.length, 12);
  return Buffer.concat([header, body]);
}

function downstreamFrame(id: number, argument: string): DubboFrame {
  return decodeFrame(dubbo, requestBytes(BigInt(id), argument));
}

const { opened, clusters } = upstreamScope();

describe('RPC upstreams: Dubbo against a raw dubbo server', () => {
  it('multiplexes requests with rewritten ids, maps responses back, and heartbeats', async () => {
    const ids: number[] = [];
    let heartbeats = 0;
    const server = await listen((socket) => {
      const codec = dubbo.createCodec();
      const queue = new ByteQueue();
      socket.on('data', (chunk: Buffer) => {
        queue.push(chunk);
        for (let frame = codec.decode(queue); frame; frame = codec.decode(queue)) {
          if (dubbo.isHeartbeat(frame)) {
            heartbeats++;
            for (const part of codec.encode(dubbo.heartbeatReply(frame))) socket.write(part);
            continue;
          }
          ids.push(frame.requestId);
          // Echo: the response body is the request's (distinct per request).
          const response = new DubboFrame({
            kind: 'response',
            requestId: frame.requestId,
            status: DubboStatus.OK,
            body: Buffer.from(frame.body),
          });
          for (const part of codec.encode(response)) socket.write(part);
        }
      });
    });
    const { cluster, host, close } = clusterOf(portOf(server));
    clusters.push(close);
    const time = manualTime();
    const upstreams = createRpcUpstreams({
      timers: time.wheel,
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 500,
      heartbeatMisses: 1,
    });
    opened.push(upstreams);
    const frames = Array.from({ length: 50 }, (_, i) => downstreamFrame(2 ** 40 + 7, `arg-${i}`));
    const calls = frames.map((frame) => call(upstreams, cluster, host, dubbo, frame, { timeoutMs: 5000 }));
    const outcomes = await Promise.all(calls.map((c) => c.outcome));
    outcomes.forEach((outcome, i) => {
      if (outcome.kind !== 'response') throw new Error(outcome.message);
      expect(outcome.frame.requestId).toBe(2 ** 40 + 7);
      expect(outcome.frame.raw?.readBigUInt64BE(4)).toBe(2n ** 40n + 7n);
      expect(outcome.frame.body.equals((frames[i] as DubboFrame).body)).toBe(true);
    });
    expect(new Set(ids).size).toBe(50);
    expect(ids).not.toContain(2 ** 40 + 7);
    time.tick(1000);
    await until(() => heartbeats === 1, 'dubbo heartbeat');
    const after = call(upstreams, cluster, host, dubbo, downstreamFrame(1, 'after'));
    expect((await after.outcome).kind).toBe('response');
    time.tick(600);
    expect(upstreams.connectionCount).toBe(1);
  });
});
