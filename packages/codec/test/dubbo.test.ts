import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ByteQueue } from '@meshlet/buffer';
import { dubbo, DubboFrame, DubboStatus, FrameTooLargeError, MalformedFrameError } from '@meshlet/codec';

const require = createRequire(import.meta.url);
interface Encoder {
  write(value: unknown): Encoder;
  get(): Buffer;
}
const hessian = require('hessian.js') as {
  EncoderV2: new () => Encoder;
  decode(buf: Buffer, version: string): unknown;
};
type Java = ((className: string, value: unknown) => unknown) & Record<string, (value: unknown) => unknown>;
const java = require('js-to-java') as Java;

/** A Dubbo request body as a Dubbo client writes it with Hessian 2 (DubboCodec.encodeRequestData). */
function requestBody(attachments: Record<string, string>): Buffer {
  const encoder = new hessian.EncoderV2();
  encoder.write('2.0.2'); // dubbo version
  encoder.write('org.apache.dubbo.demo.UserService'); // service path
  encoder.write('1.0.0'); // service version
  encoder.write('findUser'); // method
  encoder.write('Ljava/lang/String;Lorg/apache/dubbo/demo/Query;I[J'); // parameter types
  encoder.write(java.String?.('u-42'));
  encoder.write(
    java('org.apache.dubbo.demo.Query', { name: 'ann', tags: ['a', 'b'], limit: java.int?.(10) }),
  );
  encoder.write(java.int?.(3));
  encoder.write(java('[long', [java.long?.(1), java.long?.(2)]));
  encoder.write({ $class: 'java.util.HashMap', $: attachments });
  return encoder.get();
}

/** The 16-byte Dubbo header, written from the protocol description, not from meshlet's encoder. */
function header(flag: number, status: number, id: bigint, length: number): Buffer {
  const out = Buffer.alloc(16);
  out.writeUInt16BE(0xdabb, 0);
  out[2] = flag;
  out[3] = status;
  out.writeBigUInt64BE(id, 4);
  out.writeUInt32BE(length, 12);
  return out;
}

function decodeAll(bytes: Buffer, chunk = bytes.length): DubboFrame[] {
  const codec = dubbo.createCodec();
  const queue = new ByteQueue();
  const frames: DubboFrame[] = [];
  for (let at = 0; at < bytes.length; at += chunk) {
    queue.push(bytes.subarray(at, at + chunk));
    for (let f = codec.decode(queue); f; f = codec.decode(queue)) frames.push(f);
  }
  return frames;
}

