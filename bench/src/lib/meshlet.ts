// meshlet as a benchmark target: the real CLI (`meshlet run -c <bootstrap>`), as a user runs
// it, with a bootstrap written to a folder of its own. Also the Node child scripts of the peers.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Target, startTarget } from './process.ts';

const require = createRequire(import.meta.url);

/** The `meshlet` CLI's entry (the built @meshlet/sdk: `npm test` and `pnpm run build` build it). */
export function meshletBin(): string {
  return join(dirname(require.resolve('@meshlet/sdk/package.json')), 'bin', 'meshlet.js');
}

export interface MeshletSpec {
  readonly name?: string | undefined;
  /** The bootstrap (Envoy v3 YAML or JSON). */
  readonly bootstrap: string;
  /** The port to wait for (a listener of the bootstrap). */
  readonly port: number;
  readonly cpus?: string | undefined;
  /** `--workers` (default 1). */
  readonly workers?: number | undefined;
  /** Node flags for the CLI's process (the workers inherit execArgv), e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[] | undefined;
}

/** Starts `meshlet run -c <bootstrap> --workers <n> --drain-time-s 0`; `stop()` also removes its folder. */
export async function startMeshlet(spec: MeshletSpec): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-bench-'));
  const file = join(dir, 'bootstrap.yaml');
  writeFileSync(file, spec.bootstrap);
  let target: Target;
  try {
    target = await startTarget({
      name: spec.name ?? 'meshlet',
      command: process.execPath,
      args: [
        ...(spec.nodeArgs ?? []),
        meshletBin(),
        'run',
        '-c',
        file,
        '--workers',
        String(spec.workers ?? 1),
      ],
      cpus: spec.cpus,
      port: spec.port,
      env: { NODE_ENV: 'production' },
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
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
}

/**
 * An HTTP/1.1 proxy bootstrap: listener `ingress` on `port` routing every request to cluster
 * `upstream` at 127.0.0.1:`upstreamPort`, router filter only. The admin listens on a free port
 * (without an `admin` block the CLI takes 9901, which two runs at once would fight over).
 */
export function httpProxyBootstrap(port: number, upstreamPort: number): string {
  return `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
    - name: ingress
      address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                route_config:
                  name: local
                  virtual_hosts:
                    - name: all
                      domains: ['*']
                      routes:
                        - match: { prefix: / }
                          route: { cluster: upstream }
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      '@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: upstream
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: upstream
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } }
`;
}

/** Starts a Node script of the suite (TypeScript, type-stripped) as a target process. */
export function startNodeScript(spec: {
  readonly name: string;
  readonly script: string;
  readonly args?: readonly string[] | undefined;
  readonly port?: number | undefined;
  readonly cpus?: string | undefined;
  readonly nodeArgs?: readonly string[] | undefined;
}): Promise<Target> {
  return startTarget({
    name: spec.name,
    command: process.execPath,
    args: [...(spec.nodeArgs ?? []), spec.script, ...(spec.args ?? [])],
    cpus: spec.cpus,
    port: spec.port,
    env: { NODE_ENV: 'production' },
  });
}
