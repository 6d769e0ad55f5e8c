// The long soak: `node test/reliability/soak.ts --minutes 10` (from the repository root, after
// `pnpm run build`: the proxy process runs the built packages). Mixed HTTP/1.1, HTTP/2, gRPC and
// Bolt load through one meshlet proxy, a config update every 3 s, one instance of every cluster
// killed every minute; prints progress, then the report docs/reliability.md quotes, and exits 1
// if any request failed because of the proxy, an update failed, or memory or handles grew.
//
// Options: --minutes N (10), --rate N requests/s per protocol (300), --concurrency N loops per
// protocol (16), --update-every S (3), --restart-every S (60), --down MS an instance stays down
// (2000), --warmup S (10), --json FILE (the whole report). The 60-second test's settings:
// --minutes 1 --rate 100 --concurrency 8 --restart-every 20 --down 1000 --warmup 5.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatReport, runSoak, verdict } from './soak/harness.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '16' },
    'update-every': { type: 'string', default: '3' },
    'restart-every': { type: 'string', default: '60' },
    down: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '10' },
    json: { type: 'string' },
  },
});

const minutes = Number(values.minutes);
const report = await runSoak({
  durationMs: minutes * 60_000,
  updateEveryMs: Number(values['update-every']) * 1000,
  restartEveryMs: Number(values['restart-every']) * 1000,
  restartDownMs: Number(values.down),
  sampleEveryMs: minutes > 2 ? 10_000 : 5_000,
  warmupMs: Number(values.warmup) * 1000,
  rate: Number(values.rate),
  concurrency: Number(values.concurrency),
  log: (line) => {
    console.log(line);
  },
});
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(report, null, 2));
console.log(`\n${formatReport(report)}\n`);
const problems = verdict(report);
for (const p of problems) console.log(`FAIL ${p}`);
console.log(problems.length === 0 ? 'soak: PASS' : 'soak: FAIL');
process.exitCode = problems.length === 0 ? 0 : 1;
