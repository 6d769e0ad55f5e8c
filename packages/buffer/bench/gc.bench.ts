// Garbage-collector cost of a codec-like workload with and without the pool: encode frames of
// mixed sizes into fresh buffers, keep a window of them "in flight" (as a socket's write queue
// does), release the oldest. Counts GCs and GC time with the perf_hooks GC observer.
import { BufferPool } from '@meshlet/buffer';
import { bytes, fmt, gcCost, quick, smoke, table } from '../../../bench/harness.ts';

const frames = smoke ? 2_000 : quick ? 40_000 : 400_000;
const inFlight = 64;

function workload(
  sizes: readonly number[],
  alloc: (n: number) => Buffer,
  free: (b: Buffer) => void,
): () => void {
  return () => {
    const window: (Buffer | undefined)[] = new Array<Buffer | undefined>(inFlight).fill(undefined);
    const payload = Buffer.alloc(65536, 7);
    for (let i = 0; i < frames; i++) {
      const size = sizes[i % sizes.length] ?? 64;
      const buf = alloc(size);
      buf.writeUInt32BE(size, 0);
      payload.copy(buf, 4, 0, size - 4);
      const slot = i % inFlight;
      const old = window[slot];
      if (old) free(old);
      window[slot] = buf;
    }
    for (const buf of window) if (buf) free(buf);
  };
}

const mixes = [
  { name: 'small (64 B-1 KiB)', sizes: [64, 128, 300, 700, 1024] },
  { name: 'medium (4-16 KiB)', sizes: [4096, 8000, 16384] },
  { name: 'large (32-64 KiB)', sizes: [32768, 50000, 65536] },
];

const rows = [];
for (const mix of mixes) {
  const pool = new BufferPool();
  const pooled = workload(
    mix.sizes,
    (n) => pool.acquire(n),
    (b) => pool.release(b),
  );
  const unpooled = workload(
    mix.sizes,
    (n) => Buffer.allocUnsafe(n),
    () => undefined,
  );
  pooled(); // warm up both, and fill the pool as a long-running process would have
  unpooled();
  const withPool = await gcCost(pooled);
  const without = await gcCost(unpooled);
  const avg = mix.sizes.reduce((a, b) => a + b, 0) / mix.sizes.length;
  rows.push({
    frames: mix.name,
    'allocated (no pool)': bytes(Math.round((avg * frames) / (1 << 20)) * (1 << 20)),
    'GCs: pool': withPool.count,
    'GCs: allocUnsafe': without.count,
    'GC ms: pool': fmt(withPool.ms, 1),
    'GC ms: allocUnsafe': fmt(without.ms, 1),
    'wall ms: pool': fmt(withPool.wallMs, 0),
    'wall ms: allocUnsafe': fmt(without.wallMs, 0),
  });
}
table(`GC cost of encoding ${fmt(frames)} frames with ${inFlight} in flight (lower is better)`, rows);
