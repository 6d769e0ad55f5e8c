// Property tests shared by every codec: what is encoded decodes to the same frame whatever the
// chunking of the stream; random and mutated bytes end in frames, "need more" or a typed error,
// never a crash, a hang or unbounded buffering.
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteQueue } from '@meshlet/buffer';
import { isMeshletError } from '@meshlet/errors';
import {
  bolt,
  BoltFrame,
  dubbo,
  DubboFrame,
  encodeGrpcMessage,
  Frame,
  GrpcMessageDecoder,
  type Codec,
  type FrameKind,
  type Protocol,
  type RpcFrame,
} from '@meshlet/codec';
import { toy } from './helpers/toy-protocol.ts';

const require = createRequire(import.meta.url);
interface Encoder {
  write(value: unknown): Encoder;
  get(): Buffer;
}
const hessian = require('hessian.js') as { EncoderV2: new () => Encoder };

const kinds: readonly FrameKind[] = ['request', 'oneway', 'response', 'heartbeat', 'heartbeat-reply'];
const isResponse = (kind: FrameKind): boolean => kind === 'response' || kind === 'heartbeat-reply';

/** Splits `bytes` at the given cut points (sorted, deduplicated, within range). */
function cut(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

function decodeChunks<F extends RpcFrame>(codec: Codec<F>, chunks: readonly Buffer[]): F[] {
  const queue = new ByteQueue();
  const frames: F[] = [];
  for (const chunk of chunks) {
    queue.push(chunk);
    for (let f = codec.decode(queue); f; f = codec.decode(queue)) frames.push(f);
  }
  expect(queue.length).toBe(0);
  return frames;
}

const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const ascii = fc.string({ unit: 'grapheme-ascii', maxLength: 40 });
const body = fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b));
const routingKey = fc.constantFrom('service', 'sofa_head_target_service', 'sofa_head_method_name');
const headers = fc
  .array(fc.tuple(fc.oneof(text, routingKey), text), { maxLength: 6 })
  .map((entries) => new Map(entries));
const cuts = fc.array(fc.nat(), { maxLength: 8 });

const boltFrame = fc
  .record({
    kind: fc.constantFrom(...kinds),
    requestId: fc.nat({ max: 0xffffffff }),
    version: fc.constantFrom(1 as const, 2 as const),
    protocolVersion: fc.constantFrom(1, 2),
    switches: fc.constantFrom(0, 1),
    serialization: fc.constantFrom(1, 11),
    timeout: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    status: fc.nat({ max: 0xffff }),
    className: ascii,
    headers,
    body,
  })
  .map(
    (init) =>
      new BoltFrame({
        ...init,
        // v1 frames have neither a protocol version byte nor switches.
        protocolVersion: init.version === 1 ? 1 : init.protocolVersion,
        switches: init.version === 1 ? 0 : init.switches,
      }),
  );

function boltView(f: BoltFrame): unknown {
  return {
    // Read first: from the received bytes for a decoded frame, from the Map for a built one.
    service: f.service,
    method: f.method,
    kind: f.kind,
    requestId: f.requestId,
    version: f.version,
    protocolVersion: f.protocolVersion,
    switches: f.switches,
    crc: f.crc,
    serialization: f.serialization,
    timeout: isResponse(f.kind) ? 0 : f.timeout,
    status: isResponse(f.kind) ? f.status : 0,
    className: f.className,
    headers: [...f.headers],
    body: f.body.toString('hex'),
  };
}

function dubboRequestBody(service: string, method: string, attachments: Map<string, string>): Buffer {
  const encoder = new hessian.EncoderV2();
  encoder
    .write('2.0.2')
    .write(service)
    .write('1.0')
    .write(method)
    .write('Ljava/lang/String;I')
    .write('arg')
    .write(3);
  encoder.write(Object.fromEntries(attachments));
  return encoder.get();
}

const dubboFrame = fc
  .record({
    kind: fc.constantFrom(...kinds),
    requestId: fc.maxSafeNat(),
    serialization: fc.constantFrom(2, 3, 6),
    status: fc.nat({ max: 255 }),
    service: text,
    method: text.filter((m) => m !== ''),
    headers: fc.array(fc.tuple(text, text), { maxLength: 4 }).map((e) => new Map(e)),
    body,
  })
  .map((r) => {
    const heartbeat = r.kind === 'heartbeat' || r.kind === 'heartbeat-reply';
    const readsBody = (r.kind === 'request' || r.kind === 'oneway') && r.serialization === 2;
    return new DubboFrame({
      kind: r.kind,
      requestId: r.requestId,
      serialization: r.serialization,
      status: isResponse(r.kind) ? r.status : 0,
      body: heartbeat
        ? Buffer.from('N')
        : readsBody
          ? dubboRequestBody(r.service, r.method, r.headers)
          : r.body,
      service: readsBody ? r.service : '',
      method: readsBody ? r.method : '',
      headers: readsBody ? r.headers : new Map<string, string>(),
    });
  });

function dubboView(f: DubboFrame): unknown {
  return {
    kind: f.kind,
    requestId: f.requestId,
    serialization: f.serialization,
    status: f.status,
    service: f.service,
    method: f.method,
    headers: [...f.headers].sort(),
    body: f.body.toString('hex'),
  };
}

