// BufferPool against Buffer.allocUnsafe and Buffer.alloc: one acquire-use-release cycle per
// operation, at request sizes that are not powers of two (as a codec's frames are not). Each
// timed call runs 100 operations, so the harness's own per-call cost is not billed to them.
//
// The three variants are written out rather than built from one function taking `alloc` and
// `free`: a shared call site would see three callees and measure V8's polymorphic dispatch.
import { BufferPool } from '@meshlet/buffer';
import { bytes, consume, fmt, measure, table } from '../../../bench/harness.ts';

const sizes = [100, 1000, 3000, 10_000, 40_000, 65_000];
const OPS = 100;
const pool = new BufferPool();
const rows = [];

for (const size of sizes) {
  const last = size - 1;
  const [pooled, unsafe, zeroed] = await measure([
    {
      name: 'pool',
      fn: () => {
        for (let i = 0; i < OPS; i++) {
          const buf = pool.acquire(size);
          buf[0] = 1;
          buf[last] = 2;
          pool.release(buf);
        }
      },
    },
    {
      name: 'allocUnsafe',
      fn: () => {
        for (let i = 0; i < OPS; i++) {
          const buf = Buffer.allocUnsafe(size);
          buf[0] = 1;
          buf[last] = 2;
          consume(buf);
        }
      },
    },
    {
      name: 'alloc',
      fn: () => {
        for (let i = 0; i < OPS; i++) {
          const buf = Buffer.alloc(size);
          buf[0] = 1;
          buf[last] = 2;
          consume(buf);
        }
      },
    },
  ]);
  if (!pooled || !unsafe || !zeroed) throw new Error('missing result');
  const ns = (m: { meanNs: number }): string => `${fmt(m.meanNs / OPS, 0)} ns`;
  rows.push({
    request: bytes(size),
    'pool acquire+release': ns(pooled),
    'Buffer.allocUnsafe': ns(unsafe),
    'Buffer.alloc': ns(zeroed),
    'pool speed vs allocUnsafe': `${(pooled.hz / unsafe.hz).toFixed(2)}×`,
    'pool speed vs alloc': `${(pooled.hz / zeroed.hz).toFixed(2)}×`,
  });
}

table(
  'BufferPool: time per acquire-use-release (lower is better; speed ratio > 1 means the pool wins)',
  rows,
);
const stats = pool.stats();
console.log(
  `\npool after the run: reuse rate ${(stats.reuseRate * 100).toFixed(2)} %, retained ${bytes(stats.retainedBytes)}`,
);
