// BufferPool against Buffer.allocUnsafe and Buffer.alloc, one acquire-use-release cycle per call,
// for the default size classes. The buffer is touched at both ends so no variant skips the memory.
import { BufferPool } from '@meshlet/buffer';
import { bytes, consume, measure, rate, table } from '../../../bench/harness.ts';

const sizes = [64, 256, 1024, 4096, 16384, 65536];
const pool = new BufferPool();
const rows = [];

for (const size of sizes) {
  const last = size - 1;
  const [pooled, unsafe, zeroed] = await measure([
    {
      name: 'pool',
      fn: () => {
        const buf = pool.acquire(size);
        buf[0] = 1;
        buf[last] = 2;
        pool.release(buf);
      },
    },
    {
      name: 'allocUnsafe',
      fn: () => {
        const buf = Buffer.allocUnsafe(size);
        buf[0] = 1;
        buf[last] = 2;
        consume(buf);
      },
    },
    {
      name: 'alloc',
      fn: () => {
        const buf = Buffer.alloc(size);
        buf[0] = 1;
        buf[last] = 2;
        consume(buf);
      },
    },
  ]);
  if (!pooled || !unsafe || !zeroed) throw new Error('missing result');
  rows.push({
    size: bytes(size),
    'pool acquire+release': rate(pooled.hz),
    'Buffer.allocUnsafe': rate(unsafe.hz),
    'Buffer.alloc': rate(zeroed.hz),
    'pool vs allocUnsafe': `${(pooled.hz / unsafe.hz).toFixed(2)}×`,
    'pool vs alloc': `${(pooled.hz / zeroed.hz).toFixed(2)}×`,
  });
}

table('BufferPool: one acquire-use-release per call (higher is better)', rows);
const stats = pool.stats();
console.log(
  `\npool after the run: reuse rate ${(stats.reuseRate * 100).toFixed(2)} %, retained ${bytes(stats.retainedBytes)}`,
);
