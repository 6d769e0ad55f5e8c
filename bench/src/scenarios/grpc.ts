// gRPC unary calls through meshlet vs direct. The upstream (grpc/upstream.ts) is a @grpc/grpc-js
// server; meshlet (`meshlet run`, 1 worker) is an HTTP/2 cleartext listener with a gRPC route to a
// cluster reached over HTTP/2 (grpc/meshlet.yaml). The load generator (grpc/load.ts) is a
// @grpc/grpc-js client loop in a process of its own. Runs are interleaved: direct, meshlet, ...
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BenchContext, BenchScenario, BenchTable } from '../types.ts';
import { interleaved, withProxiedUpstream } from './load/loop.ts';

const UPSTREAM = fileURLToPath(new URL('grpc/upstream.ts', import.meta.url));
const LOAD = fileURLToPath(new URL('grpc/load.ts', import.meta.url));
const DIRECT = 'direct (grpc-js client → grpc-js server)';
const MESHLET = 'meshlet h2c listener, gRPC route (1 worker)';
const CONNECTIONS = 4;
const IN_FLIGHT = 16;

/** meshlet's bootstrap (grpc/meshlet.yaml) with its ports filled in. */
function bootstrap(proxyPort: number, upstreamPort: number): string {
  return readFileSync(new URL('grpc/meshlet.yaml', import.meta.url), 'utf8')
    .replaceAll('$PROXY_PORT', String(proxyPort))
    .replaceAll('$UPSTREAM_PORT', String(upstreamPort));
}

async function run(ctx: BenchContext): Promise<readonly BenchTable[]> {
  const spec = { name: 'gRPC', upstreamScript: UPSTREAM, bootstrap, direct: DIRECT, meshlet: MESHLET };
  return withProxiedUpstream(spec, async (targets, placement) => {
    const warmupSeconds = ctx.mode === 'full' ? 2 : ctx.mode === 'quick' ? 1 : 0;
    const rows = await interleaved(
      ctx,
      {
        name: 'grpc',
        script: LOAD,
        args: ['--connections', String(CONNECTIONS), '--in-flight', String(IN_FLIGHT)],
        warmupSeconds,
        cpus: placement.load,
      },
      targets,
    );
    return [
      {
        title: 'gRPC unary calls (@grpc/grpc-js)',
        command: `npm run bench -- grpc${ctx.mode === 'full' ? '' : ` --${ctx.mode}`}`,
        rows,
        ratioTo: MESHLET,
        notes: [
          `Load: grpc/load.ts, ${CONNECTIONS} @grpc/grpc-js clients (one HTTP/2 connection each) × ${IN_FLIGHT} unary calls in flight, 100-byte messages as opaque bytes (no protobuf on either side); ${ctx.runs} interleaved run(s) of ${ctx.seconds} s per target after a ${warmupSeconds} s warm-up each; medians of the runs, errors summed.`,
          'Upstream: grpc/upstream.ts, a @grpc/grpc-js server answering every call with a 100-byte message; the same process for both rows.',
          '`meshlet run -c grpc/meshlet.yaml --workers 1`: an h2c listener (codec_type HTTP2), a route matching gRPC requests under /meshlet.bench.Echo/, a cluster with http2_protocol_options.',
          `CPU placement: ${placement.description}.`,
          "proxy CPU/call: CPU time of the meshlet processes (from /proc/<pid>/schedstat) over the whole run, divided by the calls completed (warm-up included). load CPU/call: the client process's own. proxy starved: the share of the run's wall time the meshlet processes were runnable but waiting for a CPU (run-queue delay from /proc/<pid>/schedstat); well above 0 % means other processes on its core set the row's requests/s, not meshlet.",
          'RSS: meshlet (supervisor + worker) at the end of its last run; for "direct", the upstream process.',
        ],
      },
    ];
  });
}

const scenario: BenchScenario = {
  name: 'grpc',
  description: 'gRPC unary calls through meshlet vs direct (a @grpc/grpc-js load loop)',
  run,
};
export default scenario;
