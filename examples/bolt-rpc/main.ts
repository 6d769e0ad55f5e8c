// SOFA Bolt through meshlet: a sofa-bolt-node RpcClient calls services on sofa-bolt-node servers
// through a meshlet listener whose rpc_proxy speaks Bolt (proxy.yaml). meshlet routes each call
// by its service, balances the `users` calls over two instances, multiplexes many calls on one
// connection each way, answers heartbeats itself and replies with a Bolt error when no route
// matches.
//
// `node examples/bolt-rpc/main.ts` runs the tour and exits, as does `--smoke` (npm test runs it
// through test/examples-bolt-rpc.test.ts).
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createMesh, type Mesh } from '@meshlet/sdk';
import { parse } from 'yaml';

// sofa-bolt-node is CommonJS without types: these are the parts used here.
interface BoltRequest {
  packetType: 'request' | 'heartbeat';
  data: { serverSignature: string; methodName: string; args: unknown[] };
}
interface BoltResponse {
  data: { appResponse?: unknown; error?: Error | null };
}
interface BoltEncoder extends Readable {
  writeResponse(req: BoltRequest, res: { isError: boolean; appResponse?: unknown; errorMsg?: string }): void;
  writeHeartbeatAck(hb: BoltRequest): void;
}
interface BoltClient {
  ready(): Promise<void>;
  invoke(req: {
    serverSignature: string;
    methodName: string;
    args: unknown[];
    timeout: number;
  }): Promise<BoltResponse>;
  readonly conn: {
    writeHeartbeat(hb: { clientUrl: string; timeout: number }): Promise<{ packetType: string }>;
  };
  close(): Promise<void>;
}
const bolt = createRequire(import.meta.url)('sofa-bolt-node') as {
  encoder(options: { sentReqs: Map<number, unknown> }): BoltEncoder;
  decoder(options: { sentReqs: Map<number, unknown> }): Writable;
  RpcClient: new (options: { address: URL; logger: Record<string, () => void> }) => BoltClient;
};

/** A Bolt service instance: answers `<instance>: <service>.<method>(<arg>)` as a Java String. */
async function boltServer(
  instance: string,
): Promise<{ server: net.Server; sockets: Set<Socket>; port: number }> {
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const encoder = bolt.encoder({ sentReqs: new Map() });
    const decoder = bolt.decoder({ sentReqs: new Map() });
    socket.pipe(decoder);
    encoder.pipe(socket);
    decoder.on('error', () => socket.destroy());
    decoder.on('heartbeat', (hb: BoltRequest) => {
      encoder.writeHeartbeatAck(hb);
    });
    decoder.on('request', (req: BoltRequest) => {
      const { serverSignature, methodName, args } = req.data;
      const name = serverSignature.split(':')[0] ?? serverSignature; // com.example.Users:1.0 → Users
      const service = name.slice(name.lastIndexOf('.') + 1);
      const text = `${instance}: ${service}.${methodName}(${String(args[0])})`;
      encoder.writeResponse(req, { isError: false, appResponse: { $class: 'java.lang.String', $: text } });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, sockets, port: (server.address() as AddressInfo).port };
}

/** The running example: the mesh serving the Bolt listener, its port, a way to stop. */
export interface Example {
  readonly mesh: Mesh;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the services (users-a, users-b, orders) and meshlet's Bolt listener on `port` (0: any). */
export async function startExample(port = 0): Promise<Example> {
  const servers = [await boltServer('users-a'), await boltServer('users-b'), await boltServer('orders')];
  const [usersA, usersB, orders] = servers.map((s) => s.port) as [number, number, number];
  const yaml = readFileSync(new URL('proxy.yaml', import.meta.url), 'utf8')
    .replaceAll('$PROXY_PORT', String(port))
    .replaceAll('$USERS_A_PORT', String(usersA))
    .replaceAll('$USERS_B_PORT', String(usersB))
    .replaceAll('$ORDERS_PORT', String(orders));
  const mesh = await createMesh({ config: parse(yaml) as object, admin: false });
  await mesh.listen();
  return {
    mesh,
    port: mesh.address('bolt')?.port ?? 0,
    async close() {
      await mesh.close();
      for (const s of servers) {
        for (const socket of s.sockets) socket.destroy();
        await new Promise((resolve) => s.server.close(resolve));
      }
    },
  };
}

const quiet = (): void => undefined;

/** Calls through meshlet with one sofa-bolt-node client, a line per step; then meshlet's Bolt stats. */
export async function tour(port: number, mesh?: Mesh): Promise<string[]> {
  const client = new bolt.RpcClient({
    address: new URL(`bolt://127.0.0.1:${port}`),
    logger: { info: quiet, warn: quiet, error: quiet, debug: quiet },
  });
  await client.ready();
  const call = async (service: string, method: string, arg: unknown): Promise<string> => {
    const res = await client.invoke({
      serverSignature: service,
      methodName: method,
      args: [arg],
      timeout: 3000,
    });
    if (res.data.error) return `Bolt error reply: ${res.data.error.message}`;
    return String(res.data.appResponse);
  };
  const lines: string[] = [];
  try {
    for (const [service, method, arg] of [
      ['com.example.Users:1.0', 'getUser', 1],
      ['com.example.Users:1.0', 'getUser', 2],
      ['com.example.Orders:1.0', 'listOrders', 1],
      ['com.example.Billing:1.0', 'charge', 9],
    ] as const) {
      lines.push(`${`${service} ${method}(${arg})`.padEnd(38)} → ${await call(service, method, arg)}`);
    }
    // 50 calls at once on the client's single connection: answered out of a shared upstream pool.
    const many = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call('com.example.Users:1.0', 'getUser', i)),
    );
    const byInstance = new Map<string, number>();
    for (const answer of many) {
      const instance = answer.slice(0, answer.indexOf(':'));
      byInstance.set(instance, (byInstance.get(instance) ?? 0) + 1);
    }
    const shares = [...byInstance].sort().map(([i, n]) => `${i} ${n}`);
    lines.push(`${'50 concurrent getUser calls'.padEnd(38)} → ${shares.join(', ')}`);
    const ack = await client.conn.writeHeartbeat({ clientUrl: 'example', timeout: 3000 });
    lines.push(`${'heartbeat'.padEnd(38)} → ${ack.packetType} (from meshlet)`);
  } finally {
    await client.close();
  }
  if (mesh !== undefined) {
    // Envoy-style names under the rpc_proxy's stat_prefix: the not-found reply came from meshlet.
    const stats = mesh.proxy.stats?.prometheus() ?? '';
    const n = (name: string): string =>
      new RegExp(`^envoy_bolt_bolt_${name} (\\d+)$`, 'm').exec(stats)?.[1] ?? '0';
    lines.push(
      `${'meshlet stats (bolt.*)'.padEnd(38)} → request ${n('request')}, response_success ${n('response_success')}, response_error ${n('response_error')}`,
    );
  }
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const example = await startExample(0);
  console.log(`SOFA Bolt through meshlet's rpc_proxy on 127.0.0.1:${example.port}:\n`);
  for (const line of await tour(example.port, example.mesh)) console.log('  ' + line);
  await example.close();
}
