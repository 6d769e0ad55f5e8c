// HTTP/1.1 keep-alive throughput: wrk (closed loop, 50 connections, 1 thread) against each
// target in front of the same nginx upstream returning a 14-byte body. Runs are interleaved
// (round r measures every target once) so a noisy neighbour spreads over all targets alike.
import { cpuPlacement, freePort, median, runWrk, startUpstream, type WrkResult } from '../lib/index.ts';
import type { BenchContext, BenchRow, BenchScenario, BenchTable } from '../types.ts';
import { MESHLET_LABEL, type RunningPeer, startPeers, stopPeers } from './http1/peers.ts';

const CONNECTIONS = 50;

async function run(ctx: BenchContext): Promise<readonly BenchTable[]> {
  if (!ctx.need('wrk') || !ctx.need('nginx')) return [];
  const placement = cpuPlacement();
  const upstreamPort = await freePort();
  const upstream = await startUpstream(upstreamPort, placement.load);
  let peers: RunningPeer[] = [];
  try {
    const started = await startPeers(ctx, upstreamPort, placement.target);
    peers = started.peers;
    const results = new Map<RunningPeer, WrkResult[]>(peers.map((p) => [p, []]));
    const warmupSeconds = ctx.mode === 'full' ? 2 : ctx.mode === 'quick' ? 1 : 0;
    if (warmupSeconds > 0) {
      for (const peer of peers) {
        ctx.log(`http1: warming up ${peer.label}`);
        await runWrk({
          url: `http://127.0.0.1:${peer.port}/`,
          seconds: warmupSeconds,
          connections: CONNECTIONS,
          cpus: placement.load,
        });
      }
    }
    for (let round = 0; round < ctx.runs; round++) {
      for (const peer of peers) {
        const result = await runWrk({
          url: `http://127.0.0.1:${peer.port}/`,
          seconds: ctx.seconds,
          connections: CONNECTIONS,
          cpus: placement.load,
        });
        ctx.log(
          `http1: run ${round + 1}/${ctx.runs} ${peer.label}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(2)} ms`,
        );
        results.get(peer)?.push(result);
      }
    }
    const rows: BenchRow[] = peers.map((peer) => {
      const runs = results.get(peer) ?? [];
      return {
        target: peer.label,
        rps: median(runs.map((r) => r.rps)),
        p50Ms: median(runs.map((r) => r.p50Ms)),
        p99Ms: median(runs.map((r) => r.p99Ms)),
        p999Ms: median(runs.map((r) => r.p999Ms)),
        rssMiB: (peer.target ?? upstream).rssKiB() / 1024,
        errors: runs.reduce((sum, r) => sum + r.errors, 0),
      };
    });
    const notes = [
      `Load: wrk -t1 -c${CONNECTIONS} -d${ctx.seconds}s --latency, GET / with keep-alive, ${ctx.runs} interleaved run(s) per target${warmupSeconds ? ` after a ${warmupSeconds} s warm-up` : ''}; figures are medians of the runs; errors are summed.`,
      'Upstream: nginx (1 worker) answering 200 with a 14-byte body; the same upstream process for every target.',
      `CPU placement: ${placement.description}.`,
      'RSS: the target at the end of its last run, all its processes (meshlet: the CLI supervisor and its worker; nginx: master and worker); for "direct", the upstream nginx.',
      ...started.skipped.map((s) => `Skipped: ${s}.`),
    ];
    return [
      {
        title: 'HTTP/1.1 keep-alive proxy throughput',
        command: `npm run bench -- http1${ctx.mode === 'full' ? '' : ` --${ctx.mode}`}`,
        rows,
        ratioTo: MESHLET_LABEL,
        notes,
      },
    ];
  } finally {
    await stopPeers(peers);
    await upstream.stop();
  }
}

const scenario: BenchScenario = {
  name: 'http1',
  description:
    'HTTP/1.1 keep-alive throughput and latency under load: meshlet vs direct, a raw Node pipe, node-http-proxy, @fastify/http-proxy, nginx, HAProxy',
  run,
};
export default scenario;
