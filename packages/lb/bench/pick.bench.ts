// Time per pick() of every policy at 10, 100 and 1000 hosts. Each timed call makes 100 picks, so
// the harness's own per-call cost is not billed to them; the table shows the time per pick.
// Hash policies get a precomputed request hash (bigint, as a hash policy returns it, and a
// number), cycling through 1024 of them.
import {
  createLoadBalancer,
  type LoadBalancer,
  type LoadBalancerPolicy,
  type PickContext,
} from '@meshlet/lb';
import { consume, fmt, measure, smoke, table } from '../../../bench/harness.ts';

const PER_CALL = 100;
const sizes = smoke ? [10, 100] : [10, 100, 1000];

function hosts(n: number, weighted: boolean): { address: string; port: number; weight: number }[] {
  return Array.from({ length: n }, (_, i) => ({
    address: `10.0.${i >> 8}.${(i & 255) + 1}`,
    port: 8080,
    weight: weighted ? 1 + (i % 5) : 1,
  }));
}

let seed = 1;
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}

const bigHashes: PickContext[] = Array.from({ length: 1024 }, () => ({
  hash: (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32)),
}));
const numberHashes: PickContext[] = Array.from({ length: 1024 }, () => ({
  hash: Math.floor(random() * 2 ** 53),
}));

// Each case gets a function compiled on its own (`new Function`), so the `lb.pick` call site in
// it sees one balancer class. Closures made from one function literal share V8's feedback, and
// the call site would go megamorphic across the policies: that measures V8's dispatch, not pick().
const PICKS_BODY = `
  let i = 0;
  if (contexts === null) return () => { for (let k = 0; k < perCall; k++) consume(lb.pick()); };
  return () => { for (let k = 0; k < perCall; k++) consume(lb.pick(contexts[i++ & 1023])); };
`;

function picks(lb: LoadBalancer, contexts: readonly PickContext[] | null): () => void {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function('lb', 'contexts', 'consume', 'perCall', PICKS_BODY) as (
    lb: LoadBalancer,
    contexts: readonly PickContext[] | null,
    sink: typeof consume,
    perCall: number,
  ) => () => void;
  return make(lb, contexts, consume, PER_CALL);
}

interface Case {
  readonly name: string;
  readonly policy: LoadBalancerPolicy;
  readonly weighted: boolean;
  readonly contexts: readonly PickContext[] | null;
}

const cases: Case[] = [
  { name: 'ROUND_ROBIN', policy: 'ROUND_ROBIN', weighted: false, contexts: null },
  { name: 'ROUND_ROBIN weighted (EDF)', policy: 'ROUND_ROBIN', weighted: true, contexts: null },
  { name: 'LEAST_REQUEST (P2C)', policy: 'LEAST_REQUEST', weighted: false, contexts: null },
  { name: 'LEAST_REQUEST weighted (EDF)', policy: 'LEAST_REQUEST', weighted: true, contexts: null },
  { name: 'RANDOM', policy: 'RANDOM', weighted: false, contexts: null },
  { name: 'RANDOM weighted', policy: 'RANDOM', weighted: true, contexts: null },
  { name: 'RING_HASH, bigint hash', policy: 'RING_HASH', weighted: false, contexts: bigHashes },
  { name: 'MAGLEV, bigint hash', policy: 'MAGLEV', weighted: false, contexts: bigHashes },
  { name: 'MAGLEV, number hash', policy: 'MAGLEV', weighted: false, contexts: numberHashes },
  { name: 'MAGLEV, no hash (random)', policy: 'MAGLEV', weighted: false, contexts: null },
];

const rows = [];
for (const c of cases) {
  const row: Record<string, string> = { policy: c.name };
  const results = await measure(
    sizes.map((n) => ({
      name: `${c.name} ${n}`,
      fn: picks(createLoadBalancer(c.policy, hosts(n, c.weighted)), c.contexts),
    })),
    400,
  );
  sizes.forEach((n, i) => {
    const r = results[i];
    if (r) row[`${n} hosts`] = `${fmt(r.meanNs / PER_CALL, 1)} ns`;
  });
  rows.push(row);
}
table(
  'pick(): time per pick (lower is better; goals: < 50 ns RR/random/LR, < 30 ns Maglev with a precomputed hash)',
  rows,
);