describe('dubbo', () => {
  const attachments = {
    path: 'org.apache.dubbo.demo.UserService',
    interface: 'org.apache.dubbo.demo.UserService',
    version: '1.0.0',
    timeout: '2500',
    tenant: 'blue',
  };
  const body = requestBody(attachments);
  const request = Buffer.concat([header(0xc2, 0, 123456789012n, body.length), body]);

  it('decodes a real Hessian 2 request: service, version, method, attachments, timeout; zero-copy body', () => {
    for (const chunk of [1, 7, 16, 100, request.length]) {
      const [frame] = decodeAll(request, chunk);
      if (!frame) throw new Error('no frame');
      expect(frame.kind).toBe('request');
      expect(frame.requestId).toBe(123456789012);
      expect(frame.serialization).toBe(2);
      expect(frame.dubboVersion).toBe('2.0.2');
      expect(frame.service).toBe('org.apache.dubbo.demo.UserService');
      expect(frame.version).toBe('1.0.0');
      expect(frame.method).toBe('findUser');
      expect(Object.fromEntries(frame.headers)).toEqual(attachments);
      expect(frame.timeout).toBe(2500);
      expect(frame.body).toEqual(body);
    }
    const [whole] = decodeAll(request);
    expect(whole?.body.buffer).toBe(request.buffer); // a view of the received chunk
  });

  it('re-encodes a frame byte for byte, and patches the request id in place', () => {
    const [frame] = decodeAll(Buffer.from(request)); // a copy: the patch below writes into it
    if (!frame) throw new Error('no frame');
    const codec = dubbo.createCodec();
    expect(Buffer.concat(codec.encode(frame))).toEqual(request);
    const out = codec.withRequestId(frame, 2 ** 53 - 1);
    expect(out).toEqual([frame.raw]);
    expect(decodeAll(out[0] as Buffer)[0]?.requestId).toBe(2 ** 53 - 1);
    expect((out[0] as Buffer).readBigUInt64BE(4)).toBe(2n ** 53n - 1n);
  });

  it('oneway requests, responses, heartbeats and their replies', () => {
    const responseBody = new hessian.EncoderV2().write(1).write('hi').get(); // RESPONSE_VALUE, then the value
    const stream = Buffer.concat([
      header(0x82, 0, 1n, body.length), // request, not two-way
      body,
      header(0x02, 20, 2n, responseBody.length),
      responseBody,
      header(0xe2, 0, 3n, 1), // request, two-way, event: a heartbeat with a null body
      Buffer.from('N'),
      header(0x22, 20, 3n, 1),
      Buffer.from('N'),
    ]);
    const frames = decodeAll(stream, 5);
    expect(frames.map((f) => [f.kind, f.requestId, f.status])).toEqual([
      ['oneway', 1, 0],
      ['response', 2, 20],
      ['heartbeat', 3, 0],
      ['heartbeat-reply', 3, 20],
    ]);
    const heartbeat = frames[2] as DubboFrame;
    expect(dubbo.isHeartbeat(heartbeat)).toBe(true);
    const reply = Buffer.concat(dubbo.createCodec().encode(dubbo.heartbeatReply(heartbeat)));
    expect(reply).toEqual(Buffer.concat([header(0x22, 20, 3n, 1), Buffer.from('N')]));
  });

  it('builds the heartbeat request a Dubbo client sends: a two-way event with a null body', () => {
    const heartbeat = dubbo.heartbeat?.(9);
    expect(heartbeat).toBeDefined();
    const bytes = Buffer.concat(dubbo.createCodec().encode(heartbeat as DubboFrame));
    expect(bytes).toEqual(Buffer.concat([header(0xe2, 0, 9n, 1), Buffer.from('N')]));
    const [decoded] = decodeAll(bytes);
    expect([decoded?.kind, decoded?.requestId, dubbo.isHeartbeat(decoded as DubboFrame)]).toEqual([
      'heartbeat',
      9,
      true,
    ]);
  });

  it('error replies carry the status and a Hessian 2 message', () => {
    const [frame] = decodeAll(request);
    if (!frame) throw new Error('no frame');
    const reply = dubbo.errorReply(frame, 'not-found', 'no provider for org.apache.dubbo.demo.UserService');
    const bytes = Buffer.concat(dubbo.createCodec().encode(reply));
    expect(bytes[2]).toBe(0x02);
    expect(bytes[3]).toBe(DubboStatus.SERVICE_NOT_FOUND);
    expect(bytes.readBigUInt64BE(4)).toBe(123456789012n);
    expect(hessian.decode(bytes.subarray(16), '2.0')).toBe(
      'no provider for org.apache.dubbo.demo.UserService',
    );
    expect(dubbo.errorReply(frame, 'rate-limited').status).toBe(
      DubboStatus.SERVER_THREADPOOL_EXHAUSTED_ERROR,
    );
  });

  it('passes other serializations through without reading the body', () => {
    const json = Buffer.from('"2.0.2"\n"svc"\n');
    const [frame] = decodeAll(Buffer.concat([header(0xc6, 0, 9n, json.length), json]));
    expect([frame?.kind, frame?.serialization, frame?.service, frame?.body.toString()]).toEqual([
      'request',
      6,
      '',
      json.toString(),
    ]);
  });

  it('rejects bad magic, negative lengths, oversize frames and unreadable bodies, with offsets', () => {
    const check = (
      bytes: Buffer,
      type: new (...args: never[]) => Error,
      offset: number,
      max?: number,
    ): void => {
      const queue = new ByteQueue();
      queue.push(bytes);
      const codec = dubbo.createCodec(max === undefined ? undefined : { maxFrameSize: max });
      let caught: unknown = null;
      try {
        codec.decode(queue);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(type);
      expect((caught as { offset: number }).offset).toBe(offset);
    };
    check(Buffer.from([0xda, 0xbc]), MalformedFrameError, 1);
    check(Buffer.from([0xca]), MalformedFrameError, 0);
    check(header(0xc2, 0, 1n, 0xffffffff), MalformedFrameError, 12);
    check(header(0xc2, 0, 1n, 1 << 20), FrameTooLargeError, 0, 1024);
    check(Buffer.concat([header(0xc2, 0, 1n, 3), Buffer.from([0x4f, 0xff, 0xff])]), MalformedFrameError, 16);
    check(header(0xc2, 0, 2n ** 60n, 0), MalformedFrameError, 4);
  });

  it('builds and encodes frames in code', () => {
    const frame = new DubboFrame({ kind: 'oneway', requestId: 5, body });
    const [decoded] = decodeAll(Buffer.concat(dubbo.createCodec().encode(frame)));
    expect([decoded?.kind, decoded?.method]).toEqual(['oneway', 'findUser']);
  });
});
