// A mesh whose whole config comes from an xDS control plane over ADS (gRPC): a listener whose
// routes come by RDS, and two clusters, `blue` and `green`. The control plane here is
// @meshlet/xds's test control plane, serving snapshots set in code; Istio's istiod or any ADS
// server plays the same part in production. While the app keeps calling `http://shop/`, the
// control plane moves the route's weights 100/0 → 50/50 → 0/100, and the traffic follows.
//
// `node examples/xds/main.ts` runs the tour and exits, as does `--smoke` (npm test runs it
// through test/examples-xds.test.ts).
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createMesh, type Mesh } from '@meshlet/sdk';
import { TYPE_URLS, createTestControlPlane, type TestControlPlane } from '@meshlet/xds';

/** A service instance answering its name. */
async function service(name: string): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    res.end(name);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

const portOf = (server: Server): number => (server.address() as AddressInfo).port;

/** The RDS resource: `http://shop/...` split between blue and green by weight. */
function routes(blue: number, green: number): object {
  return {
    name: 'outbound',
    virtual_hosts: [
      {
        name: 'shop',
        domains: ['shop'],
        routes: [
          {
            match: { prefix: '/' },
            route: {
              weighted_clusters: {
                clusters: [
                  { name: 'blue', weight: blue },
                  { name: 'green', weight: green },
                ],
              },
            },
          },
        ],
      },
    ],
  };
}

/** The LDS resource: an HTTP listener whose route table comes over the same ADS stream. */
const listener = {
  name: 'outbound',
  address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
  filter_chains: [
    {
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type':
              'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
            stat_prefix: 'outbound',
            rds: { route_config_name: 'outbound', config_source: { ads: {} } },
            http_filters: [
              {
                name: 'envoy.filters.http.router',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                },
              },
            ],
          },
        },
      ],
    },
  ],
};

/** A CDS resource: a static cluster of one loopback instance. */
function cluster(name: string, port: number): object {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: [
            { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } },
          ],
        },
      ],
    },
  };
}

/** The running example: the control plane, the mesh following it, the two services. */
export interface Example {
  readonly plane: TestControlPlane;
  readonly mesh: Mesh;
  /** Publishes a new snapshot version with these weights. */
  setWeights(version: string, blue: number, green: number): void;
  close(): Promise<void>;
}

/** Starts blue, green, the control plane (version 1: 100/0) and a mesh following it. */
export async function startExample(): Promise<Example> {
  const blue = await service('blue');
  const green = await service('green');
  const plane = createTestControlPlane();
  const server = await plane.start();
  const clusters = [cluster('blue', portOf(blue)), cluster('green', portOf(green))];
  const setWeights = (version: string, b: number, g: number): void => {
    plane.setSnapshot({ version, listeners: [listener], routes: [routes(b, g)], clusters });
  };
  setWeights('1', 100, 0);
  // Resolves once the first snapshot (listeners, routes, clusters) is in.
  const mesh = await createMesh({ xds: { server, node: { id: 'shop-client-1', cluster: 'shop-client' } } });
  return {
    plane,
    mesh,
    setWeights,
    async close() {
      await mesh.close();
      await plane.close();
      for (const s of [blue, green]) {
        s.closeAllConnections();
        await new Promise((resolve) => s.close(resolve));
      }
    },
  };
}

/** Traffic counted while one config version was in force. */
interface Phase {
  readonly label: string;
  readonly counts: Record<string, number>;
  total: number;
}

/**
 * Keeps calling `http://shop/` through the mesh while the control plane publishes 100/0, 50/50
 * and 0/100; each request is counted in the phase in force when it was sent. One line per phase,
 * and one with what the control plane saw from the mesh (its node id and ACKs).
 */
export async function tour(example: Example, perPhase = 40): Promise<string[]> {
  const { mesh, plane } = example;
  const newPhase = (label: string): Phase => ({ label, counts: { blue: 0, green: 0 }, total: 0 });
  const phases = [newPhase('v1  blue 100 / green 0  ')];
  let current = phases[0] as Phase;
  let next: Phase | undefined;
  // The proxy emits `updated` when a new config version is in force, before any later request.
  const onUpdated = (): void => {
    if (next !== undefined) {
      phases.push(next);
      current = next;
      next = undefined;
    }
  };
  mesh.on('updated', onUpdated);
  const state: { running: boolean } = { running: true };
  let wake: (() => void) | undefined;
  const traffic = (async () => {
    while (state.running) {
      const phase = current;
      const res = await mesh.fetch('http://shop/');
      const body = await res.text();
      phase.counts[body] = (phase.counts[body] ?? 0) + 1;
      phase.total++;
      if (phase.total >= perPhase) wake?.();
    }
  })();
  const full = async (phase: Phase): Promise<void> => {
    while (phase.total < perPhase) await new Promise<void>((resolve) => (wake = resolve));
  };
  const steps: [string, string, number, number][] = [
    ['2', 'v2  blue 50  / green 50 ', 50, 50],
    ['3', 'v3  blue 0   / green 100', 0, 100],
  ];
  for (const [version, label, blue, green] of steps) {
    await full(current);
    next = newPhase(label);
    const applied = new Promise<void>((resolve) => {
      mesh.once('updated', () => {
        resolve();
      });
    });
    example.setWeights(version, blue, green);
    await applied;
  }
  await full(current);
  state.running = false;
  await traffic;
  mesh.off('updated', onUpdated);
  const lines = phases.map(
    (p) =>
      `${p.label} → ${String(p.total).padStart(3)} requests: blue ${p.counts.blue}, green ${p.counts.green}`,
  );
  const acked = plane.requests
    .filter(
      (r) =>
        r.typeUrl === TYPE_URLS.routeConfiguration && r.versionInfo !== '' && r.errorDetail === undefined,
    )
    .map((r) => r.versionInfo);
  const node = plane.requests.find((r) => r.nodeId !== undefined)?.nodeId;
  lines.push(`control plane: node ${node} ACKed route versions ${[...new Set(acked)].join(', ')}`);
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const example = await startExample();
  console.log(
    `A mesh following the ADS server at ${example.plane.address}; traffic to http://shop/ by version:\n`,
  );
  for (const line of await tour(example)) console.log('  ' + line);
  await example.close();
}
