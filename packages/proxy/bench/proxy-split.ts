// The proxy alone in this process, the upstream and the undici load client in a child process:
// what one proxy process costs per request, and a clean CPU profile of it.
//
//   node packages/proxy/bench/proxy-split.ts [seconds]
//   node --cpu-prof --cpu-prof-dir=/tmp/prof packages/proxy/bench/proxy-split.ts 10
//   node packages/proxy/bench/profile-summary.ts /tmp/prof/<file>.cpuprofile
//
// Same load as proxy.bench.ts (16 kept-alive connections, 64 requests in flight, 13-byte GETs).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import type * as meshlet from '@meshlet/proxy';

const CONNECTIONS = 16;
const IN_FLIGHT = 64;

interface Ready {
  readonly upstreamPort: number;
}
interface Start {
  readonly proxyPort: number;
  readonly seconds: number;
}
interface Done {
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
}

async function child(): Promise<void> {
  const upstream = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('hello, world!');
  });
  upstream.keepAliveTimeout = 60_000;
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const ready: Ready = { upstreamPort: (upstream.address() as AddressInfo).port };
  process.send?.(ready);
  const [start] = (await once(process, 'message')) as [Start];
  const pool = new Pool(`http://127.0.0.1:${String(start.proxyPort)}`, {
    connections: CONNECTIONS,
    pipelining: 1,
  });
  const run = async (ms: number): Promise<Done> => {
    let requests = 0;
    let errors = 0;
    const started = performance.now();
    const deadline = started + ms;
    const worker = async (): Promise<void> => {
      while (performance.now() < deadline) {
        try {
          const res = await pool.request({ path: '/bench', method: 'GET' });
          await res.body.dump();
          if (res.statusCode !== 200) errors++;
        } catch {
          errors++;
        }
        requests++;
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    return { requests, errors, seconds: (performance.now() - started) / 1000 };
  };
  await run(1_000);
  process.send?.('measuring');
  const done = await run(start.seconds * 1000);
  await pool.close();
  upstream.closeAllConnections();
  upstream.close();
  process.send?.(done);
}

async function parent(): Promise<void> {
  // PROXY_DIST: another build of the package to compare (a copy of dist/ inside packages/proxy).
  const { createProxy } = (await import(process.env.PROXY_DIST ?? '@meshlet/proxy')) as typeof meshlet;
  const { cluster, gateway, route, routeAction } = await import('../test/e2e/helpers.ts');
  const seconds = Number(process.argv[2] ?? '10');
  const worker = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, SPLIT_CHILD: '1' },
    execArgv: [], // the profile is the proxy's alone
  });
  const [ready] = (await once(worker, 'message')) as [Ready];
  const proxy = createProxy({
    config: gateway({
      routes: [route('all', { route: routeAction('backend') })],
      clusters: [cluster('backend', [ready.upstreamPort])],
    }),
  });
  await proxy.start();
  const start: Start = { proxyPort: proxy.address('ingress')?.port ?? 0, seconds };
  worker.send(start);
  await once(worker, 'message'); // 'measuring': the warm-up is over
  const cpu0 = process.cpuUsage();
  const [done] = (await once(worker, 'message')) as [Done];
  const cpu = process.cpuUsage(cpu0);
  await proxy.close();
  worker.disconnect();
  const rps = Math.round(done.requests / done.seconds);
  // CPU the proxy process spent per request (user + system): the figure to watch when the load
  // client, not the proxy, is the bottleneck.
  const usPerRequest = (cpu.user + cpu.system) / done.requests;
  console.log(
    `proxy in its own process: ${String(rps)} requests/s, ${usPerRequest.toFixed(1)} µs CPU per request ` +
      `(user ${(cpu.user / done.requests).toFixed(1)}, system ${(cpu.system / done.requests).toFixed(1)}; ` +
      `${String(done.requests)} requests, ${String(done.errors)} errors, ${done.seconds.toFixed(1)} s)`,
  );
}

await (process.env.SPLIT_CHILD === '1' ? child() : parent());
