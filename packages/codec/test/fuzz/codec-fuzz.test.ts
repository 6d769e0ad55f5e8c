// Fuzzing every codec the way a proxy uses it. Where properties.test.ts substitutes bytes in
// valid streams, this suite edits them structurally (insertions, deletions, repeats,
// truncations, edge values written over length fields), puts hostile Hessian 2 values in Dubbo
// and Bolt bodies (deep nesting, huge declared counts, dangling references), and after each
// decoded frame does what the proxy does next: reads its routing fields, re-encodes it with a
// new request id, answers it with an error reply. Invariant: frames, "need more" or a typed
// MESHLET_ERR_CODEC_* error; never another exception, never a hang, buffering bounded.
// Long run: MESHLET_FUZZ_RUNS=20000 pnpm exec vitest run packages/codec/test/fuzz (see test/support/fuzz.ts).
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteQueue } from '@meshlet/buffer';
import { isMeshletError } from '@meshlet/errors';
import {
  bolt,
  BoltFrame,
  decompressMessage,
  dubbo,
  DubboFrame,
  encodeGrpcMessage,
  Frame,
  GrpcMessageDecoder,
  ProtobufCodec,
  protoFromJSON,
  sniff,
  type FrameKind,
  type Protocol,
  type RpcFrame,
} from '@meshlet/codec';
import { chunk, cuts, fuzzParams, fuzzTimeout, mutate, mutation } from '../../../../test/support/fuzz.ts';
import { toy } from '../helpers/toy-protocol.ts';

const require = createRequire(import.meta.url);
interface Encoder {
  write(value: unknown): Encoder;
  get(): Buffer;
}
const hessian = require('hessian.js') as { EncoderV2: new () => Encoder };

/** Slowest input allowed, in ms: generous (2 shared cores), yet far below what a hang looks like. */
const SLOW_MS = 2000;

// ---- Hostile Hessian 2 values, written by hand: what hessian.js would never encode itself ----

const hx = {
  /** A compact string (length < 32). */
  str: (s: string): Buffer => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]),
  /** A 32-bit int ('I'). */
  int: (n: number): Buffer => {
    const b = Buffer.alloc(5);
    b[0] = 0x49;
    b.writeInt32BE(n | 0, 1);
    return b;
  },
};

/** Hessian values that are cheap to write and expensive or impossible to read. */
const hostileHessian: fc.Arbitrary<Buffer> = fc.oneof(
  // Lists nested `depth` deep (0x79: an untyped fixed list of one element).
  fc
    .integer({ min: 1, max: 50_000 })
    .map((depth) => Buffer.concat([Buffer.alloc(depth, 0x79), Buffer.from('N')])),
  // Maps nested deep ('H' key value ... 'Z').
  fc
    .integer({ min: 1, max: 20_000 })
    .map((depth) =>
      Buffer.concat([Buffer.alloc(depth * 2).fill(Buffer.from([0x48, 0x91])), Buffer.alloc(depth, 0x5a)]),
    ),
  // A fixed list (0x58) or an object definition claiming a huge count, then little or nothing.
  fc
    .tuple(fc.constantFrom(0x58, 0x43), fc.nat({ max: 0x7fffffff }))
    .map(([code, n]) =>
      Buffer.concat([
        Buffer.from([code]),
        code === 0x43 ? hx.str('C') : Buffer.alloc(0),
        hx.int(n),
        Buffer.from('N'),
      ]),
    ),
  // References (0x51) to values never read, objects of undefined classes (0x60, 'O').
  fc
    .tuple(fc.constantFrom(0x51, 0x4f, 0x60), fc.nat({ max: 0x7fffffff }))
    .map(([code, n]) => Buffer.concat([Buffer.from([code]), hx.int(n)])),
  // A long string ('S') and binary ('B') chunk whose declared length exceeds what follows.
  fc
    .tuple(fc.constantFrom(0x53, 0x42, 0x52, 0x41), fc.nat({ max: 0xffff }))
    .map(([code, n]) => Buffer.from([code, n >> 8, n & 0xff, 0x61, 0x62])),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
);

