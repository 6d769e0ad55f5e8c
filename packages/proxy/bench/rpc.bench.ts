// Bolt through the RPC proxy vs direct: requests per second and latency percentiles, one process
// (server, proxy and load client share one Node thread, so the proxy's cost shows as lost
// throughput). The Bolt bytes are real SOFARPC frames: one request and one response encoded by
// sofa-bolt-node (Hessian 2) once, then sent with a fresh request id each time, so neither peer
// spends its time in Hessian and the figures are the proxy's. The load client keeps CONNECTIONS
// connections with IN_FLIGHT requests outstanding on each (multiplexed by request id); client
// and server write what one read calls for in one write, as the proxy does.
//
//   node packages/proxy/bench/rpc.bench.ts            10 s per run
//   node packages/proxy/bench/rpc.bench.ts --quick    2 s per run
//   node packages/proxy/bench/rpc.bench.ts --smoke    about 1 s in all
import { once } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { ByteQueue, bolt } from '@meshlet/codec';
import { createProxy } from '@meshlet/proxy';
import { fmt, quick, smoke, table } from '../../../bench/harness.ts';
import { chainMatch, cluster, listener, snapshot } from '../test/e2e/helpers.ts';

const DURATION_MS = smoke ? 300 : quick ? 2_000 : 10_000;
const WARMUP_MS = smoke ? 100 : quick ? 500 : 2_000;
const CONNECTIONS = 4;
const IN_FLIGHT = 32;

const require = createRequire(import.meta.url);
const wire = require('sofa-bolt-node/lib/protocol') as {
  requestEncode(id: number, req: object, options: object): Buffer;
  responseEncode(id: number, res: object, options: object): Buffer;
};
const options = { protocolType: 'bolt', codecType: 'hessian2' };
const REQUEST = Buffer.from(
  wire.requestEncode(
    1,
    { serverSignature: 'com.acme.Greeter:1.0', methodName: 'hello', args: ['meshlet'], timeout: 3000 },
    options,
  ),
);
const RESPONSE = Buffer.from(
  wire.responseEncode(
    1,
    { isError: false, appResponse: { $class: 'java.lang.String', $: 'hello, meshlet' } },
    options,
  ),
);
// Bolt v1: the request id is the u32 at byte 5 of requests and responses alike.
const ID_OFFSET = 5;

/**
 * Calls `onId` with the request id of each whole Bolt frame read from `socket`. What `onId`
 * writes for one chunk read goes out in one write (corked), as a real client or server batches.
 */
function frameIds(socket: Socket, onId: (id: number) => void): void {
  const codec = bolt.createCodec();
  const queue = new ByteQueue();
  socket.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    socket.cork();
    for (let f = codec.decode(queue); f !== null; f = codec.decode(queue)) onId(f.requestId);
    socket.uncork();
  });
}

// The server: answers every request with RESPONSE carrying its id.
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  frameIds(socket, (id) => {
    const out = Buffer.from(RESPONSE);
    out.writeUInt32BE(id, ID_OFFSET);
    socket.write(out);
  });
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const serverPort = (server.address() as AddressInfo).port;

const proxy = createProxy({
  config: snapshot({
    listeners: [
      listener('rpc', [
        {
          name: 'bolt',
          filterChainMatch: chainMatch(),
          filters: [
            {
              name: 'meshlet.rpc_proxy',
              kind: 'rpc_proxy',
              config: {
                statPrefix: 'bolt',
                protocol: 'bolt',
                routes: [{ match: { headers: [] }, cluster: 'greeter' }],
              },
            },
          ],
        },
      ]),
    ],
    clusters: [cluster('greeter', [serverPort])],
  }),
});
await proxy.start();
const proxyPort = proxy.address('rpc')?.port ?? 0;

interface Result {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly latencies: Float64Array;
}

/** One connection: IN_FLIGHT requests outstanding until the deadline. */
async function connection(
  port: number,
  deadline: number,
  latencies: number[],
): Promise<{ requests: number; errors: number }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const sentAt = new Map<number, number>();
  let nextId = 1;
  let requests = 0;
  let errors = 0;
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  const send = (): void => {
    const id = nextId++;
    const out = Buffer.from(REQUEST);
    out.writeUInt32BE(id, ID_OFFSET);
    sentAt.set(id, performance.now());
    socket.write(out);
  };
  socket.on('error', () => {
    errors++;
    resolve();
  });
  frameIds(socket, (id) => {
    const t0 = sentAt.get(id);
    if (t0 === undefined) {
      errors++;
      return;
    }
    sentAt.delete(id);
    const now = performance.now();
    latencies.push(now - t0);
    requests++;
    if (now < deadline) send();
    else if (sentAt.size === 0) resolve();
  });
  socket.cork();
  for (let i = 0; i < IN_FLIGHT; i++) send();
  socket.uncork();
  await promise;
  socket.destroy();
  return { requests, errors };
}

async function load(port: number, durationMs: number): Promise<Result> {
  const latencies: number[] = [];
  const started = performance.now();
  const done = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => connection(port, started + durationMs, latencies)),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    requests: done.reduce((n, d) => n + d.requests, 0),
    errors: done.reduce((n, d) => n + d.errors, 0),
    seconds,
    latencies: Float64Array.from(latencies).sort(),
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const rows: Record<string, string>[] = [];
const results: Result[] = [];
for (const [name, port] of [
  ['direct (client → Bolt server)', serverPort],
  ['through @meshlet/proxy rpc_proxy', proxyPort],
] as const) {
  await load(port, WARMUP_MS);
  const r = await load(port, DURATION_MS);
  if (r.errors > 0) throw new Error(`${name}: ${r.errors} failed requests`);
  results.push(r);
  rows.push({
    path: name,
    'requests/s': fmt(r.requests / r.seconds),
    'p50 ms': fmt(percentile(r.latencies, 50), 2),
    'p99 ms': fmt(percentile(r.latencies, 99), 2),
    requests: fmt(r.requests),
  });
}
const [direct, proxied] = results as [Result, Result];
const ratio = proxied.requests / proxied.seconds / (direct.requests / direct.seconds);
rows.push({
  path: 'added by the proxy',
  'requests/s': `×${fmt(ratio, 2)}`,
  'p50 ms': `+${fmt(percentile(proxied.latencies, 50) - percentile(direct.latencies, 50), 2)}`,
  'p99 ms': `+${fmt(percentile(proxied.latencies, 99) - percentile(direct.latencies, 99), 2)}`,
  requests: '',
});
table(
  `Bolt (SOFARPC Hessian 2 frames), ${CONNECTIONS} connections × ${IN_FLIGHT} in flight, ${DURATION_MS / 1000} s, one process`,
  rows,
);

await proxy.close();
server.close();
