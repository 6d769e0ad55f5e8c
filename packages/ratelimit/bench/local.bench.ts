// Local decisions per second: TokenBucket (both refill styles), SlidingWindow and Envoy's local
// rate limit, on the default clock (performance.now() read at every decision), and once on a
// CachedClock to show the cost of the decision alone.
// Each timed call makes 1000 decisions, so the harness's own per-call cost is not billed to them.
import { CachedClock, SlidingWindow, TokenBucket, createLocalRateLimiter } from '@meshlet/ratelimit';
import type { RateLimitDescriptor } from '@meshlet/ratelimit';
import { consume, fmt, measure, rate, table } from '../../../bench/harness.ts';

const OPS = 1000;
// A bucket that admits (large) and one that is empty nearly always (small): both branches.
const roomy = new TokenBucket({ maxTokens: 1e9, tokensPerFill: 1e9, fillIntervalMs: 1000 });
const tight = new TokenBucket({ maxTokens: 10, tokensPerFill: 10, fillIntervalMs: 1000 });
const smooth = new TokenBucket({
  maxTokens: 1e9,
  tokensPerFill: 1e9,
  fillIntervalMs: 1000,
  refill: 'continuous',
});
// The same bucket on a CachedClock updated once per 1000 decisions: what a proxy pays when it
// reads the time once per request or event-loop turn (Envoy's approximate monotonic time) and
// shares it between limiters. This row is the decision logic alone.
const cached = new CachedClock();
const roomyCached = new TokenBucket({
  maxTokens: 1e9,
  tokensPerFill: 1e9,
  fillIntervalMs: 1000,
  clock: cached,
});
const window = new SlidingWindow({ limit: 1e9, windowMs: 1000 });
const ALL = { defaultValue: { numerator: 100 } } as const;
const local = createLocalRateLimiter({
  tokenBucket: { maxTokens: 1e9, tokensPerFill: 1e9, fillInterval: '1s' },
  filterEnabled: ALL,
  filterEnforced: ALL,
  descriptors: [
    { entries: [{ key: 'client', value: 'a' }], tokenBucket: { maxTokens: 1e9, fillInterval: '1s' } },
  ],
});
const descriptors: RateLimitDescriptor[] = [{ entries: [{ key: 'client', value: 'a' }] }];

const results = await measure([
  {
    name: 'TokenBucket.consume (interval, admits)',
    fn: () => {
      for (let i = 0; i < OPS; i++) consume(roomy.consume());
    },
  },
  {
    name: 'TokenBucket.consume (interval, refuses)',
    fn: () => {
      for (let i = 0; i < OPS; i++) consume(tight.consume());
    },
  },
  {
    name: 'TokenBucket.consume (continuous)',
    fn: () => {
      for (let i = 0; i < OPS; i++) consume(smooth.consume());
    },
  },
  {
    name: 'TokenBucket.consume (interval), CachedClock',
    fn: () => {
      cached.update();
      for (let i = 0; i < OPS; i++) consume(roomyCached.consume());
    },
  },
  {
    name: 'TokenBucket.tryConsume (interval, boolean)',
    fn: () => {
      let n = 0;
      for (let i = 0; i < OPS; i++) if (roomy.tryConsume()) n++;
      consume(n);
    },
  },
  {
    name: 'SlidingWindow.consume',
    fn: () => {
      for (let i = 0; i < OPS; i++) consume(window.consume());
    },
  },
  {
    name: 'local rate limit check, default bucket',
    fn: () => {
      for (let i = 0; i < OPS; i++) consume(local.check());
    },
  },
  {
    name: 'local rate limit check, one descriptor',
    fn: () => {
      for (let i = 0; i < OPS; i++) consume(local.check(descriptors));
    },
  },
]);

table(
  'Local decisions (higher is better; goal for the token bucket: over 10 M/s)',
  results.map((r) => ({
    decision: r.name,
    'decisions/s': rate(r.hz * OPS),
    'ns/decision': fmt(r.meanNs / OPS, 1),
  })),
);
