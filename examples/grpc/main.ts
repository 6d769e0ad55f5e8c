// gRPC through meshlet: a @grpc/grpc-js client calls the `meshlet.example.Catalog` service
// (catalog.proto) through a meshlet listener speaking HTTP/2 cleartext (h2c), whose gRPC route
// balances calls over two grpc-js server instances, on HTTP/2 upstream connections. Unary calls,
// server streaming, status codes and metadata go through unchanged.
//
// `node examples/grpc/main.ts` runs the tour and exits, as does `--smoke` (npm test runs it
// through test/examples-grpc.test.ts).
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { createMesh, type Mesh } from '@meshlet/sdk';

interface Item {
  id: number;
  name: string;
  instance: string;
}

const ITEMS = ['apple', 'apricot', 'banana', 'blueberry', 'cherry'];

const definition = loadSync(fileURLToPath(new URL('catalog.proto', import.meta.url)));
const proto = grpc.loadPackageDefinition(definition) as unknown as {
  meshlet: { example: { Catalog: grpc.ServiceClientConstructor } };
};
const Catalog = proto.meshlet.example.Catalog;

/** One instance of the Catalog service on a free loopback port. */
async function catalogServer(instance: string): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(Catalog.service, {
    getItem(call: grpc.ServerUnaryCall<{ id: number }, Item>, callback: grpc.sendUnaryData<Item>) {
      const name = ITEMS[call.request.id - 1];
      if (name === undefined) {
        callback({ code: grpc.status.NOT_FOUND, details: `no item ${call.request.id}` });
        return;
      }
      const trailer = new grpc.Metadata();
      trailer.set('x-served-by', instance);
      callback(null, { id: call.request.id, name, instance }, trailer);
    },
    listItems(call: grpc.ServerWritableStream<{ prefix: string }, Item>) {
      ITEMS.forEach((name, i) => {
        if (name.startsWith(call.request.prefix)) call.write({ id: i + 1, name, instance });
      });
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => {
      if (error) reject(error);
      else resolve(p);
    });
  });
  return { server, port };
}

const socketAddress = (port: number): object => ({
  socket_address: { address: '127.0.0.1', port_value: port },
});

/**
 * The Envoy bootstrap: an HTTP/2 listener (`codec_type: HTTP2`) on `port`, a route for gRPC
 * requests (`grpc: {}`) to the Catalog service with no route timeout (gRPC calls may stream), and
 * the `catalog` cluster speaking HTTP/2 to its two instances.
 */
export function meshConfig(port: number, upstreamPorts: readonly number[]): object {
  return {
    static_resources: {
      listeners: [
        {
          name: 'grpc_ingress',
          address: socketAddress(port),
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'grpc_ingress',
                    codec_type: 'HTTP2',
                    route_config: {
                      name: 'grpc',
                      virtual_hosts: [
                        {
                          name: 'catalog',
                          domains: ['*'],
                          routes: [
                            {
                              match: { prefix: '/meshlet.example.Catalog/', grpc: {} },
                              route: { cluster: 'catalog', timeout: '0s' },
                            },
                          ],
                        },
                      ],
                    },
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
        },
      ],
      clusters: [
        {
          name: 'catalog',
          type: 'STATIC',
          connect_timeout: '1s',
          lb_policy: 'ROUND_ROBIN',
          http2_protocol_options: {},
          load_assignment: {
            cluster_name: 'catalog',
            endpoints: [
              { lb_endpoints: upstreamPorts.map((p) => ({ endpoint: { address: socketAddress(p) } })) },
            ],
          },
        },
      ],
    },
  };
}

/** The running example: the mesh serving the listener, the gRPC target to call, a way to stop. */
export interface Example {
  readonly mesh: Mesh;
  /** `127.0.0.1:PORT` of meshlet's listener: what the gRPC client dials. */
  readonly target: string;
  close(): Promise<void>;
}

/** Starts two Catalog instances (`a`, `b`) and meshlet's listener on `port` (0: any free port). */
export async function startExample(port = 0): Promise<Example> {
  const servers = [await catalogServer('a'), await catalogServer('b')];
  const mesh = await createMesh({
    config: meshConfig(
      port,
      servers.map((s) => s.port),
    ),
    admin: false,
  });
  await mesh.listen();
  return {
    mesh,
    target: `127.0.0.1:${mesh.address('grpc_ingress')?.port}`,
    async close() {
      await mesh.close();
      for (const s of servers) s.server.forceShutdown();
    },
  };
}

type CatalogClient = grpc.Client & {
  getItem(
    request: { id: number },
    callback: (error: grpc.ServiceError | null, item?: Item) => void,
  ): grpc.ClientUnaryCall;
  listItems(request: { prefix: string }): grpc.ClientReadableStream<Item>;
};

/** Unary calls (balanced over both instances), one NOT_FOUND, one server stream, a line each; then meshlet's count. */
export async function tour(target: string, mesh?: Mesh): Promise<string[]> {
  const client = new Catalog(target, grpc.credentials.createInsecure()) as unknown as CatalogClient;
  const lines: string[] = [];
  try {
    for (const id of [1, 2, 3, 4, 9]) {
      lines.push(
        await new Promise<string>((resolve) => {
          const label = `GetItem(${id})`.padEnd(24);
          let answer = '';
          const call = client.getItem({ id }, (error, item) => {
            answer =
              error === null
                ? `${item?.name} from instance ${item?.instance}`
                : `${grpc.status[error.code]}: ${error.details}`;
          });
          // grpc-js emits the status (with the trailers) after the callback.
          call.on('status', (status: grpc.StatusObject) => {
            const servedBy = status.metadata.get('x-served-by')[0];
            resolve(
              `${label} → ${answer}${servedBy === undefined ? '' : ` (trailer x-served-by: ${String(servedBy)})`}`,
            );
          });
        }),
      );
    }
    const names: string[] = [];
    const stream = client.listItems({ prefix: 'b' });
    for await (const item of stream as AsyncIterable<Item>) names.push(item.name);
    lines.push(`${'ListItems("b") (stream)'.padEnd(24)} → ${names.join(', ')}`);
  } finally {
    client.close();
  }
  if (mesh !== undefined) {
    // Envoy's metric names: every call went through meshlet, to the catalog cluster.
    const total = /^envoy_cluster_upstream_rq_total\{envoy_cluster_name="catalog"\} (\d+)/m.exec(
      mesh.proxy.stats?.prometheus() ?? '',
    );
    lines.push(`${'meshlet stats'.padEnd(24)} → catalog upstream_rq_total ${total?.[1] ?? 0}`);
  }
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const example = await startExample(0);
  console.log(`gRPC through meshlet's h2c listener at ${example.target}:\n`);
  for (const line of await tour(example.target, example.mesh)) console.log('  ' + line);
  await example.close();
}
