// Decode and encode throughput of each codec, for small (~200 B) and large (64 KiB) bodies, heap
// bytes allocated per frame, and sofa-bolt-node decoding the same Bolt frames.
//
// Decoding runs over a stream of frames pushed into a ByteQueue in 64 KiB chunks (what a socket
// read hands over), so frames that straddle two chunks are included, as on a real connection.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { ByteQueue } from '@meshlet/buffer';
import {
  bolt,
  BoltFrame,
  dubbo,
  DubboFrame,
  encodeGrpcMessage,
  GrpcMessageDecoder,
  loadProtoFiles,
  type Codec,
  type RpcFrame,
} from '@meshlet/codec';
import { bytes, consume, fmt, measure, quick, rate, smoke, table } from '../../../bench/harness.ts';

const require = createRequire(import.meta.url);
interface SofaWire {
  requestEncode(id: number, req: object, options: object): Buffer;
}
const sofaWire = require('sofa-bolt-node/lib/protocol') as SofaWire;
const sofaBolt = require('sofa-bolt-node') as {
  decoder(options: object): NodeJS.WritableStream & NodeJS.EventEmitter;
};
interface Encoder {
  write(value: unknown): Encoder;
  get(): Buffer;
}
const hessian = require('hessian.js') as { EncoderV2: new () => Encoder };
const root = loadProtoFiles(fileURLToPath(new URL('../test/fixtures/echo.proto', import.meta.url)));

const SMALL = 200;
const LARGE = 64 * 1024;
const CHUNK = 64 * 1024;

/** `frames` concatenated and re-cut into socket-sized chunks, or one chunk per frame. */
function chunked(frames: readonly Buffer[], oneChunkPerFrame: boolean): Buffer[] {
  if (oneChunkPerFrame) return [...frames];
  const stream = Buffer.concat(frames);
  const out: Buffer[] = [];
  for (let at = 0; at < stream.length; at += CHUNK) out.push(stream.subarray(at, at + CHUNK));
  return out;
}

function decodeStream<F extends RpcFrame>(
  codec: Codec<F>,
  queue: ByteQueue,
  chunks: readonly Buffer[],
  /** 0: framing only; 1: read service and method; 2: also the whole header map. */
  read: 0 | 1 | 2,
): number {
  let n = 0;
  for (const chunk of chunks) {
    queue.push(chunk);
    for (let f = codec.decode(queue); f !== null; f = codec.decode(queue)) {
      if (read === 0) consume(f);
      else consume(f.service.length + f.method.length + (read === 2 ? f.headers.size : 0));
      n++;
    }
  }
  return n;
}

/**
 * Heap bytes allocated per call of `fn`: the growth of the used heap over `calls` calls after a
 * full collection. A collection during the run would make the growth meaningless; it shows as
 * the used heap shrinking between two calls, and the run is retried with fewer calls.
 */
function heapPerCall(fn: () => void, calls: number): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return Number.NaN;
  for (let i = 0; i < 50; i++) fn(); // warm up the JIT first
  for (let n = calls; n >= 1; n = Math.floor(n / 2)) {
    gc();
    const before = getHeapStatistics().used_heap_size;
    let last = before;
    let collected = false;
    for (let i = 0; i < n && !collected; i++) {
      fn();
      const now = getHeapStatistics().used_heap_size;
      collected = now < last;
      last = now;
    }
    if (!collected) return (last - before) / n - probeCost;
  }
  return Number.NaN;
}

// What one getHeapStatistics() call itself allocates, subtracted from every measurement.
let probeCost = 0;
probeCost = heapPerCall(() => undefined, 1000);

// ---- the frames ----------------------------------------------------------------------------

// Bolt: SOFARPC protobuf requests as sofa-bolt-node encodes them (service, method, app and a
// trace id in the header map), with a protobuf body of the given size.
function boltFrames(bodySize: number, count: number): Buffer[] {
  const name = 'x'.repeat(bodySize - 6);
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    frames.push(
      Buffer.from(
        sofaWire.requestEncode(
          i + 1,
          {
            args: [{ name, group: 1 }],
            serverSignature: 'meshlet.test.EchoService:1.0',
            methodName: 'echo',
            targetAppName: 'bench',
            requestProps: { rpc_trace_context: { sofaTraceId: '0a0fe8ee1528180000000100000001' } },
            timeout: 3000,
          },
          { protocolType: 'bolt', codecType: 'protobuf', proto: root },
        ),
      ),
    );
  }
  return frames;
}