/** A Dubbo request body: the invocation strings, then `args` and `attachments` as given bytes. */
function dubboBody(service: string, method: string, desc: string, tail: Buffer): Buffer {
  return Buffer.concat([hx.str('2.0.2'), hx.str(service), hx.str('1.0'), hx.str(method), hx.str(desc), tail]);
}

const ascii = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz.:_-'.split('')),
  maxLength: 20,
});
const kinds: readonly FrameKind[] = ['request', 'oneway', 'response', 'heartbeat', 'heartbeat-reply'];

const boltSeed: fc.Arbitrary<Buffer> = fc
  .record({
    kind: fc.constantFrom(...kinds),
    requestId: fc.nat({ max: 0xffffffff }),
    version: fc.constantFrom(1 as const, 2 as const),
    crc: fc.boolean(),
    service: ascii,
    method: ascii,
    sofaBody: fc.boolean(),
    hostile: hostileHessian,
  })
  .map((r) => {
    const request = r.kind === 'request' || r.kind === 'oneway';
    const headers = new Map<string, string>([['service', r.service]]);
    if (!r.sofaBody) headers.set('sofa_head_method_name', r.method);
    // A SofaRequest body makes the codec read the method with hessian.js; a hostile one, with
    // no method header, makes it read hostile bytes.
    const body = r.sofaBody
      ? new hessian.EncoderV2()
          .write({
            $class: 'com.alipay.sofa.rpc.core.request.SofaRequest',
            $: { targetServiceUniqueName: r.service, methodName: r.method },
          })
          .get()
      : r.hostile;
    const frame = new BoltFrame({
      kind: r.kind,
      requestId: r.requestId,
      version: r.version,
      protocolVersion: r.version === 2 ? 2 : 1,
      switches: r.version === 2 && r.crc ? 1 : 0,
      className: request ? 'com.alipay.sofa.rpc.core.request.SofaRequest' : '',
      headers: request ? headers : new Map<string, string>(),
      body: request ? (r.sofaBody ? body : Buffer.concat([body])) : Buffer.alloc(0),
    });
    return Buffer.concat(bolt.createCodec().encode(frame));
  });

const dubboSeed: fc.Arbitrary<Buffer> = fc
  .record({
    kind: fc.constantFrom(...kinds),
    requestId: fc.maxSafeNat(),
    service: ascii,
    method: ascii.filter((m) => m !== ''),
    desc: fc.constantFrom('', 'Ljava/lang/String;', 'I[Ljava/lang/String;', 'Ljava/util/Map;J', '[[I'),
    tail: fc.oneof(
      hostileHessian,
      fc.constant(
        Buffer.concat([hx.str('arg'), Buffer.from('H'), hx.str('timeout'), hx.str('5'), Buffer.from('Z')]),
      ),
    ),
  })
  .map((r) => {
    const request = r.kind === 'request' || r.kind === 'oneway';
    const heartbeat = r.kind === 'heartbeat' || r.kind === 'heartbeat-reply';
    const frame = new DubboFrame({
      kind: r.kind,
      requestId: r.requestId,
      body: heartbeat ? Buffer.from('N') : request ? dubboBody(r.service, r.method, r.desc, r.tail) : r.tail,
      service: request ? r.service : '',
      method: request ? r.method : '',
    });
    return Buffer.concat(dubbo.createCodec().encode(frame));
  });

const toySeed: fc.Arbitrary<Buffer> = fc
  .record({
    kind: fc.constantFrom<FrameKind>('request', 'response', 'heartbeat', 'heartbeat-reply'),
    requestId: fc.nat({ max: 0xffffffff }),
    service: ascii,
    method: ascii,
    body: fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
  })
  .map((r) => Buffer.concat(toy.createCodec().encode(new Frame({ protocol: 'toy', ...r }))));

