// The proxy alone in this process under wrk (HTTP/1.1 keep-alive, 50 connections, small body),
// nginx (or a node:http child when nginx is missing) as the upstream: what one proxy process
// costs per request in CPU (user + system of this process), which other load on the machine
// changes far less than requests per second.
//
//   node packages/proxy/bench/proxy-wrk.ts [seconds] [runs]
//   node --cpu-prof --cpu-prof-dir=/tmp/prof packages/proxy/bench/proxy-wrk.ts 10
//   PROXY_DIST=/path/to/dist/index.js node packages/proxy/bench/proxy-wrk.ts   (another build)
//
// Needs `wrk` on the PATH.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as meshlet from '@meshlet/proxy';

const seconds = Number(process.argv[2] ?? '10');
const runs = Number(process.argv[3] ?? '1');
const CONNECTIONS = 50;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`nothing listens on ${String(port)}`);
}

interface Upstream {
  readonly port: number;
  stop(): Promise<void>;
}

async function nginxUpstream(): Promise<Upstream | null> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-wrk-'));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir};
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${String(port)};
    location / { default_type text/plain; return 200 "hello, world!"; }
  }
}
`,
  );
  let child: ChildProcess;
  try {
    child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
    await Promise.race([
      waitForPort(port),
      once(child, 'error').then(([error]) => {
        throw error as Error;
      }),
    ]);
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return {
    port,
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function nodeUpstream(): Promise<Upstream> {
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('hello, world!');
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    stop() {
      server.closeAllConnections();
      server.close();
      return Promise.resolve();
    },
  };
}

interface WrkResult {
  readonly requests: number;
  readonly errors: number;
  readonly rps: number;
}

function wrk(port: number, durationS: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'wrk',
      [
        '-t1',
        `-c${String(CONNECTIONS)}`,
        `-d${String(durationS)}s`,
        `http://127.0.0.1:${String(port)}/bench`,
      ],
      (error, stdout) => {
        if (error !== null) {
          reject(new Error('wrk failed', { cause: error }));
          return;
        }
        const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 'NaN');
        const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 'NaN');
        const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? '0');
        const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
          stdout,
        );
        const errors =
          non2xx + (socketErrors === null ? 0 : socketErrors.slice(1).reduce((a, b) => a + Number(b), 0));
        resolve({ requests, errors, rps });
      },
    );
  });
}

const { createProxy } = (await import(process.env.PROXY_DIST ?? '@meshlet/proxy')) as typeof meshlet;
const { cluster, gateway, route, routeAction } = await import('../test/e2e/helpers.ts');
const upstream =
  process.env.UPSTREAM === 'node'
    ? await nodeUpstream()
    : ((await nginxUpstream()) ?? (await nodeUpstream()));
const proxy = createProxy({
  config: gateway({
    routes: [route('all', { route: routeAction('backend') })],
    clusters: [cluster('backend', [upstream.port])],
  }),
});
await proxy.start();
const port = proxy.address('ingress')?.port ?? 0;
await wrk(port, 2); // warm-up
for (let run = 0; run < runs; run++) {
  const cpu0 = process.cpuUsage();
  const result = await wrk(port, seconds);
  const cpu = process.cpuUsage(cpu0);
  const us = (cpu.user + cpu.system) / result.requests;
  console.log(
    `meshlet proxy under wrk -c${String(CONNECTIONS)}: ${result.rps.toFixed(0)} requests/s, ` +
      `${us.toFixed(1)} µs CPU per request (user ${(cpu.user / result.requests).toFixed(1)}, ` +
      `system ${(cpu.system / result.requests).toFixed(1)}; ${String(result.requests)} requests, ` +
      `${String(result.errors)} errors)`,
  );
}
await proxy.close();
await upstream.stop();
