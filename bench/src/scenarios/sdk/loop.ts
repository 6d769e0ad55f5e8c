// In-process SDK egress: a closed loop of <concurrency> requests in flight for <seconds>, in
// this process, to the upstream at 127.0.0.1:<upstreamPort>, by one of:
//   undici-fetch    undici's fetch (its global Agent)
//   mesh-fetch      mesh.fetch('http://upstream/') (@meshlet/sdk; cluster "upstream")
//   undici-request  undici's request (its global Agent)
//   mesh-request    undici's request with { dispatcher: mesh.dispatcher }
// The process is the "app": its RSS before the client is set up, after the run, and its
// event-loop delay during the run are the SDK's overhead on an app.
//
//   node loop.ts <variant> <upstreamPort> <seconds> [concurrency]
//
// Prints one JSON line: { requests, errors, seconds, p50Us, p99Us, p999Us, rssBaseKiB, rssKiB,
// eldP50Ms, eldP99Ms }.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';

const variant = process.argv[2] ?? '';
const upstreamPort = Number(process.argv[3]);
const seconds = Number(process.argv[4]);
const concurrency = Number(process.argv[5] ?? 50);
const VARIANTS = ['undici-fetch', 'mesh-fetch', 'undici-request', 'mesh-request'];
if (!VARIANTS.includes(variant) || !(upstreamPort > 0 && seconds > 0 && concurrency > 0)) {
  process.stderr.write(
    `usage: node loop.ts <${VARIANTS.join('|')}> <upstreamPort> <seconds> [concurrency]\n`,
  );
  process.exit(2);
}

function rssKiB(): number {
  return Math.round(process.memoryUsage.rss() / 1024);
}

// The app before any HTTP client is loaded: an empty Node process.
globalThis.gc?.();
const rssBaseKiB = rssKiB();
const { fetch, request } = await import('undici');
const direct = `http://127.0.0.1:${upstreamPort}/`;
const viaMesh = 'http://upstream/';

let call: () => Promise<number>;
let close: () => Promise<void> = () => Promise.resolve();
if (variant.startsWith('mesh-')) {
  const { createMesh } = await import('@meshlet/sdk');
  const mesh = await createMesh({
    config: {
      static_resources: {
        clusters: [
          {
            name: 'upstream',
            type: 'STATIC',
            connect_timeout: '1s',
            load_assignment: {
              cluster_name: 'upstream',
              endpoints: [
                {
                  lb_endpoints: [
                    {
                      endpoint: {
                        address: { socket_address: { address: '127.0.0.1', port_value: upstreamPort } },
                      },
                    },
                  ],
                },
              ],
            },
          },
        ],
      },
    },
  });
  close = () => mesh.close();
  const dispatcher: Dispatcher = mesh.dispatcher;
  call =
    variant === 'mesh-fetch'
      ? async () => {
          const res = await mesh.fetch(viaMesh);
          await res.arrayBuffer();
          return res.status;
        }
      : async () => {
          const res = await request(viaMesh, { dispatcher });
          await res.body.dump();
          return res.statusCode;
        };
} else {
  call =
    variant === 'undici-fetch'
      ? async () => {
          const res = await fetch(direct);
          await res.arrayBuffer();
          return res.status;
        }
      : async () => {
          const res = await request(direct);
          await res.body.dump();
          return res.statusCode;
        };
}

const latencies: number[] = [];
let errors = 0;
const eld = monitorEventLoopDelay({ resolution: 1 });
eld.enable();
const t0 = performance.now();
const end = t0 + seconds * 1000;

async function worker(): Promise<void> {
  while (performance.now() < end) {
    const started = performance.now();
    try {
      const status = await call();
      if (status === 200) latencies.push((performance.now() - started) * 1000);
      else errors++;
    } catch {
      errors++;
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
const elapsed = (performance.now() - t0) / 1000;
eld.disable();
const rss = rssKiB();
await close();
latencies.sort((a, b) => a - b);
const q = (p: number): number =>
  latencies.length === 0
    ? Number.NaN
    : (latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] as number);
process.stdout.write(
  `${JSON.stringify({
    requests: latencies.length,
    errors,
    seconds: elapsed,
    p50Us: q(0.5),
    p99Us: q(0.99),
    p999Us: q(0.999),
    rssBaseKiB,
    rssKiB: rss,
    eldP50Ms: eld.percentile(50) / 1e6,
    eldP99Ms: eld.percentile(99) / 1e6,
  })}\n`,
);
process.exit(0);