const toyFrame = fc
  .record({
    kind: fc.constantFrom<FrameKind>('request', 'response', 'heartbeat', 'heartbeat-reply'),
    requestId: fc.nat({ max: 0xffffffff }),
    service: text,
    method: text,
    body,
  })
  .map((r) => new Frame({ protocol: 'toy', ...r }));

function toyView(f: Frame): unknown {
  return [f.kind, f.requestId, f.service, f.method, f.body.toString('hex')];
}

interface Case<F extends RpcFrame> {
  readonly protocol: Protocol<F>;
  readonly frame: fc.Arbitrary<F>;
  readonly view: (frame: F) => unknown;
}

/** Feeds `chunks` to a codec until it throws or runs dry; checks it only ever throws typed errors. */
function survives(codec: Codec, chunks: readonly Buffer[], maxFrameSize: number): void {
  const queue = new ByteQueue();
  let total = 0;
  try {
    for (const chunk of chunks) {
      queue.push(chunk);
      total += chunk.length;
      for (let f = codec.decode(queue); f; f = codec.decode(queue)) {
        // The lazily decoded parts of a frame must not throw either.
        expect(typeof f.headers.size + typeof f.service + typeof f.method).toBe('numberstringstring');
      }
      // Nothing is held beyond one frame's worth of bytes plus the chunk that brought it.
      expect(queue.length).toBeLessThanOrEqual(Math.max(maxFrameSize, 0) + chunk.length);
    }
  } catch (err) {
    if (!isMeshletError(err)) throw err;
    expect(err.code).toMatch(/^MESHLET_ERR_CODEC_/);
    const offset = (err as { offset?: unknown }).offset;
    expect(typeof offset).toBe('number');
    expect(offset as number).toBeLessThanOrEqual(total);
  }
}

function codecProperties<F extends RpcFrame>({ protocol, frame, view }: Case<F>): void {
  describe(protocol.name, () => {
    it('decodes what it encodes, whatever the chunking', () => {
      fc.assert(
        fc.property(fc.array(frame, { minLength: 1, maxLength: 6 }), cuts, (frames, points) => {
          const codec = protocol.createCodec();
          const stream = Buffer.concat(frames.flatMap((f) => codec.encode(f)));
          const decoded = decodeChunks(protocol.createCodec(), cut(stream, points));
          expect(decoded.map(view)).toEqual(frames.map(view));
          // Re-encoding a decoded frame gives the same bytes.
          expect(Buffer.concat(decoded.flatMap((f) => codec.encode(f)))).toEqual(stream);
        }),
        { numRuns: 150 },
      );
    });

    it('random bytes: frames, need-more or a typed error; nothing else', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 512 }), cuts, (bytes, points) => {
          survives(protocol.createCodec({ maxFrameSize: 4096 }), cut(Buffer.from(bytes), points), 4096);
        }),
        { numRuns: 400 },
      );
    });

    it('mutated valid streams: frames, need-more or a typed error; nothing else', () => {
      fc.assert(
        fc.property(
          fc.array(frame, { minLength: 1, maxLength: 3 }),
          fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 }),
          cuts,
          (frames, mutations, points) => {
            const stream = Buffer.concat(frames.flatMap((f) => protocol.createCodec().encode(f)));
            for (const [at, value] of mutations) stream[at % stream.length] = value;
            survives(protocol.createCodec({ maxFrameSize: 8192 }), cut(stream, points), 8192);
          },
        ),
        { numRuns: 300 },
      );
    });
  });
}

describe('every codec: property tests', () => {
  codecProperties({ protocol: bolt, frame: boltFrame, view: boltView });
  codecProperties({ protocol: dubbo, frame: dubboFrame, view: dubboView });
  codecProperties({ protocol: toy, frame: toyFrame, view: toyView });

  describe('grpc messages', () => {
    it('decodes what it encodes, whatever the chunking', () => {
      fc.assert(
        fc.property(fc.array(fc.tuple(body, fc.boolean()), { maxLength: 6 }), cuts, (messages, points) => {
          const stream = Buffer.concat(
            messages.flatMap(([data, compressed]) => encodeGrpcMessage(data, compressed)),
          );
          const decoder = new GrpcMessageDecoder();
          const queue = new ByteQueue();
          const out: [Buffer, boolean][] = [];
          for (const chunk of cut(stream, points)) {
            queue.push(chunk);
            for (let m = decoder.decode(queue); m; m = decoder.decode(queue))
              out.push([m.data, m.compressed]);
          }
          expect(out).toEqual(messages);
        }),
        { numRuns: 200 },
      );
    });

    it('random bytes: messages, need-more or a typed error', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 256 }), cuts, (bytes, points) => {
          const decoder = new GrpcMessageDecoder({ maxMessageSize: 1024 });
          const queue = new ByteQueue();
          try {
            for (const chunk of cut(Buffer.from(bytes), points)) {
              queue.push(chunk);
              while (decoder.decode(queue));
              expect(queue.length).toBeLessThanOrEqual(1024 + 5 + chunk.length);
            }
          } catch (err) {
            expect(isMeshletError(err)).toBe(true);
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});