/** What the RPC proxy does with a decoded frame: route it, forward it, or answer it. */
function handleLikeAProxy(
  protocol: Protocol,
  frame: RpcFrame,
  codec: ReturnType<Protocol['createCodec']>,
): void {
  expect(typeof frame.service).toBe('string');
  expect(typeof frame.method).toBe('string');
  expect(frame.headers).toBeInstanceOf(Map);
  expect(Number.isFinite(frame.timeout)).toBe(true);
  if (protocol.isHeartbeat(frame)) {
    codec.encode(protocol.heartbeatReply(frame));
    return;
  }
  if (frame.kind === 'request' || frame.kind === 'oneway') {
    const forwarded = Buffer.concat(codec.withRequestId(frame, 7));
    expect(forwarded.length).toBeGreaterThan(0);
    codec.encode(protocol.errorReply(frame, 'unavailable', 'no healthy upstream'));
  }
}

/** Decodes `chunks` as a proxy's connection would; only typed codec errors may come out. */
function fuzzStream(protocol: Protocol, chunks: readonly Buffer[], maxFrameSize: number): string {
  const codec = protocol.createCodec({ maxFrameSize });
  const queue = new ByteQueue();
  const started = performance.now();
  let outcome = 'need-more';
  try {
    for (const c of chunks) {
      queue.push(c);
      for (let f = codec.decode(queue); f; f = codec.decode(queue)) {
        handleLikeAProxy(protocol, f, codec);
        outcome = 'frames';
      }
      expect(queue.length).toBeLessThanOrEqual(maxFrameSize + c.length);
    }
  } catch (err) {
    if (!isMeshletError(err) || !err.code.startsWith('MESHLET_ERR_CODEC_')) throw err;
    outcome = err.code;
  }
  expect(performance.now() - started).toBeLessThan(SLOW_MS);
  return outcome;
}

const cases: readonly [Protocol, fc.Arbitrary<Buffer>][] = [
  [bolt, boltSeed],
  [dubbo, dubboSeed],
  [toy, toySeed],
];

describe('fuzz: RPC codecs (structural mutations, hostile Hessian, proxy handling)', () => {
  for (const [protocol, seed] of cases) {
    it(
      `${protocol.name}: mutated streams end in frames, need-more or a typed error`,
      () => {
        const seen = new Set<string>();
        fc.assert(
          fc.property(
            fc.array(seed, { minLength: 1, maxLength: 3 }),
            fc.array(mutation, { maxLength: 4 }),
            cuts,
            (frames, edits, points) => {
              const stream = mutate(Buffer.concat(frames), edits);
              seen.add(fuzzStream(protocol, chunk(stream, points), 1 << 20));
            },
          ),
          fuzzParams(250),
        );
        // The generator reaches the interesting outcomes, not only one of them.
        expect(seen.has('frames')).toBe(true);
        expect([...seen].some((s) => s.startsWith('MESHLET_ERR_CODEC_'))).toBe(true);
      },
      fuzzTimeout(20_000),
    );
  }

  it(
    'sniffing: never throws, and a verdict on a prefix holds for every longer input',
    () => {
      const anySeed = fc.oneof(
        boltSeed,
        dubboSeed,
        toySeed,
        fc.constant(Buffer.from('GET / HTTP/1.1\r\n\r\n')),
      );
      fc.assert(
        fc.property(anySeed, fc.array(mutation, { maxLength: 2 }), (s, edits) => {
          const bytes = mutate(s, edits);
          const protocols = [bolt, dubbo, toy];
          let verdict: string | undefined;
          for (let n = 0; n <= Math.min(bytes.length, 80); n++) {
            const r = sniff(bytes.subarray(0, n), protocols);
            const name = r.outcome === 'protocol' ? r.protocol.name : r.outcome;
            if (verdict !== undefined) expect(name).toBe(verdict);
            else if (name !== 'need-more') verdict = name;
          }
        }),
        fuzzParams(300),
      );
    },
    fuzzTimeout(20_000),
  );
});

