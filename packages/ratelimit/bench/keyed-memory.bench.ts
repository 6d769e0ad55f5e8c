// A keyed limiter under a flood of distinct keys: the heap it holds stays under its bound
// (maxKeys entries), however many keys arrive. Each key is used once, as by a scan from
// spoofed addresses. Heap figures are taken after a full GC (run under --expose-gc).
import { createKeyedLimiter } from '@meshlet/ratelimit';
import { bytes, fmt, rate, smoke, table } from '../../../bench/harness.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc (node bench/run.ts does)');

const MAX_KEYS = smoke ? 2_000 : 100_000;
const FLOOD = smoke ? 20_000 : 1_000_000;
const bucket = { maxTokens: 20, tokensPerFill: 10, fillIntervalMs: 1000 };

function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

function fill(
  keys: number,
  prefix: string,
): { heapBytes: number; seconds: number; size: number; evictions: number } {
  const before = heap();
  const limiter = createKeyedLimiter({ maxKeys: MAX_KEYS, ttlMs: 60_000, bucket });
  const started = performance.now();
  for (let i = 0; i < keys; i++) limiter.consume(`${prefix}${i}`);
  const seconds = (performance.now() - started) / 1000;
  const heapBytes = heap() - before;
  const out = { heapBytes, seconds, size: limiter.size, evictions: limiter.evictions };
  limiter.clear();
  return out;
}

// The bound: a limiter exactly full (maxKeys keys, none evicted).
const full = fill(MAX_KEYS, '10.0.');
const perKey = full.heapBytes / MAX_KEYS;
const flood = fill(FLOOD, '192.168.');
if (flood.size > MAX_KEYS)
  throw new Error(`keyed limiter holds ${flood.size} keys, over its bound ${MAX_KEYS}`);
// A flood must not hold more than the full limiter plus a margin for GC noise (10 %).
const bound = full.heapBytes * 1.1;
if (!smoke && flood.heapBytes > bound) {
  throw new Error(`a flood of ${FLOOD} keys holds ${bytes(flood.heapBytes)}, over the bound ${bytes(bound)}`);
}

table(`Keyed limiter, maxKeys ${fmt(MAX_KEYS)} (lower heap is better)`, [
  {
    run: `${fmt(MAX_KEYS)} distinct keys (full, the bound)`,
    'keys held': fmt(full.size),
    evictions: fmt(full.evictions),
    'heap held': bytes(Math.max(0, full.heapBytes)),
    'bytes/key': fmt(perKey),
    'new-key decisions/s': rate(MAX_KEYS / full.seconds),
  },
  {
    run: `${fmt(FLOOD)} distinct keys (flood)`,
    'keys held': fmt(flood.size),
    evictions: fmt(flood.evictions),
    'heap held': bytes(Math.max(0, flood.heapBytes)),
    'bytes/key': fmt(flood.heapBytes / flood.size),
    'new-key decisions/s': rate(FLOOD / flood.seconds),
  },
]);
