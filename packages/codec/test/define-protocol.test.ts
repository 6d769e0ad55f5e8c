import { describe, expect, it } from 'vitest';
import { ByteQueue } from '@meshlet/buffer';
import {
  ConfigError,
  defineProtocol,
  Frame,
  FrameTooLargeError,
  InvalidArgumentError,
  MalformedFrameError,
} from '@meshlet/codec';
import { toy } from './helpers/toy-protocol.ts';

describe('defineProtocol', () => {
  it('gives a user-defined protocol a codec with framing, limits, id rewrite, heartbeats and error replies', () => {
    const codec = toy.createCodec();
    const request = new Frame({
      protocol: 'toy',
      requestId: 7,
      service: 'orders',
      method: 'get',
      body: Buffer.from('{"id":1}'),
    });
    const bytes = Buffer.concat([
      ...codec.encode(request),
      ...codec.encode(new Frame({ protocol: 'toy', kind: 'heartbeat', requestId: 8 })),
    ]);
    const queue = new ByteQueue();
    const frames: Frame[] = [];
    for (const byte of bytes) {
      queue.push(Buffer.from([byte]));
      for (let f = codec.decode(queue); f; f = codec.decode(queue)) frames.push(f);
    }
    expect(frames.map((f) => [f.kind, f.requestId, f.service, f.method, f.body.toString()])).toEqual([
      ['request', 7, 'orders', 'get', '{"id":1}'],
      ['heartbeat', 8, '', '', ''],
    ]);
    expect(codec.offset).toBe(bytes.length);
    expect(toy.isHeartbeat(frames[1] as Frame)).toBe(true);
    expect(toy.heartbeatReply(frames[1] as Frame).kind).toBe('heartbeat-reply');
    expect(toy.errorReply(frames[0] as Frame, 'not-found').body.toString()).toBe(
      'not-found: no route for this service',
    );
    expect(() => toy.errorReply(frames[0] as Frame, 'nope' as 'timeout')).toThrow(InvalidArgumentError);

    const patched = codec.withRequestId(frames[0] as Frame, 99);
    expect(patched).toEqual([(frames[0] as Frame).raw]);
    const again = new ByteQueue();
    again.push(patched[0] as Buffer);
    expect(codec.decode(again)?.requestId).toBe(99);
    expect(toy.getRequestId(frames[0] as Frame)).toBe(99);
  });

  it('reports malformed frames at their stream offset and checks maxFrameSize before buffering', () => {
    const codec = toy.createCodec({ maxFrameSize: 64 });
    const queue = new ByteQueue();
    const good = Buffer.concat(codec.encode(new Frame({ protocol: 'toy', requestId: 1 })));
    const bad = Buffer.from(good);
    bad[2] = 9;
    queue.push(good);
    queue.push(bad);
    expect(codec.decode(queue)?.requestId).toBe(1);
    expect(() => codec.decode(queue)).toThrow(
      expect.objectContaining({ code: 'MESHLET_ERR_CODEC_MALFORMED_FRAME', offset: good.length + 2 }),
    );

    const big = toy.createCodec({ maxFrameSize: 64 });
    const q = new ByteQueue();
    q.push(
      Buffer.concat(big.encode(new Frame({ protocol: 'toy', body: Buffer.alloc(100) }))).subarray(0, 15),
    );
    expect(() => big.decode(q)).toThrow(FrameTooLargeError);
  });

  it('a definition that throws something untyped still yields a typed error', () => {
    const sloppy = defineProtocol({
      ...toy.definition,
      name: 'sloppy',
      decode: (bytes) => {
        if (bytes.length > 0) throw new TypeError('oops');
        return new Frame({ protocol: 'sloppy' });
      },
    });
    const queue = new ByteQueue();
    queue.push(Buffer.concat(toy.createCodec().encode(new Frame({ protocol: 'toy' }))));
    expect(() => sloppy.createCodec().decode(queue)).toThrow(MalformedFrameError);
  });

  it('validates the definition once, at definition time', () => {
    const base = toy.definition;
    expect(() => defineProtocol({ ...base, name: '' })).toThrow(ConfigError);
    expect(() => defineProtocol({ ...base, multiplexed: 'yes' as unknown as boolean })).toThrow(ConfigError);
    expect(() => defineProtocol({ ...base, decode: undefined as unknown as typeof base.decode })).toThrow(
      /decode must be a function/,
    );
    expect(() => defineProtocol({ ...base, maxFrameSize: 0 })).toThrow(ConfigError);
    expect(() => defineProtocol({ ...base, matchBytes: 1e6 })).toThrow(ConfigError);
    expect(() => toy.createCodec({ maxFrameSize: 1.5 })).toThrow(ConfigError);
    expect(() => defineProtocol({ ...base, heartbeat: 1 as unknown as () => Frame })).toThrow(ConfigError);
    // The heartbeat factory is optional: absent, the protocol says it has none.
    expect(defineProtocol({ ...base, name: 'no-heartbeat' }).heartbeat).toBeUndefined();
    const withHeartbeat = defineProtocol({
      ...base,
      name: 'with-heartbeat',
      heartbeat: (requestId) => new Frame({ protocol: 'with-heartbeat', kind: 'heartbeat', requestId }),
    });
    expect(withHeartbeat.heartbeat?.(5)).toMatchObject({ kind: 'heartbeat', requestId: 5 });
    expect(toy.multiplexed).toBe(true);
    expect(defineProtocol({ ...base, name: 'pingpong', multiplexed: false }).multiplexed).toBe(false);
  });
});
