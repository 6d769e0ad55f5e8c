// meshlet's SDK egress in-process, against plain undici: `mesh.fetch` vs undici's `fetch`, and
// undici's `request` through `mesh.dispatcher` vs through undici's own Agent. Each run is a
// process of its own (sdk/loop.ts, the "app") on the target CPU, with 50 requests in flight to
// the nginx upstream; its RSS and event-loop delay are the SDK's overhead on an app.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuPlacement, fmt, freePort, median, pinned, startUpstream } from '../lib/index.ts';
import type { BenchContext, BenchRow, BenchScenario, BenchTable } from '../types.ts';

const LOOP = fileURLToPath(new URL('./sdk/loop.ts', import.meta.url));
const CONCURRENCY = 50;

const VARIANTS = {
  'undici-fetch': 'undici fetch (its global Agent)',
  'mesh-fetch': 'meshlet mesh.fetch',
  'undici-request': 'undici request (its global Agent)',
  'mesh-request': 'undici request with mesh.dispatcher',
} as const;
type Variant = keyof typeof VARIANTS;

interface LoopResult {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly rssBaseKiB: number;
  readonly rssKiB: number;
  readonly eldP50Ms: number;
  readonly eldP99Ms: number;
}

function runLoop(
  variant: Variant,
  upstreamPort: number,
  seconds: number,
  cpus: string | undefined,
): Promise<LoopResult> {
  const { command, args } = pinned(cpus, process.execPath, [
    '--expose-gc',
    LOOP,
    variant,
    String(upstreamPort),
    String(seconds),
    String(CONCURRENCY),
  ]);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_ENV: 'production' },
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`sdk loop ${variant} exited with ${code ?? signal}: ${err.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(out) as LoopResult);
      } catch (error) {
        reject(new Error(`sdk loop ${variant} printed no result: ${out} ${err}`, { cause: error }));
      }
    });
  });
}

async function run(ctx: BenchContext): Promise<readonly BenchTable[]> {
  if (!ctx.need('nginx')) return [];
  const placement = cpuPlacement();
  const upstreamPort = await freePort();
  const upstream = await startUpstream(upstreamPort, placement.load);
  const results = new Map<Variant, LoopResult[]>();
  const variants = Object.keys(VARIANTS) as Variant[];
  try {
    for (let round = 0; round < ctx.runs; round++) {
      for (const variant of variants) {
        const result = await runLoop(variant, upstreamPort, ctx.seconds, placement.target);
        ctx.log(
          `sdk: run ${round + 1}/${ctx.runs} ${variant}: ${Math.round(result.requests / result.seconds)} req/s`,
        );
        const list = results.get(variant);
        if (list === undefined) results.set(variant, [result]);
        else list.push(result);
      }
    }
  } finally {
    await upstream.stop();
  }
  const row = (variant: Variant): BenchRow => {
    const runs = results.get(variant) ?? [];
    const base = median(runs.map((r) => r.rssBaseKiB)) / 1024;
    const rss = median(runs.map((r) => r.rssKiB)) / 1024;
    return {
      target: VARIANTS[variant],
      rps: median(runs.map((r) => r.requests / r.seconds)),
      p50Ms: median(runs.map((r) => r.p50Us / 1000)),
      p99Ms: median(runs.map((r) => r.p99Us / 1000)),
      p999Ms: median(runs.map((r) => r.p999Us / 1000)),
      rssMiB: rss,
      errors: runs.reduce((sum, r) => sum + r.errors, 0),
      extra: {
        'RSS over an empty Node': `+${fmt(rss - base)} MiB`,
        'event-loop delay p50 / p99': `${fmt(median(runs.map((r) => r.eldP50Ms)))} / ${fmt(median(runs.map((r) => r.eldP99Ms)))} ms`,
      },
    };
  };
  const command = `npm run bench -- sdk${ctx.mode === 'full' ? '' : ` --${ctx.mode}`}`;
  const notes = [
    `Load: bench/src/scenarios/sdk/loop.ts, ${CONCURRENCY} requests in flight (closed loop) for ${ctx.seconds} s in the measured process itself, ${ctx.runs} interleaved run(s) per variant, each a new process; medians of the runs. Upstream: nginx, 14-byte body. The mesh has one STATIC cluster "upstream", no routes (the SDK's cluster-per-host default), default circuit breakers.`,
    'RSS: of the app process at the end of its run; "over an empty Node": minus its RSS before undici or the SDK was imported. Event-loop delay: perf_hooks.monitorEventLoopDelay during the run (what other work in the app waits).',
    `CPU placement: the app alone on CPU ${placement.target ?? '(not pinned)'}; the upstream on CPU ${placement.load ?? '(not pinned)'}.`,
  ];
  return [
    {
      title: 'SDK egress: mesh.fetch vs undici fetch',
      command,
      rows: [row('mesh-fetch'), row('undici-fetch')],
      ratioTo: VARIANTS['mesh-fetch'],
      notes,
    },
    {
      title: 'SDK egress: undici request through mesh.dispatcher vs its own Agent',
      command,
      rows: [row('mesh-request'), row('undici-request')],
      ratioTo: VARIANTS['mesh-request'],
      notes,
    },
  ];
}

const scenario: BenchScenario = {
  name: 'sdk',
  description:
    'in-process SDK egress (mesh.fetch, mesh.dispatcher) vs plain undici fetch/request: throughput, latency, RSS, event-loop delay',
  run,
};
export default scenario;
