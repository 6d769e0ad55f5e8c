// Frame extraction from a TCP-like byte stream: length-prefixed frames (u32 BE length + payload)
// arriving in chunks that ignore frame boundaries. ByteQueue reads the header across chunks and
// takes each frame (zero-copy when it lies in one chunk) against the common Node idiom of
// `Buffer.concat`-ing what is pending with each new chunk.
import { ByteQueue } from '@meshlet/buffer';
import { bytes, consume, fmt, measure, table } from '../../../bench/harness.ts';

function makeStream(frameSizes: readonly number[], chunkSize: number): Buffer[] {
  const total = frameSizes.reduce((sum, n) => sum + 4 + n, 0);
  const stream = Buffer.allocUnsafe(total);
  let at = 0;
  for (const n of frameSizes) {
    stream.writeUInt32BE(n, at);
    stream.fill(n & 0xff, at + 4, at + 4 + n);
    at += 4 + n;
  }
  const chunks: Buffer[] = [];
  for (let i = 0; i < total; i += chunkSize) chunks.push(stream.subarray(i, Math.min(total, i + chunkSize)));
  return chunks;
}

function withByteQueue(chunks: readonly Buffer[]): number {
  const queue = new ByteQueue();
  let frames = 0;
  for (const chunk of chunks) {
    queue.push(chunk);
    while (queue.length >= 4) {
      const size = queue.readUInt32BE(0);
      if (queue.length < 4 + size) break;
      queue.skip(4);
      consume(queue.take(size));
      frames++;
    }
  }
  return frames;
}

function withConcat(chunks: readonly Buffer[]): number {
  let pending: Buffer = Buffer.alloc(0);
  let frames = 0;
  for (const chunk of chunks) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 4) {
      const size = pending.readUInt32BE(0);
      if (pending.length < 4 + size) break;
      consume(pending.subarray(4, 4 + size));
      pending = pending.subarray(4 + size);
      frames++;
    }
  }
  return frames;
}

const cases = [
  { frames: 'small (64-512 B)', sizes: [64, 200, 512, 100, 333], chunk: 1460 },
  { frames: 'small (64-512 B)', sizes: [64, 200, 512, 100, 333], chunk: 16384 },
  { frames: 'medium (1-8 KiB)', sizes: [1024, 4000, 8192, 2500], chunk: 16384 },
  { frames: 'large (64-256 KiB)', sizes: [65536, 200000, 262144], chunk: 65536 },
];

const rows = [];
for (const c of cases) {
  const sizes = Array.from({ length: 200 }, (_, i) => c.sizes[i % c.sizes.length] ?? 0);
  const chunks = makeStream(sizes, c.chunk);
  const streamBytes = chunks.reduce((sum, b) => sum + b.length, 0);
  if (withByteQueue(chunks) !== sizes.length || withConcat(chunks) !== sizes.length) {
    throw new Error('a decoder lost frames');
  }
  const [queue, concat] = await measure([
    { name: 'ByteQueue', fn: () => withByteQueue(chunks) },
    { name: 'Buffer.concat', fn: () => withConcat(chunks) },
  ]);
  if (!queue || !concat) throw new Error('missing result');
  const mbps = (hz: number): string => `${fmt((hz * streamBytes) / (1 << 20), 0)} MiB/s`;
  rows.push({
    frames: c.frames,
    chunk: bytes(c.chunk),
    ByteQueue: mbps(queue.hz),
    'Buffer.concat': mbps(concat.hz),
    'ByteQueue vs concat': `${(queue.hz / concat.hz).toFixed(2)}×`,
  });
}
table('Frame extraction, 200 frames per run (higher is better)', rows);
