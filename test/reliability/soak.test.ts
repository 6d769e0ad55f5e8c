// The 60-second soak (test/reliability/soak/harness.ts): HTTP/1.1, HTTP/2, gRPC and Bolt clients
// through one meshlet proxy process while its config changes every 3 s and one instance of every
// cluster is killed every 20 s. No request may fail because of the proxy; memory and handles stay
// flat. The proxy process runs the built packages (`npm test` builds first; after changing a
// package's sources, `pnpm run build` before running this file alone).
// The 10-minute version: `node test/reliability/soak.ts --minutes 10`.
import { expect, it } from 'vitest';
import { formatReport, runSoak, verdict } from './soak/harness.ts';

it('soak: 60 s of mixed HTTP/1.1, HTTP/2, gRPC and Bolt with config updates and upstream restarts loses nothing and leaks nothing', async () => {
  const report = await runSoak({
    durationMs: 60_000,
    updateEveryMs: 3_000,
    restartEveryMs: 20_000,
    restartDownMs: 1_000,
    sampleEveryMs: 5_000,
    warmupMs: 5_000,
    rate: 100,
    concurrency: 8,
  });
  const problems = verdict(report);
  expect(problems, formatReport(report)).toEqual([]);
  // The churn really happened and the proxy really had something to absorb.
  expect(report.updates.applied).toBeGreaterThanOrEqual(15);
  expect(report.restarts).toBeGreaterThanOrEqual(2);
  const failures = Object.entries(report.final.clusterCounters)
    .filter(([name]) => name.endsWith('.upstream_cx_connect_fail'))
    .reduce((n, [, v]) => n + v, 0);
  expect(failures).toBeGreaterThan(0);
  // Traffic flowed all along (at least 10 rq/s of the 100 asked, on a machine shared with others).
  for (const counts of Object.values(report.load)) expect(counts.ok).toBeGreaterThan(600);
}, 120_000);