describe('fuzz: gRPC framing, compression, protobuf', () => {
  const root = protoFromJSON({
    nested: {
      fz: {
        nested: {
          Node: {
            fields: {
              child: { type: 'Node', id: 1 },
              names: { type: 'string', id: 2, rule: 'repeated' },
              count: { type: 'int64', id: 3 },
              data: { type: 'bytes', id: 4 },
              kids: { keyType: 'string', type: 'Node', id: 5 },
              ratio: { type: 'double', id: 6 },
            },
          },
        },
      },
    },
  });
  const codec = new ProtobufCodec(root, 'fz.Node');
  interface TreeNode {
    child?: TreeNode | undefined;
    names?: string[];
    count?: number;
    data?: Uint8Array;
  }
  const node: fc.Arbitrary<TreeNode> = fc.letrec<{ node: TreeNode }>((tie) => ({
    node: fc.record(
      {
        child: fc.option(tie('node'), { nil: undefined, depthSize: 'small' }),
        names: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
        count: fc.integer(),
        data: fc.uint8Array({ maxLength: 16 }),
      },
      { requiredKeys: [] },
    ),
  })).node;

  it(
    'gRPC messages: mutated frames, then protobuf decoding of each message, only typed errors',
    () => {
      fc.assert(
        fc.property(
          fc.array(node, { minLength: 1, maxLength: 3 }),
          fc.array(mutation, { maxLength: 4 }),
          cuts,
          (messages, edits, points) => {
            const stream = mutate(
              Buffer.concat(
                messages.flatMap((m) => encodeGrpcMessage(codec.encode(m as Record<string, unknown>), false)),
              ),
              edits,
            );
            const decoder = new GrpcMessageDecoder({ maxMessageSize: 64 * 1024 });
            const queue = new ByteQueue();
            try {
              for (const c of chunk(stream, points)) {
                queue.push(c);
                for (let m = decoder.decode(queue); m; m = decoder.decode(queue)) {
                  try {
                    codec.decode(m.data);
                  } catch (err) {
                    expect((err as { code?: unknown }).code).toBe('MESHLET_ERR_CODEC_MALFORMED_MESSAGE');
                  }
                }
                expect(queue.length).toBeLessThanOrEqual(64 * 1024 + 5 + c.length);
              }
            } catch (err) {
              if (!isMeshletError(err)) throw err;
              expect(err.code).toMatch(/^MESHLET_ERR_CODEC_/);
            }
          },
        ),
        fuzzParams(300),
      );
    },
    fuzzTimeout(20_000),
  );

  it(
    'compressed messages: mutated gzip/deflate and bombs end in a typed error, output bounded',
    async () => {
      const limit = 64 * 1024;
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('gzip', 'deflate'),
          fc.oneof(
            fc.uint8Array({ maxLength: 2048 }),
            // A bomb: a megabyte of one byte value compresses to about a kilobyte.
            fc.integer({ min: 1, max: 4 }).map((mib) => new Uint8Array(mib << 20).fill(7)),
          ),
          fc.array(mutation, { maxLength: 3 }),
          async (encoding, data, edits) => {
            const packed = encoding === 'gzip' ? zlib.gzipSync(data) : zlib.deflateSync(data);
            const input = mutate(packed, edits);
            try {
              const out = await decompressMessage(input, encoding, limit);
              expect(out.length).toBeLessThanOrEqual(limit);
            } catch (err) {
              if (!isMeshletError(err)) throw err;
              expect(['MESHLET_ERR_CODEC_MALFORMED_MESSAGE', 'MESHLET_ERR_CODEC_FRAME_TOO_LARGE']).toContain(
                err.code,
              );
            }
          },
        ),
        fuzzParams(100),
      );
    },
    fuzzTimeout(20_000),
  );
});
