// The hot paths of @meshlet/breaker: a permit and its outcome in the closed state, a resource
// limit taken and given back, and one outlier-detection sweep over 1000 hosts. Each timed call
// runs OPS operations so the harness's own per-call cost is not billed to them. Then the memory
// a breaker costs, measured over 10,000 of them on one timer wheel.
import { CircuitBreaker, createResourceLimits, OutlierDetector, TimerWheel } from '@meshlet/breaker';
import type { Permit } from '@meshlet/breaker';
import { bytes, fmt, measure, smoke, table } from '../../../bench/harness.ts';

const OPS = 100;
const wheel = new TimerWheel();

const counted = new CircuitBreaker({ wheel }); // defaults: 5 in a row, 50 % of the last 100 calls
const consecutiveOnly = new CircuitBreaker({ wheel, failureRateThreshold: 0 });
const timed = new CircuitBreaker({ wheel, slowCallRateThreshold: 50, slowCallDurationMs: 1000 });
const timeWindow = new CircuitBreaker({ wheel, window: { kind: 'time', durationMs: 10_000, buckets: 10 } });
const limits = createResourceLimits([{ maxRequests: 1_000_000 }]).default;
const budgeted = createResourceLimits([{ retryBudget: {} }]).default;
for (let i = 0; i < 100; i++) budgeted.requests.tryAcquire();

function cycle(breaker: CircuitBreaker): void {
  for (let i = 0; i < OPS; i++) {
    const p = breaker.tryAcquire();
    if (!p.rejected) p.success();
  }
}

const results = await measure([
  {
    name: 'closed, count window (defaults)',
    fn: () => {
      cycle(counted);
    },
  },
  {
    name: 'closed, consecutive failures only',
    fn: () => {
      cycle(consecutiveOnly);
    },
  },
  {
    name: 'closed, slow-call detection (2 clock reads)',
    fn: () => {
      cycle(timed);
    },
  },
  {
    name: 'closed, time window (2 clock reads)',
    fn: () => {
      cycle(timeWindow);
    },
  },
  {
    name: 'resource limit: requests acquire + release',
    fn: () => {
      const rq = limits.requests;
      for (let i = 0; i < OPS; i++) if (rq.tryAcquire()) rq.release();
    },
  },
  {
    name: 'resource limit: retry budget acquire + release',
    fn: () => {
      const r = budgeted.retries;
      for (let i = 0; i < OPS; i++) if (r.tryAcquire()) r.release();
    },
  },
]);
table(
  'Hot path, time per operation (lower is better; goal for tryAcquire + success: < 50 ns)',
  results.map((r) => ({
    operation: r.name,
    'time per op': `${fmt(r.meanNs / OPS, 1)} ns`,
    'ops/s': `${fmt((1e9 * OPS) / r.meanNs / 1e6, 1)} M`,
  })),
);

// One sweep over 1000 hosts with every algorithm running (volumes set low so every host counts).
const HOSTS = 1000;
const detector = new OutlierDetector<number>({
  wheel,
  intervalMs: 3_600_000,
  successRateRequestVolume: 1,
  failurePercentageRequestVolume: 1,
  enforcingFailurePercentage: 100,
});
const monitors = Array.from({ length: HOSTS }, (_, i) => detector.addHost(i));
let tick = 0;
const [reportOnly, sweep] = await measure([
  {
    name: 'report one status per host',
    fn: () => {
      tick++;
      for (const m of monitors) m.reportHttpStatus(tick % 7 === 0 ? 503 : 200);
    },
  },
  {
    name: 'report one status per host + sweep',
    fn: () => {
      tick++;
      for (const m of monitors) m.reportHttpStatus(tick % 7 === 0 ? 503 : 200);
      detector.runInterval();
    },
  },
]);
detector.close();
if (!reportOnly || !sweep) throw new Error('missing result');
table('Outlier detection: one interval sweep over 1000 hosts (lower is better)', [
  {
    work: '1000 reportHttpStatus calls',
    time: `${fmt(reportOnly.meanNs / 1000, 1)} µs`,
  },
  {
    work: 'the same + runInterval() (success rate, failure %, un-eject)',
    time: `${fmt(sweep.meanNs / 1000, 1)} µs`,
  },
  {
    work: 'runInterval() alone (difference)',
    time: `${fmt((sweep.meanNs - reportOnly.meanNs) / 1000, 1)} µs`,
  },
]);

// Memory: 10,000 breakers with default options on one wheel, all open (each with its deadline).
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  const N = smoke ? 1000 : 10_000;
  const memWheel = new TimerWheel();
  gc();
  const before = process.memoryUsage().heapUsed;
  const breakers: CircuitBreaker[] = [];
  for (let i = 0; i < N; i++) breakers.push(new CircuitBreaker({ wheel: memWheel }));
  gc();
  const closed = (process.memoryUsage().heapUsed - before) / N;
  for (const b of breakers) b.forceOpen();
  for (const b of breakers) b.reset();
  for (const b of breakers) for (let i = 0; i < 5; i++) (b.tryAcquire() as Permit).failure();
  gc();
  const open = (process.memoryUsage().heapUsed - before) / N;
  table(`Memory per breaker (${fmt(N)} breakers on one timer wheel)`, [
    {
      breakers: fmt(N),
      'heap per breaker, closed': bytes(Math.round(closed)),
      'heap per breaker, open': bytes(Math.round(open)),
      'timers pending': memWheel.armed ? 1 : 0,
    },
  ]);
}
