// A keyed limiter under a flood of distinct keys: the heap it holds stays under its bound
// (maxKeys entries), however many keys arrive. Each key is used once, as by a scan from
// spoofed addresses. Heap figures are taken after a full GC (run under --expose-gc).
import { createKeyedLimiter } from '@meshlet/ratelimit';
import { bytes, fmt, rate, smoke, table } from '../../../bench/harness.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc (node bench/micro.ts does)');

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
  // Keys of one shape and length in both runs (a letter and 7 digits, flat strings), so the two
  // heaps compare the limiter and not the keys.
  for (let i = 0; i < keys; i++) limiter.consume(prefix + String(i).padStart(7, '0'));
  const seconds = (performance.now() - started) / 1000;
  const heapBytes = heap() - before;
  const out = { heapBytes, seconds, size: limiter.size, evictions: limiter.evictions };
  limiter.clear();
  return out;
}

// The bound is the limiter at capacity: first exactly full (maxKeys keys), then full and churned
// by twice as many keys (its hash tables have seen deletions). A flood ten times larger must hold
// no more than the churned limiter (plus 10 % for GC noise): memory does not grow with the flood.
const full = fill(MAX_KEYS, 'a');
const churned = fill(2 * MAX_KEYS, 'b');
const flood = fill(FLOOD, 'c');
if (flood.size > MAX_KEYS)
  throw new Error(`keyed limiter holds ${flood.size} keys, over its bound ${MAX_KEYS}`);
const bound = Math.max(full.heapBytes, churned.heapBytes) * 1.1;
if (!smoke && flood.heapBytes > bound) {
  throw new Error(`a flood of ${FLOOD} keys holds ${bytes(flood.heapBytes)}, over the bound ${bytes(bound)}`);
}

const row = (run: string, r: typeof full, keys: number) => ({
  run,
  'keys held': fmt(r.size),
  evictions: fmt(r.evictions),
  'heap held': bytes(Math.max(0, r.heapBytes)),
  'bytes/key held': fmt(r.heapBytes / r.size),
  'new-key decisions/s': rate(keys / r.seconds),
});
table(`Keyed limiter, maxKeys ${fmt(MAX_KEYS)} (lower heap is better)`, [
  row(`${fmt(MAX_KEYS)} distinct keys (exactly full)`, full, MAX_KEYS),
  row(`${fmt(2 * MAX_KEYS)} distinct keys (full and churned: the bound)`, churned, 2 * MAX_KEYS),
  row(`${fmt(FLOOD)} distinct keys (flood)`, flood, FLOOD),
]);
