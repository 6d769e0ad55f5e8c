// Test helpers: model clusters translated from Envoy JSON by @meshlet/xds (so they carry the
// defaults a real config has), loopback servers, and a clock and timers that move on demand.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fromEnvoy, TYPE_URLS } from '@meshlet/xds';
import type { Cluster, ClusterLoadAssignment } from '@meshlet/xds';
import type { Host } from '@meshlet/lb';
import type { ManagedCluster } from '../../src/cluster/index.js';
import type { HealthCheckEvent } from '../../src/cluster/index.js';

/** A model cluster from Envoy JSON (camelCase or snake_case), with a 1 s connect timeout unless given. */
export function cluster(envoy: Record<string, unknown>): Cluster {
  return fromEnvoy({ '@type': TYPE_URLS.cluster, connect_timeout: '1s', ...envoy }).value as Cluster;
}

/** Envoy JSON of one lb endpoint. */
export function endpoint(
  address: string,
  port: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { endpoint: { address: { socket_address: { address, port_value: port } } }, ...extra };
}

/** Envoy JSON of a load assignment with one locality. */
export function assignmentJson(name: string, endpoints: Record<string, unknown>[]): Record<string, unknown> {
  return { cluster_name: name, endpoints: [{ lb_endpoints: endpoints }] };
}

/** A model load assignment (EDS resource). */
export function assignment(name: string, endpoints: Record<string, unknown>[]): ClusterLoadAssignment {
  return fromEnvoy({ '@type': TYPE_URLS.clusterLoadAssignment, ...assignmentJson(name, endpoints) })
    .value as ClusterLoadAssignment;
}

/** A STATIC cluster over loopback ports. */
export function staticCluster(
  name: string,
  ports: readonly number[],
  extra: Record<string, unknown> = {},
): Cluster {
  return cluster({
    name,
    type: 'STATIC',
    load_assignment: assignmentJson(
      name,
      ports.map((p) => endpoint('127.0.0.1', p)),
    ),
    ...extra,
  });
}

/** A map of clusters by name. */
export function clusters(...list: Cluster[]): Map<string, Cluster> {
  return new Map(list.map((c) => [c.name, c]));
}

export const NO_ENDPOINTS: ReadonlyMap<string, ClusterLoadAssignment> = new Map();

/** A loopback HTTP/1.1 server that counts the connections it accepted. */
export interface TestServer {
  readonly server: Server;
  readonly port: number;
  readonly sockets: Set<Socket>;
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

export async function httpServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  const server = createServer(handler);
  const sockets = new Set<Socket>();
  const out: TestServer = {
    server,
    port: 0,
    sockets,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
  server.on('connection', (socket: Socket) => {
    out.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (out as { port: number }).port = (server.address() as AddressInfo).port;
  return out;
}

/** A server answering `name` (and the status the test sets) to every request. */
export async function namedServer(name: string): Promise<TestServer & { status: number }> {
  const state = { status: 200 };
  const s = await httpServer((req, res) => {
    req.resume();
    res.writeHead(state.status, { 'content-type': 'text/plain' }).end(name);
  });
  return withAccessors(s, {
    get status() {
      return state.status;
    },
    set status(v: number) {
      state.status = v;
    },
  });
}

/** The fake clock and scheduler every package's tests share (test/support/fake-time.ts). */
export { FakeTime } from '../../../../test/support/fake-time.js';

/** Resolves with the next health check result of `cluster` (optionally of one host). */
export function nextHealthCheck(
  c: ManagedCluster,
  host?: Host,
): Promise<{ host: Host; event: HealthCheckEvent }> {
  return new Promise((resolve) => {
    const on = (h: Host, event: HealthCheckEvent): void => {
      if (host !== undefined && h !== host) return;
      c.off('healthCheck', on);
      resolve({ host: h, event });
    };
    c.on('healthCheck', on);
  });
}

/** Resolves once `cluster` applied a DNS answer. */
export function nextResolution(c: ManagedCluster): Promise<void> {
  return new Promise((resolve) => {
    c.once('resolved', () => {
      resolve();
    });
  });
}

/** `value`, or a test failure when it is null or undefined. */
export function must<T>(value: T | null | undefined, what = 'value'): T {
  if (value === null || value === undefined) throw new Error(`expected a ${what}`);
  return value;
}

/** `target` with the getters and setters of `accessors` defined on it (Object.assign would copy values). */
export function withAccessors<T extends object, A extends object>(target: T, accessors: A): T & A {
  return Object.defineProperties(target, Object.getOwnPropertyDescriptors(accessors)) as T & A;
}
