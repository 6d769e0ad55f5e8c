// nginx as a benchmark process: the shared upstream of every HTTP/1.1 scenario (a small fixed
// body, as cheap as an upstream gets), and a peer proxy. One master and one worker, in the
// foreground (so it is our child and its process group is stopped with it), its pid file, logs
// and temp folders in a folder of its own.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Target, startTarget } from './process.ts';
import { toolPath } from './tools.ts';

/** The body every upstream of the suite answers with (14 bytes). */
export const UPSTREAM_BODY = 'hello, world!\n';

export interface NginxSpec {
  readonly name: string;
  /** The port the `http` block listens on (waited for). */
  readonly port: number;
  /** The inside of the `http { }` block: `server`s, `upstream`s. */
  readonly http: string;
  readonly cpus?: string | undefined;
  /** worker_connections (default 20000: the suite's memory scenario opens 10,000). */
  readonly workerConnections?: number | undefined;
}

/** A started nginx; `stop()` also removes its folder. */
export interface NginxTarget extends Target {
  readonly dir: string;
}

/** Starts nginx with one worker and the given `http` block. */
export async function startNginx(spec: NginxSpec): Promise<NginxTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-nginx-'));
  // nginx's workers run as `nobody` when started by root: they need to reach the temp folders.
  chmodSync(dir, 0o755);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections ${spec.workerConnections ?? 20000};
}
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
${spec.http}
}
`,
  );
  let target: Target;
  try {
    target = await startTarget({
      name: spec.name,
      command: toolPath('nginx'),
      args: ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf],
      cpus: spec.cpus,
      port: spec.port,
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...target,
    dir,
    stop: async (graceMs?: number) => {
      try {
        await target.stop(graceMs);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The suite's upstream: nginx answering every request with 200 and {@link UPSTREAM_BODY}. */
export function startUpstream(port: number, cpus: string | undefined): Promise<NginxTarget> {
  return startNginx({
    name: 'upstream (nginx)',
    port,
    cpus,
    http: `  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      default_type text/plain;
      return 200 "${UPSTREAM_BODY.replace('\n', '\\n')}";
    }
  }`,
  });
}
