// The same protected call through opossum, cockatiel and meshlet: an async function that
// resolves at once, so what is measured is each library's own cost per call. Each timed call
// makes OPS calls one after the other. "with a 10 s timeout" arms each library's timeout as its
// users would (opossum's `timeout`, cockatiel's timeout policy, meshlet's `timeoutMs`).
import { CircuitBreaker as Opossum } from './opossum.ts';
import { ConsecutiveBreaker, circuitBreaker, handleAll, timeout, TimeoutStrategy, wrap } from 'cockatiel';
import { CircuitBreaker, TimerWheel } from '@meshlet/breaker';
import { fmt, measure, table } from '../../../bench/harness.ts';

const OPS = 100;
const work = (): Promise<number> => Promise.resolve(1);

const opossum = new Opossum(work, { timeout: false, errorThresholdPercentage: 50, resetTimeout: 30_000 });
const opossumTimed = new Opossum(work, {
  timeout: 10_000,
  errorThresholdPercentage: 50,
  resetTimeout: 30_000,
});
const cockatiel = circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) });
const cockatielTimed = wrap(timeout(10_000, TimeoutStrategy.Cooperative), cockatiel);
const wheel = new TimerWheel();
const meshlet = new CircuitBreaker({ wheel });
const meshletTimed = new CircuitBreaker({ wheel, timeoutMs: 10_000 });

async function viaPermit(): Promise<void> {
  for (let i = 0; i < OPS; i++) {
    const p = meshlet.tryAcquire();
    if (p.rejected) continue;
    try {
      await work();
      p.success();
    } catch (error) {
      p.failure(error);
    }
  }
}

const results = await measure([
  {
    name: 'opossum fire()',
    fn: async () => {
      for (let i = 0; i < OPS; i++) await opossum.fire();
    },
  },
  {
    name: 'cockatiel execute()',
    fn: async () => {
      for (let i = 0; i < OPS; i++) await cockatiel.execute(work);
    },
  },
  {
    name: 'meshlet execute()',
    fn: async () => {
      for (let i = 0; i < OPS; i++) await meshlet.execute(work);
    },
  },
  { name: 'meshlet tryAcquire() + await + success()', fn: viaPermit },
  {
    name: 'opossum fire(), 10 s timeout',
    fn: async () => {
      for (let i = 0; i < OPS; i++) await opossumTimed.fire();
    },
  },
  {
    name: 'cockatiel timeout + breaker',
    fn: async () => {
      for (let i = 0; i < OPS; i++) await cockatielTimed.execute(work);
    },
  },
  {
    name: 'meshlet execute(), 10 s timeout',
    fn: async () => {
      for (let i = 0; i < OPS; i++) await meshletTimed.execute(work);
    },
  },
]);
opossum.shutdown();
opossumTimed.shutdown();

const byName = new Map(results.map((r) => [r.name, r]));
const ratio = (a: string, b: string): string => {
  const x = byName.get(a);
  const y = byName.get(b);
  return x && y ? `${(y.meanNs / x.meanNs).toFixed(2)}×` : '';
};
table(
  'One protected async call (lower is better; "meshlet speed" > 1 means meshlet is faster)',
  results.map((r) => ({
    library: r.name,
    'time per call': `${fmt(r.meanNs / OPS, 0)} ns`,
    'meshlet speed vs this': r.name.includes('timeout')
      ? ratio('meshlet execute(), 10 s timeout', r.name)
      : ratio('meshlet execute()', r.name),
  })),
);