// Dubbo: Hessian 2 requests as a Dubbo client writes them, one string argument of the body size.
function dubboFrames(bodySize: number, count: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const body = new hessian.EncoderV2()
      .write('2.0.2')
      .write('org.apache.dubbo.demo.UserService')
      .write('1.0.0')
      .write('findUser')
      .write('Ljava/lang/String;')
      .write('x'.repeat(bodySize))
      .write({ path: 'org.apache.dubbo.demo.UserService', version: '1.0.0', timeout: '3000' })
      .get();
    const head = Buffer.alloc(16);
    head.writeUInt16BE(0xdabb, 0);
    head[2] = 0xc2;
    head.writeUInt32BE(i + 1, 8);
    head.writeUInt32BE(body.length, 12);
    frames.push(Buffer.concat([head, body]));
  }
  return frames;
}

// ---- the runs ------------------------------------------------------------------------------

const framesPerRun = { small: smoke ? 20 : 200, large: smoke ? 4 : 32 };
const decodeRows = [];
const allocRows = [];
const encodeRows = [];

interface Subject {
  readonly codec: string;
  readonly size: 'small' | 'large';
  readonly frames: Buffer[];
  readonly protocol: typeof bolt | typeof dubbo | null;
  /** Each frame arrives in a chunk of its own (so its body is never copied). */
  readonly oneChunkPerFrame?: boolean;
}

const subjects: Subject[] = [];
for (const size of ['small', 'large'] as const) {
  const bodySize = size === 'small' ? SMALL : LARGE;
  const count = framesPerRun[size];
  subjects.push({ codec: 'bolt', size, frames: boltFrames(bodySize, count), protocol: bolt });
  subjects.push({ codec: 'dubbo', size, frames: dubboFrames(bodySize, count), protocol: dubbo });
  const grpcMessages = Array.from({ length: count }, () =>
    Buffer.concat(encodeGrpcMessage(Buffer.alloc(bodySize, 1))),
  );
  subjects.push({ codec: 'grpc', size, frames: grpcMessages, protocol: null });
}
// Large frames again, each in one chunk of its own: the zero-copy case.
subjects.push({
  codec: 'bolt',
  size: 'large',
  frames: boltFrames(LARGE, framesPerRun.large),
  protocol: bolt,
  oneChunkPerFrame: true,
});
const largeGrpc = subjects.find((x) => x.codec === 'grpc' && x.size === 'large');
subjects.push({
  codec: 'grpc',
  size: 'large',
  frames: largeGrpc?.frames ?? [],
  protocol: null,
  oneChunkPerFrame: true,
});

for (const s of subjects) {
  const chunks = chunked(s.frames, s.oneChunkPerFrame === true);
  const streamBytes = s.frames.reduce((sum, f) => sum + f.length, 0);
  const count = s.frames.length;
  const queue = new ByteQueue();
  const tasks = [];
  if (s.protocol) {
    const codec = s.protocol.createCodec({ maxFrameSize: 1 << 20 }) as Codec;
    if (decodeStream(codec, queue, chunks, 2) !== count) throw new Error(`${s.codec}: lost frames`);
    tasks.push({ name: 'framing', fn: () => decodeStream(codec, queue, chunks, 0) });
    tasks.push({ name: 'routing', fn: () => decodeStream(codec, queue, chunks, 1) });
    tasks.push({ name: 'headers', fn: () => decodeStream(codec, queue, chunks, 2) });
  } else {
    const decoder = new GrpcMessageDecoder({ maxMessageSize: 1 << 20 });
    const run = (): number => {
      let n = 0;
      for (const chunk of chunks) {
        queue.push(chunk);
        for (let m = decoder.decode(queue); m !== null; m = decoder.decode(queue)) {
          consume(m);
          n++;
        }
      }
      return n;
    };
    if (run() !== count) throw new Error('grpc: lost messages');
    tasks.push({ name: 'framing', fn: run });
  }
  if (s.codec === 'bolt') {
    // sofa-bolt-node's own stream decoder fed the same 64 KiB chunks (it cuts frames, then
    // deserializes the header map and the protobuf body of each: what it gives its users).
    const decoder = sofaBolt.decoder({ sentReqs: new Map(), proto: root });
    let seen = 0;
    decoder.on('request', () => {
      seen++;
    });
    const feed = (): void => {
      for (const chunk of chunks) decoder.write(chunk);
    };
    feed();
    if (seen !== count) throw new Error(`sofa-bolt-node decoded ${seen} of ${count} frames synchronously`);
    tasks.push({ name: 'sofa-bolt-node', fn: feed });
  }
  const results = await measure(tasks, quick ? 600 : 1500);
  const [framing, routing, headers, peer] = results;
  if (!framing) throw new Error('no result');
  const row: Record<string, string> = {
    codec: s.codec,
    body: s.size === 'small' ? `${SMALL} B` : bytes(LARGE),
    frame: bytes(Math.round(streamBytes / count)),
    chunks: s.oneChunkPerFrame === true ? 'one per frame' : bytes(CHUNK),
    'decode (framing)': `${rate(framing.hz * count)} · ${fmt((framing.hz * streamBytes) / (1 << 20))} MiB/s`,
    '+ service, method': routing ? rate(routing.hz * count) : '—',
    '+ whole header map': headers ? rate(headers.hz * count) : '—',
    'sofa-bolt-node decode': '—',
    'meshlet (+ header map) vs sofa-bolt-node': '—',
  };
  if (peer && headers) {
    row['sofa-bolt-node decode'] = rate(peer.hz * count);
    row['meshlet (+ header map) vs sofa-bolt-node'] = `${(headers.hz / peer.hz).toFixed(1)}×`;
  }
  decodeRows.push(row);

  // Heap bytes per decoded frame (the frame object, its body view, parsed fields).
  const calls = smoke ? 20 : 200;
  const protocol = s.protocol;
  if (protocol) {
    const perFrame = (read: 0 | 1 | 2): string =>
      fmt(
        heapPerCall(
          () => decodeStream(protocol.createCodec({ maxFrameSize: 1 << 20 }) as Codec, queue, chunks, read),
          calls,
        ) / count,
      );
    allocRows.push({
      codec: s.codec,
      body: row.body ?? '',
      chunks: row.chunks ?? '',
      'framing only': perFrame(0),
      '+ service, method': perFrame(1),
      '+ whole header map': perFrame(2),
    });
  }
}

