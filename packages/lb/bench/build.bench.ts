// Table build times: Maglev at 10/100/1000 hosts for M = 65537 and 655373 (the Maglev paper
// reports 1.8 ms and 22.9 ms in C++ for its setup), and ring hash builds with their size and
// memory (the bytes of the table's typed arrays, from stats()). A build is timed through
// createLoadBalancer, as a user (or an update that changes the hosts) pays it.
import { createLoadBalancer, type LoadBalancerOptions, type TableStats } from '@meshlet/lb';
import { bytes, consume, fmt, measure, smoke, table } from '../../../bench/harness.ts';

function hosts(n: number, weighted = false): { address: string; port: number; weight: number }[] {
  return Array.from({ length: n }, (_, i) => ({
    address: `10.1.${i >> 8}.${(i & 255) + 1}`,
    port: 443,
    weight: weighted ? 1 + (i % 5) : 1,
  }));
}

function tableOf(
  policy: 'MAGLEV' | 'RING_HASH',
  n: number,
  weighted: boolean,
  options: LoadBalancerOptions,
): TableStats {
  const stats = createLoadBalancer(policy, hosts(n, weighted), options).stats().priorities[0]?.table;
  if (!stats) throw new Error('no table');
  return stats;
}

const sizes = smoke ? [10, 100] : [10, 100, 1000];
// The 655373 table takes tens of milliseconds to build: full and quick runs only.
const tableSizes = smoke ? [65537] : [65537, 655373];

const maglevRows = [];
for (const M of tableSizes) {
  const row: Record<string, string> = { 'table size M': fmt(M) };
  const results = await measure(
    sizes.map((n) => ({
      name: `maglev ${n} ${M}`,
      fn: () => {
        consume(createLoadBalancer('MAGLEV', hosts(n), { maglev: { tableSize: M } }));
      },
    })),
    3000,
  );
  sizes.forEach((n, i) => {
    const r = results[i];
    if (r) row[`${n} hosts`] = `${fmt(r.meanNs / 1e6, 2)} ms`;
  });
  row.memory = bytes(tableOf('MAGLEV', 100, false, { maglev: { tableSize: M } }).bytes);
  maglevRows.push(row);
}
table('Maglev table build (lower is better; memory: table bytes at 100 hosts)', maglevRows);

const ringRows = [];
const ringCases: { label: string; n: number; weighted: boolean; options: LoadBalancerOptions }[] = [
  ...sizes.map((n) => ({ label: `${n} hosts, equal weights`, n, weighted: false, options: {} })),
  ...sizes.map((n) => ({ label: `${n} hosts, weights 1-5`, n, weighted: true, options: {} })),
  ...(smoke
    ? []
    : [
        {
          label: '100 hosts, minimumRingSize 65536',
          n: 100,
          weighted: false,
          options: { ringHash: { minimumRingSize: 65536 } },
        },
      ]),
];
for (const c of ringCases) {
  const [r] = await measure(
    [
      {
        name: c.label,
        fn: () => {
          consume(createLoadBalancer('RING_HASH', hosts(c.n, c.weighted), c.options));
        },
      },
    ],
    2000,
  );
  const stats = tableOf('RING_HASH', c.n, c.weighted, c.options);
  ringRows.push({
    ring: c.label,
    build: r ? `${fmt(r.meanNs / 1e6, 2)} ms` : '',
    entries: fmt(stats.entries),
    'entries per host': `${stats.minEntriesPerHost}-${stats.maxEntriesPerHost}`,
    memory: bytes(stats.bytes),
  });
}
table('Ring hash build (lower is better; memory: the ring typed arrays)', ringRows);
