// The HTTP/1.1 targets of the suite, each one process (or master + one worker) on the target
// CPUs, all in front of the same upstream: shared by the http1, latency and memory scenarios.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  httpProxyBootstrap,
  startMeshlet,
  startNginx,
  startNodeScript,
  startTarget,
  type Target,
  toolPath,
  toolVersion,
} from '../../lib/index.ts';
import type { BenchContext } from '../../types.ts';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** A started peer: `port` is where the load generator sends requests; `target` is its process. */
export interface RunningPeer {
  readonly key: PeerKey;
  readonly label: string;
  readonly port: number;
  /** Undefined for "direct" (the load goes to the upstream itself). */
  readonly target: Target | undefined;
}

export const PEER_KEYS = [
  'direct',
  'pipe',
  'meshlet',
  'node-http-proxy',
  'fastify',
  'nginx',
  'haproxy',
] as const;
export type PeerKey = (typeof PEER_KEYS)[number];

/** The row label of meshlet in every table (the ratio column's reference). */
export const MESHLET_LABEL = 'meshlet (`meshlet run`, 1 worker)';

function labelOf(key: PeerKey): string {
  switch (key) {
    case 'direct':
      return 'direct (no proxy)';
    case 'pipe':
      return 'raw Node TCP pipe (net + pipe)';
    case 'meshlet':
      return MESHLET_LABEL;
    case 'node-http-proxy':
      return `node-http-proxy ${packageVersion('http-proxy')} (keep-alive agent)`;
    case 'fastify':
      return `@fastify/http-proxy ${packageVersion('@fastify/http-proxy')}`;
    case 'nginx':
      return `nginx ${/nginx\/(\S+)/.exec(toolVersion('nginx'))?.[1] ?? ''} (1 worker, upstream keepalive)`;
    case 'haproxy':
      return `HAProxy ${/version (\d+\.\d+)/.exec(toolVersion('haproxy'))?.[1] ?? ''} (1 thread)`;
  }
}

/** The external tool a peer needs, if any. */
function toolOf(key: PeerKey): string | undefined {
  return key === 'nginx' || key === 'haproxy' ? key : undefined;
}

async function startHaproxy(port: number, upstreamPort: number, cpus: string | undefined): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-haproxy-'));
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(
    file,
    `global
  nbthread 1
  # HAProxy wants 2 fds per connection and this machine's hard limit is 20,000: the most it can
  # hold is 9,940 (the memory scenario counts the connections each target really accepted)
  maxconn 9940
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  http-reuse always
  server upstream 127.0.0.1:${upstreamPort}
`,
  );
  try {
    const target = await startTarget({
      name: 'haproxy',
      command: toolPath('haproxy'),
      args: ['-db', '-f', file],
      cpus,
      port,
    });
    return {
      ...target,
      stop: async (graceMs?: number) => {
        try {
          await target.stop(graceMs);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function startPeer(
  key: PeerKey,
  port: number,
  upstreamPort: number,
  cpus: string | undefined,
): Promise<Target | undefined> {
  const args = [String(port), String(upstreamPort)];
  switch (key) {
    case 'direct':
      return undefined;
    case 'pipe':
      return startNodeScript({ name: 'node pipe', script: here('./pipe.ts'), args, port, cpus });
    case 'meshlet':
      return startMeshlet({ bootstrap: httpProxyBootstrap(port, upstreamPort), port, cpus });
    case 'node-http-proxy':
      return startNodeScript({
        name: 'node-http-proxy',
        script: here('./node-http-proxy.ts'),
        args,
        port,
        cpus,
      });
    case 'fastify':
      return startNodeScript({
        name: '@fastify/http-proxy',
        script: here('./fastify-proxy.ts'),
        args,
        port,
        cpus,
      });
    case 'nginx':
      return startNginx({
        name: 'nginx proxy',
        port,
        cpus,
        http: `  upstream backend {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`,
      });
    case 'haproxy':
      return startHaproxy(port, upstreamPort, cpus);
  }
}

/**
 * Starts the peers named by `keys` (all by default) in front of the upstream at `upstreamPort`,
 * on `cpus`; the ones whose tool is missing are skipped (see `ctx.need`), and named in `skipped`.
 * Stop them with {@link stopPeers}.
 */
export async function startPeers(
  ctx: BenchContext,
  upstreamPort: number,
  cpus: string | undefined,
  keys: readonly PeerKey[] = PEER_KEYS,
): Promise<{ peers: RunningPeer[]; skipped: string[] }> {
  const skipped: string[] = [];
  const wanted: PeerKey[] = [];
  for (const key of keys) {
    const tool = toolOf(key);
    if (tool !== undefined && !ctx.need(tool)) skipped.push(`${key} (${tool} is not installed)`);
    else wanted.push(key);
  }
  // Started side by side (most of a start is waiting on disk and the module loader), idle
  // until their turn.
  const started = await Promise.allSettled(
    wanted.map(async (key): Promise<RunningPeer> => {
      const port = key === 'direct' ? upstreamPort : await freePort();
      const target = await startPeer(key, port, upstreamPort, cpus);
      return { key, label: labelOf(key), port, target };
    }),
  );
  const peers: RunningPeer[] = [];
  const failures: unknown[] = [];
  for (const result of started) {
    if (result.status === 'fulfilled') peers.push(result.value);
    else failures.push(result.reason);
  }
  if (failures.length > 0) {
    await stopPeers(peers);
    throw failures[0];
  }
  return { peers, skipped };
}

/** Stops every peer's process. */
export async function stopPeers(peers: readonly RunningPeer[]): Promise<void> {
  const stopping: Promise<void>[] = [];
  for (const peer of peers) if (peer.target !== undefined) stopping.push(peer.target.stop());
  await Promise.all(stopping);
}
