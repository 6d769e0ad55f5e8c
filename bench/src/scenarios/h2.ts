// HTTP/2 through meshlet vs direct: h2load (nghttp2-client) against an nginx upstream speaking
// HTTP/2 cleartext, directly and through meshlet (`meshlet run`, 1 worker: an h2c listener and a
// cluster reached over HTTP/2, h2/meshlet.yaml). Runs are interleaved: direct, meshlet, ...
import { readFileSync } from 'node:fs';
import {
  cpuPlacement,
  fmt,
  freePort,
  median,
  startMeshlet,
  startNginx,
  type Target,
  UPSTREAM_BODY,
} from '../lib/index.ts';
import type { BenchContext, BenchRow, BenchScenario, BenchTable } from '../types.ts';
import { runH2load, type H2loadResult } from './h2/h2load.ts';
import { percent, schedColumns, treeSched } from './load/loop.ts';

const DIRECT = 'direct (h2load → nginx h2c)';
const MESHLET = 'meshlet h2c listener → h2c cluster (1 worker)';
const CONNECTIONS = 8;
const STREAMS = 16;

/** meshlet's bootstrap (h2/meshlet.yaml) with its ports filled in. */
function bootstrap(proxyPort: number, upstreamPort: number): string {
  return readFileSync(new URL('h2/meshlet.yaml', import.meta.url), 'utf8')
    .replaceAll('$PROXY_PORT', String(proxyPort))
    .replaceAll('$UPSTREAM_PORT', String(upstreamPort));
}

interface H2Target {
  readonly label: string;
  readonly port: number;
  readonly proxy: Target | undefined;
  readonly rssOf: Target;
}

async function run(ctx: BenchContext): Promise<readonly BenchTable[]> {
  if (!ctx.need('h2load') || !ctx.need('nginx')) return [];
  const placement = cpuPlacement();
  const upstreamPort = await freePort();
  // Streams and connections are never closed by count, so neither h2load nor meshlet's pool
  // reconnects during a run.
  const upstream = await startNginx({
    name: 'upstream (nginx h2c)',
    port: upstreamPort,
    cpus: placement.load,
    http: `  http2_max_concurrent_streams 1024;
  server {
    listen 127.0.0.1:${upstreamPort} http2;
    location / {
      default_type text/plain;
      return 200 "${UPSTREAM_BODY.replace('\n', '\\n')}";
    }
  }`,
  });
  let meshlet: Target | undefined;
  try {
    const proxyPort = await freePort();
    meshlet = await startMeshlet({
      name: 'meshlet (HTTP/2)',
      bootstrap: bootstrap(proxyPort, upstreamPort),
      port: proxyPort,
      cpus: placement.target,
    });
    const targets: H2Target[] = [
      { label: DIRECT, port: upstreamPort, proxy: undefined, rssOf: upstream },
      { label: MESHLET, port: proxyPort, proxy: meshlet, rssOf: meshlet },
    ];
    const warmupSeconds = ctx.mode === 'full' ? 2 : ctx.mode === 'quick' ? 1 : 0;
    const load = (port: number, seconds: number): Promise<H2loadResult> =>
      runH2load({
        url: `http://127.0.0.1:${port}/`,
        seconds,
        connections: CONNECTIONS,
        streams: STREAMS,
        cpus: placement.load,
      });
    if (warmupSeconds > 0) for (const t of targets) await load(t.port, warmupSeconds);
    const runs = new Map<
      H2Target,
      { result: H2loadResult; proxy: { cpuPerCallUs: number; waitShare: number } | undefined }[]
    >(targets.map((t) => [t, []]));
    for (let round = 0; round < ctx.runs; round++) {
      for (const target of targets) {
        const before = target.proxy === undefined ? undefined : treeSched(target.proxy.pid);
        const result = await load(target.port, ctx.seconds);
        const proxy =
          target.proxy === undefined || before === undefined
            ? undefined
            : schedColumns(before, treeSched(target.proxy.pid), result.requests);
        ctx.log(
          `h2: run ${round + 1}/${ctx.runs} ${target.label}: ${Math.round(result.rps)} req/s, p99 ${result.p99Ms.toFixed(2)} ms`,
        );
        runs.get(target)?.push({ result, proxy });
      }
    }
    const rows = targets.map((target): BenchRow => {
      const list = runs.get(target) ?? [];
      const proxy = list.flatMap((r) => (r.proxy === undefined ? [] : [r.proxy]));
      return {
        target: target.label,
        rps: median(list.map((r) => r.result.rps)),
        p50Ms: median(list.map((r) => r.result.p50Ms)),
        p99Ms: median(list.map((r) => r.result.p99Ms)),
        p999Ms: median(list.map((r) => r.result.p999Ms)),
        rssMiB: target.rssOf.rssKiB() / 1024,
        errors: list.reduce((n, r) => n + r.result.errors, 0),
        extra: {
          'proxy CPU/request':
            proxy.length === 0 ? '—' : `${fmt(median(proxy.map((p) => p.cpuPerCallUs)))} µs`,
          'proxy starved': proxy.length === 0 ? '—' : percent(median(proxy.map((p) => p.waitShare))),
        },
      };
    });
    return [
      {
        title: 'HTTP/2 (h2c) GET',
        command: `npm run bench -- h2${ctx.mode === 'full' ? '' : ` --${ctx.mode}`}`,
        rows,
        ratioTo: MESHLET,
        notes: [
          `Load: h2load -t1 -c${CONNECTIONS} -m${STREAMS} -D${ctx.seconds} (h2c, prior knowledge), GET /; ${ctx.runs} interleaved run(s) per target${warmupSeconds ? ` after a ${warmupSeconds} s warm-up run each` : ''}; medians of the runs, errors (failed, errored, timed out, non-2xx) summed. Percentiles from h2load's per-request log.`,
          'Upstream: nginx (1 worker) speaking HTTP/2 cleartext, answering 200 with a 14-byte body; the same process for both rows.',
          '`meshlet run -c h2/meshlet.yaml --workers 1`: an h2c listener (codec_type HTTP2), one route, a cluster with http2_protocol_options.',
          `CPU placement: ${placement.description}.`,
          "proxy CPU/request: CPU time of the meshlet processes (from /proc/<pid>/schedstat) during the measured run, divided by its requests. proxy starved: the share of the run's wall time the meshlet processes were runnable but waiting for a CPU (run-queue delay from /proc/<pid>/schedstat); well above 0 % means other processes on its core set the row's requests/s, not meshlet.",
          'RSS: meshlet (supervisor + worker) at the end of its last run; for "direct", the upstream nginx.',
        ],
      },
    ];
  } finally {
    await meshlet?.stop();
    await upstream.stop();
  }
}

const scenario: BenchScenario = {
  name: 'h2',
  description: 'HTTP/2 (h2c) through meshlet vs direct, with h2load',
  run,
};
export default scenario;
