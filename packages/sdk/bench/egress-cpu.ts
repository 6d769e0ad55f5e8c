// CPU time per in-process egress call, A/B: undici `request` through `mesh.dispatcher` vs
// through an undici Agent straight to the upstream (and `mesh.fetch` vs undici `fetch`). The
// upstream (node:http) runs in a child process, so this process's `process.cpuUsage()` is the
// client's cost alone; variants run interleaved in rounds, so a shared machine's noise hits
// them alike. Prints CPU µs per call (median and minimum of the rounds) per variant; on a
// shared machine the minimum is the steadier figure. COUNT_CONNS=1 prints the upstream's
// connection count at the end (a check that both paths keep connections alive).
//
//   node packages/sdk/bench/egress-cpu.ts [rounds=5] [callsPerRound=5000] [inFlight=50] [variant]
//   node --cpu-prof packages/sdk/bench/egress-cpu.ts 3 20000 50 mesh-request   (one variant)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { Agent, fetch, request } from 'undici';
import { createMesh } from '@meshlet/sdk';

const rounds = Number(process.argv[2] ?? 5);
const calls = Number(process.argv[3] ?? 5000);
const inFlight = Number(process.argv[4] ?? 50);
const only = process.argv[5];

const UPSTREAM = `
const http = require('node:http');
const s = http.createServer((req, res) => { res.setHeader('content-type', 'text/plain'); res.end('hello, world!'); });
s.keepAliveTimeout = 60000; let conns = 0; s.on('connection', () => conns++); process.on('SIGTERM', () => { if (process.env.COUNT_CONNS) process.stderr.write('upstream connections: ' + conns + String.fromCharCode(10)); process.exit(0); });
s.listen(Number(process.argv[1]), '127.0.0.1', () => process.stdout.write('ready\\n'));
`;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  return port;
}

const port = await freePort();
const upstream = spawn(process.execPath, ['-e', UPSTREAM, String(port)], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
await once(upstream.stdout, 'data');

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
                  { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } },
                ],
              },
            ],
          },
        },
      ],
    },
  },
});
const agent = new Agent();
const direct = `http://127.0.0.1:${port}/`;
const viaMesh = 'http://upstream/';
const dispatcher = mesh.dispatcher;

const VARIANTS: Record<string, () => Promise<number>> = {
  'undici-request': async () => {
    const res = await request(direct, { dispatcher: agent });
    await res.body.dump();
    return res.statusCode;
  },
  'mesh-request': async () => {
    const res = await request(viaMesh, { dispatcher });
    await res.body.dump();
    return res.statusCode;
  },
  'undici-fetch': async () => {
    const res = await fetch(direct, { dispatcher: agent });
    await res.arrayBuffer();
    return res.status;
  },
  'mesh-fetch': async () => {
    const res = await mesh.fetch(viaMesh);
    await res.arrayBuffer();
    return res.status;
  },
};
const names = only === undefined ? Object.keys(VARIANTS) : [only];

async function run(call: () => Promise<number>, n: number): Promise<number> {
  let left = n;
  let bad = 0;
  const worker = async (): Promise<void> => {
    while (left > 0) {
      left--;
      if ((await call()) !== 200) bad++;
    }
  };
  const start = process.cpuUsage();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const used = process.cpuUsage(start);
  if (bad > 0) throw new Error(`${bad} calls failed`);
  return (used.user + used.system) / n;
}

const samples = new Map<string, number[]>(names.map((name) => [name, []]));
for (const name of names) await run(VARIANTS[name] as () => Promise<number>, Math.min(calls, 2000)); // warm-up
for (let round = 0; round < rounds; round++) {
  for (const name of names)
    samples.get(name)?.push(await run(VARIANTS[name] as () => Promise<number>, calls));
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
for (const [name, xs] of samples) {
  const least = Math.min(...xs);
  console.log(
    `${name.padEnd(16)} median ${median(xs).toFixed(1).padStart(6)}  min ${least.toFixed(1).padStart(6)} µs CPU/call  (rounds: ${xs.map((x) => x.toFixed(1)).join(' ')})`,
  );
}
await mesh.close();
await agent.close();
upstream.kill();
