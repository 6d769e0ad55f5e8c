// SOFA Bolt RPC through meshlet vs direct. The upstream (bolt/upstream.ts) answers every
// SOFARPC call with the same response; meshlet (`meshlet run`, 1 worker) routes by the service
// signature with its rpc_proxy (bolt/meshlet.yaml). Two load generators, each a process of its
// own (bolt/load.ts): sofa-bolt-node's frames re-sent with fresh ids (the generator as cheap as it
// gets, so the proxy's cost shows), and sofa-bolt-node's `RpcClient` (Hessian 2 per call, what
// an application's calls cost). Runs are interleaved: direct, meshlet, direct, meshlet...
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BenchContext, BenchScenario, BenchTable } from '../types.ts';
import { interleaved, withProxiedUpstream } from './load/loop.ts';

const UPSTREAM = fileURLToPath(new URL('bolt/upstream.ts', import.meta.url));
const LOAD = fileURLToPath(new URL('bolt/load.ts', import.meta.url));
const DIRECT = 'direct (load → Bolt server)';
const MESHLET = 'meshlet rpc_proxy (1 worker)';

/** meshlet's bootstrap (bolt/meshlet.yaml) with its ports filled in. */
function bootstrap(proxyPort: number, upstreamPort: number): string {
  return readFileSync(new URL('bolt/meshlet.yaml', import.meta.url), 'utf8')
    .replaceAll('$PROXY_PORT', String(proxyPort))
    .replaceAll('$UPSTREAM_PORT', String(upstreamPort));
}

const CLIENTS = [
  {
    client: 'frames',
    title: 'Bolt RPC, pre-encoded SOFARPC frames',
    connections: 8,
    inFlight: 16,
    load: 'bolt/load.ts: sofa-bolt-node request bytes (Hessian 2) re-sent with a fresh id, 8 connections × 16 calls in flight, multiplexed by request id; what one read calls for leaves in one write',
  },
  {
    client: 'sofa',
    title: 'Bolt RPC, sofa-bolt-node RpcClient',
    connections: 4,
    inFlight: 16,
    load: "bolt/load.ts --client sofa: sofa-bolt-node's RpcClient.invoke(), 4 clients (a connection each) × 16 calls in flight; Hessian 2 encode and decode on every call",
  },
] as const;

async function run(ctx: BenchContext): Promise<readonly BenchTable[]> {
  const spec = { name: 'Bolt', upstreamScript: UPSTREAM, bootstrap, direct: DIRECT, meshlet: MESHLET };
  return withProxiedUpstream(spec, async (targets, placement) => {
    const warmupSeconds = ctx.mode === 'full' ? 2 : ctx.mode === 'quick' ? 1 : 0;
    const tables: BenchTable[] = [];
    for (const c of CLIENTS) {
      const rows = await interleaved(
        ctx,
        {
          name: `bolt (${c.client})`,
          script: LOAD,
          args: [
            '--client',
            c.client,
            '--connections',
            String(c.connections),
            '--in-flight',
            String(c.inFlight),
          ],
          warmupSeconds,
          cpus: placement.load,
        },
        targets,
      );
      tables.push({
        title: c.title,
        command: `npm run bench -- bolt${ctx.mode === 'full' ? '' : ` --${ctx.mode}`}`,
        rows,
        ratioTo: MESHLET,
        notes: [
          `Load: ${c.load}; ${ctx.runs} interleaved run(s) of ${ctx.seconds} s per target after a ${warmupSeconds} s warm-up each; medians of the runs, errors summed.`,
          'Upstream: bolt/upstream.ts, a Node process answering every call with the same SOFARPC response (sofa-bolt-node bytes, the request id swapped in); the same process for both rows.',
          "meshlet: `meshlet run -c bolt/meshlet.yaml --workers 1`, a Bolt rpc_proxy routing on the service signature (the request's header map is read) to one STATIC cluster.",
          `CPU placement: ${placement.description}.`,
          "proxy CPU/call: CPU time of the meshlet processes (supervisor and worker, from /proc/<pid>/schedstat) over the whole run, divided by the calls completed (warm-up included). load CPU/call: the load process's own. proxy starved: the share of the run's wall time the meshlet processes were runnable but waiting for a CPU (run-queue delay from /proc/<pid>/schedstat); well above 0 % means other processes on its core set the row's requests/s, not meshlet.",
          'RSS: meshlet (supervisor + worker) at the end of its last run; for "direct", the upstream process.',
        ],
      });
    }
    return tables;
  });
}

const scenario: BenchScenario = {
  name: 'bolt',
  description: 'SOFA Bolt RPC through meshlet vs direct (sofa-bolt-node frames and RpcClient load loops)',
  run,
};
export default scenario;
