// The independent check of the test control plane: gRPC's own xDS client (@grpc/grpc-js-xds)
// consumes it. A grpc-js client on `xds:///shop` (in a child process, since grpc-js-xds registers
// its resolver globally) learns listener → routes → cluster → endpoint from the control plane and
// reaches a real gRPC server on loopback whose address only the control plane knows.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPE_URLS, createTestControlPlane, type TestControlPlane } from '@meshlet/xds';

let server: grpc.Server;
let serverPort = 0;
let cp: TestControlPlane;

beforeAll(async () => {
  server = new grpc.Server();
  const identity = (b: Buffer): Buffer => b;
  server.addService(
    {
      Echo: {
        path: '/meshlet.test.Echo/Echo',
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        callback(null, Buffer.from(`pong from ${serverPort} to ${call.request.toString()}`));
      },
    },
  );
  serverPort = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) reject(err);
      else resolve(port);
    });
  });
  cp = createTestControlPlane();
  await cp.start();
  cp.setSnapshot({
    version: '1',
    listeners: [
      {
        name: 'shop',
        api_listener: {
          api_listener: {
            '@type': TYPE_URLS.httpConnectionManager,
            stat_prefix: 'shop',
            rds: { route_config_name: 'shop-routes', config_source: { ads: {} } },
            http_filters: [
              { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URLS.router } },
            ],
          },
        },
      },
    ],
    routes: [
      {
        name: 'shop-routes',
        virtual_hosts: [
          {
            name: 'shop',
            domains: ['shop'],
            routes: [{ match: { prefix: '' }, route: { cluster: 'echo' } }],
          },
        ],
      },
    ],
    clusters: [
      {
        name: 'echo',
        type: 'EDS',
        eds_cluster_config: { eds_config: { ads: {} } },
        lb_policy: 'ROUND_ROBIN',
        connect_timeout: '1s',
      },
    ],
    endpoints: [
      {
        cluster_name: 'echo',
        endpoints: [
          {
            locality: { region: 'test' },
            // gRPC ignores localities without a weight.
            load_balancing_weight: 1,
            lb_endpoints: [
              { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: serverPort } } } },
            ],
          },
        ],
      },
    ],
  });
});

afterAll(async () => {
  await cp.close();
  server.forceShutdown();
});

function runClient(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const bootstrap = {
    xds_servers: [
      { server_uri: cp.address, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] },
    ],
    node: { id: 'grpc-js-xds-client', locality: { region: 'test' } },
  };
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./interop/grpc-xds-client.ts', import.meta.url)), 'shop'],
    {
      env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap), GRPC_XDS_BOOTSTRAP: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the test control plane, consumed by @grpc/grpc-js-xds', () => {
  it('leads a grpc-js client on xds:///shop to the real server whose endpoint it served', async () => {
    const { code, stdout, stderr } = await runClient();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(`reply: pong from ${serverPort} to ping\n`);
    // gRPC's client asked for each resource by name, and ACKed every response.
    const byType = (url: string): string[][] =>
      cp.requests.filter((r) => r.typeUrl === url).map((r) => [...r.resourceNames]);
    expect(byType(TYPE_URLS.listener)[0]).toEqual(['shop']);
    expect(byType(TYPE_URLS.routeConfiguration)[0]).toEqual(['shop-routes']);
    expect(byType(TYPE_URLS.cluster)[0]).toEqual(['echo']);
    expect(byType(TYPE_URLS.clusterLoadAssignment)[0]).toEqual(['echo']);
    expect(cp.requests.filter((r) => r.errorDetail !== undefined)).toEqual([]);
  });
});
