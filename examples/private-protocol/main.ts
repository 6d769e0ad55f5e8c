// meshlet proxying a private RPC protocol: "acme" (protocol.ts, defined in under 50 lines),
// two loopback acme services (users, orders), and @meshlet/proxy configured by proxy.yaml with
// an rpc_proxy that routes acme requests by service and method and rate-limits them.
//
// `npm start` (in this folder) runs it until Ctrl-C; `node examples/private-protocol/main.ts
// --smoke` prints a short tour and exits (test/examples-private-protocol.test.ts runs the same).
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ByteQueue, Frame } from '@meshlet/codec';
import { createProxy, snapshotOfBootstrap, type HttpProxy } from '@meshlet/proxy';
import { parseBootstrap } from '@meshlet/xds';
import { acme } from './protocol.ts';

/** Calls `onFrame` with each acme frame read from `socket`. */
function readFrames(socket: Socket, onFrame: (frame: Frame) => void): void {
  const codec = acme.createCodec();
  const queue = new ByteQueue();
  socket.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    for (let frame = codec.decode(queue); frame !== null; frame = codec.decode(queue)) onFrame(frame);
  });
}

function send(socket: Socket, frame: Frame): void {
  for (const buffer of acme.createCodec().encode(frame)) socket.write(buffer);
}

/** An acme service: answers `<name>.<method>(<body>)`. */
async function service(name: string): Promise<Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    readFrames(socket, (req) => {
      if (req.kind === 'heartbeat') {
        send(socket, acme.heartbeatReply(req));
        return;
      }
      const body = Buffer.from(`${name}.${req.method}(${req.body.toString()})`);
      send(socket, new Frame({ protocol: 'acme', kind: 'response', requestId: req.requestId, body }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** An acme client on one connection: `call` resolves with the response frame. */
export async function acmeClient(
  port: number,
): Promise<{ call(service: string, method: string, body?: string): Promise<Frame>; close(): void }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const waiting = new Map<number, (frame: Frame) => void>();
  readFrames(socket, (res) => {
    waiting.get(res.requestId)?.(res);
    waiting.delete(res.requestId);
  });
  let nextId = 1;
  return {
    call: (service, method, body = '') =>
      new Promise((resolve) => {
        const requestId = nextId++;
        waiting.set(requestId, resolve);
        send(socket, new Frame({ protocol: 'acme', requestId, service, method, body: Buffer.from(body) }));
      }),
    close: () => socket.destroy(),
  };
}

/** A running demo: the proxy, its port, and a way to stop everything. */
export interface Demo {
  readonly proxy: HttpProxy;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the two services and the proxy on `port` (0: any free port) on 127.0.0.1. */
export async function startDemo(port: number): Promise<Demo> {
  const services = [await service('users'), await service('orders')];
  const [users, orders] = services.map((s) => (s.address() as AddressInfo).port) as [number, number];
  const yaml = readFileSync(new URL('proxy.yaml', import.meta.url), 'utf8')
    .replaceAll('$PROXY_PORT', String(port))
    .replaceAll('$USERS_PORT', String(users))
    .replaceAll('$ORDERS_PORT', String(orders));
  const { bootstrap } = parseBootstrap(yaml, 'examples/private-protocol/proxy.yaml');
  // The one line that teaches the proxy the protocol: the config names it by `protocol: acme`.
  const proxy = createProxy({ config: snapshotOfBootstrap(bootstrap), protocols: [acme] });
  proxy.on('error', (error, where) => {
    console.error(`proxy: ${where}:`, error);
  });
  const closeServices = async (): Promise<void> => {
    await Promise.all(services.map(async (s) => new Promise((resolve) => s.close(resolve))));
  };
  await proxy.start();
  return {
    proxy,
    port: proxy.address('acme')?.port ?? 0,
    async close() {
      await proxy.close();
      await closeServices();
    },
  };
}

/** A few calls that show routing, error replies and the rate limit, with what came back. */
export async function tour(port: number): Promise<string[]> {
  const client = await acmeClient(port);
  const lines: string[] = [];
  const show = async (service: string, method: string, body = ''): Promise<void> => {
    const res = await client.call(service, method, body);
    lines.push(`${`${service}.${method}(${body})`.padEnd(24)} → status ${res.status} ${res.body.toString()}`);
  };
  await show('users', 'getUser', '42');
  await show('orders', 'listOrders', '42');
  await show('billing', 'charge', '9'); // no route: the protocol's not-found reply
  await show('users', 'getUser', '43');
  await show('users', 'getUser', '44');
  await show('users', 'getUser', '45'); // the sixth call within a second: rate limited
  client.close();
  return lines;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const smoke = process.argv.includes('--smoke');
  const demo = await startDemo(smoke ? 0 : Number(process.env.PORT ?? 9090));
  console.log(`meshlet proxying the acme protocol on 127.0.0.1:${demo.port} (config: proxy.yaml)\n`);
  for (const line of await tour(demo.port)) console.log('  ' + line);
  if (smoke) await demo.close();
  else {
    console.log('\nServing until Ctrl-C.');
    process.once('SIGINT', () => void demo.close().then(() => process.exit(0)));
  }
}