// Encode: frames built in code, as a proxy builds replies or re-encodes after a filter changed them.
for (const size of ['small', 'large'] as const) {
  const body = Buffer.alloc(size === 'small' ? SMALL : LARGE, 7);
  const boltFrame = new BoltFrame({
    kind: 'request',
    requestId: 1,
    timeout: 3000,
    serialization: 11,
    className: 'com.alipay.sofa.rpc.core.request.SofaRequest',
    headers: new Map([
      ['service', 'meshlet.test.EchoService:1.0'],
      ['sofa_head_method_name', 'echo'],
      ['sofa_head_target_app', 'bench'],
    ]),
    body,
  });
  const boltCrc = new BoltFrame({
    kind: 'request',
    version: 2,
    protocolVersion: 2,
    switches: 1,
    requestId: 1,
    body,
    className: 'x',
  });
  const dubboFrame = new DubboFrame({ kind: 'request', requestId: 1, body });
  const boltCodec = bolt.createCodec();
  const dubboCodec = dubbo.createCodec();
  const decodedBolt = boltCodec.decode(pushed(boltFrames(body.length, 1)));
  if (!decodedBolt) throw new Error('no frame');
  const tasks = [
    {
      name: 'bolt encode',
      fn: () => {
        consume(boltCodec.encode(boltFrame));
      },
    },
    {
      name: 'bolt v2 + CRC32 encode',
      fn: () => {
        consume(boltCodec.encode(boltCrc));
      },
    },
    {
      name: 'bolt withRequestId (forwarded frame)',
      fn: () => {
        consume(boltCodec.withRequestId(decodedBolt, 42));
      },
    },
    {
      name: 'dubbo encode',
      fn: () => {
        consume(dubboCodec.encode(dubboFrame));
      },
    },
    {
      name: 'grpc encode',
      fn: () => {
        consume(encodeGrpcMessage(body));
      },
    },
  ];
  const results = await measure(tasks, quick ? 300 : 800);
  for (const [i, r] of results.entries()) {
    const task = tasks[i];
    if (!task) continue;
    encodeRows.push({
      operation: task.name,
      body: bytes(body.length),
      'frames/s': rate(r.hz),
      'MiB/s (body)': fmt((r.hz * body.length) / (1 << 20)),
      // 100 operations per probe, so the probe's own allocation is spread thin.
      'heap B per frame': fmt(
        heapPerCall(
          () => {
            for (let k = 0; k < 100; k++) task.fn();
          },
          smoke ? 5 : 50,
        ) / 100,
      ),
    });
  }
}

function pushed(frames: readonly Buffer[]): ByteQueue {
  const queue = new ByteQueue();
  for (const f of frames) queue.push(f);
  return queue;
}

table('Decode: frames per second and MiB/s (higher is better)', decodeRows);
table('Decode: heap allocated per frame (lower is better)', allocRows);
table('Encode (higher is better)', encodeRows);
