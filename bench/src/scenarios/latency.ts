// Added latency per hop at a low paced rate: an open-loop client (latency/paced.ts, in its own
// process on the load CPU) sends ~1000 requests/s through each target to the same nginx
// upstream; the difference to "direct" is what the hop adds. Runs are interleaved across targets.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuPlacement, fmt, freePort, median, pinned, startUpstream } from '../lib/index.ts';
import type { BenchContext, BenchRow, BenchScenario, BenchTable } from '../types.ts';
import { type RunningPeer, startPeers, stopPeers } from './http1/peers.ts';

const RATE = 1000;
const CONNECTIONS = 16;
const PACED = fileURLToPath(new URL('./latency/paced.ts', import.meta.url));

/** What latency/paced.ts prints. */
export interface PacedResult {
  readonly sent: number;
  readonly completed: number;
  readonly errors: number;
  readonly seconds: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

/** Runs the paced client once against 127.0.0.1:`port` (bounded: seconds + 20 s). */
export function runPaced(
  port: number,
  seconds: number,
  cpus: string | undefined,
  rate = RATE,
): Promise<PacedResult> {
  const { command, args } = pinned(cpus, process.execPath, [
    PACED,
    String(port),
    String(rate),
    String(seconds),
    String(CONNECTIONS),
  ]);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 20) * 1000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`paced client exited with ${code ?? signal}: ${err.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(out) as PacedResult);
      } catch (error) {
        reject(new Error(`paced client printed no result: ${out} ${err}`, { cause: error }));
      }
    });
  });
}

async function run(ctx: BenchContext): Promise<readonly BenchTable[]> {
  if (!ctx.need('nginx')) return [];
  const placement = cpuPlacement();
  const upstreamPort = await freePort();
  const upstream = await startUpstream(upstreamPort, placement.load);
  let peers: RunningPeer[] = [];
  try {
    const started = await startPeers(ctx, upstreamPort, placement.target);
    peers = started.peers;
    // Warm each target (JIT, pools) at the same rate; not measured.
    const warmup = ctx.mode === 'smoke' ? 0 : 1;
    if (warmup > 0) for (const peer of peers) await runPaced(peer.port, warmup, placement.load);
    const results = new Map<RunningPeer, PacedResult[]>(peers.map((p) => [p, []]));
    const seconds = ctx.mode === 'smoke' ? 0.5 : ctx.seconds;
    for (let round = 0; round < ctx.runs; round++) {
      for (const peer of peers) {
        const result = await runPaced(peer.port, seconds, placement.load);
        ctx.log(
          `latency: run ${round + 1}/${ctx.runs} ${peer.label}: p50 ${(result.p50Us / 1000).toFixed(3)} ms, p99 ${(result.p99Us / 1000).toFixed(3)} ms`,
        );
        results.get(peer)?.push(result);
      }
    }
    const summary = (
      peer: RunningPeer,
    ): { p50: number; p99: number; p999: number; rps: number; errors: number } => {
      const runs = results.get(peer) ?? [];
      return {
        p50: median(runs.map((r) => r.p50Us / 1000)),
        p99: median(runs.map((r) => r.p99Us / 1000)),
        p999: median(runs.map((r) => r.p999Us / 1000)),
        rps: median(runs.map((r) => r.completed / r.seconds)),
        errors: runs.reduce((sum, r) => sum + r.errors, 0),
      };
    };
    const direct = peers.find((p) => p.key === 'direct');
    const base = direct === undefined ? undefined : summary(direct);
    const added = (value: number, of: number | undefined): string =>
      of === undefined ? '—' : `${value - of >= 0 ? '+' : '−'}${fmt(Math.abs(value - of))} ms`;
    const rows: BenchRow[] = peers.map((peer) => {
      const s = summary(peer);
      return {
        target: peer.label,
        rps: s.rps,
        p50Ms: s.p50,
        p99Ms: s.p99,
        p999Ms: s.p999,
        errors: s.errors,
        extra: { 'added p50': added(s.p50, base?.p50), 'added p99': added(s.p99, base?.p99) },
      };
    });
    return [
      {
        title: `Added latency per hop, paced at ${RATE} requests/s (open loop)`,
        command: `npm run bench -- latency${ctx.mode === 'full' ? '' : ` --${ctx.mode}`}`,
        rows,
        notes: [
          `Load: bench/src/scenarios/latency/paced.ts, ${RATE} requests/s on a fixed schedule over ${CONNECTIONS} kept-alive connections for ${seconds} s, ${ctx.runs} interleaved run(s) per target${warmup ? ` after a ${warmup} s warm-up` : ''}; medians of the runs. Open loop: a slow response does not hold back the next request (no coordinated omission); a request waiting for a free connection is timed from its release.`,
          '"added": the row minus "direct (no proxy)": what the hop costs. requests/s is the rate achieved, a check of the pacing.',
          `CPU placement: ${placement.description}.`,
          ...started.skipped.map((s) => `Skipped: ${s}.`),
        ],
      },
    ];
  } finally {
    await stopPeers(peers);
    await upstream.stop();
  }
}

const scenario: BenchScenario = {
  name: 'latency',
  description:
    'added latency per hop at a paced ~1000 requests/s (open loop): meshlet vs direct and the peers',
  run,
};
export default scenario;
