// Dubbo through the rpc_proxy: requests encoded with hessian.js as a Dubbo client writes them
// (DubboCodec.encodeRequestData), to a server that reads them and answers with hessian.js. No
// Dubbo client on npm runs on Node >= 22, so both peers are written here from the protocol.
import { once } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DubboStatus } from '@meshlet/codec';
import type * as model from '@meshlet/xds';
import { rpcRoute, startRpcProxy } from './peers.js';

const require = createRequire(import.meta.url);
interface Encoder {
  write(value: unknown): Encoder;
  get(): Buffer;
}
interface Decoder {
  read(): unknown;
}
const hessian = require('hessian.js') as {
  EncoderV2: new () => Encoder;
  DecoderV2: new (buf: Buffer) => Decoder;
};
const java = require('js-to-java') as Record<string, (value: unknown) => unknown>;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const SERVICE = 'org.acme.demo.GreetingService';

function header(flag: number, status: number, id: bigint, length: number): Buffer {
  const out = Buffer.alloc(16);
  out.writeUInt16BE(0xdabb, 0);
  out[2] = flag;
  out[3] = status;
  out.writeBigUInt64BE(id, 4);
  out.writeUInt32BE(length, 12);
  return out;
}

/** A two-way Hessian 2 Dubbo request. */
function request(id: bigint, method: string, name: string, attachments: Record<string, string>): Buffer {
  const e = new hessian.EncoderV2();
  e.write('2.0.2');
  e.write(SERVICE);
  e.write('1.0.0');
  e.write(method);
  e.write('Ljava/lang/String;');
  e.write(java.String?.(name));
  e.write({
    $class: 'java.util.HashMap',
    $: { path: SERVICE, interface: SERVICE, version: '1.0.0', ...attachments },
  });
  const body = e.get();
  return Buffer.concat([header(0xc2, 0, id, body.length), body]);
}

/** Reads whole Dubbo frames from a socket. */
function frames(socket: Socket, onFrame: (head: Buffer, body: Buffer) => void): void {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 16) {
      const total = 16 + pending.readUInt32BE(12);
      if (pending.length < total) return;
      onFrame(pending.subarray(0, 16), pending.subarray(16, total));
      pending = pending.subarray(total);
    }
  });
}

/** A Dubbo provider answering `hello <name> from <label>` with hessian.js. */
async function provider(label: string): Promise<{ port: number; calls: string[] }> {
  const calls: string[] = [];
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    frames(socket, (head, body) => {
      const d = new hessian.DecoderV2(body);
      const values = [d.read(), d.read(), d.read(), d.read(), d.read(), d.read(), d.read()];
      const [, path, , method, , name, attachments] = values as [
        string,
        string,
        string,
        string,
        string,
        string,
        Record<string, string>,
      ];
      calls.push(`${path}.${method}(${name}) tenant=${attachments.tenant ?? '-'}`);
      const e = new hessian.EncoderV2();
      e.write(java.int?.(1)); // RESPONSE_VALUE
      e.write(`hello ${name} from ${label}`);
      const out = e.get();
      socket.write(Buffer.concat([header(0x02, DubboStatus.OK, head.readBigUInt64BE(4), out.length), out]));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, calls };
}

/** A Dubbo consumer on one connection: sends requests, pairs responses by id. */
async function consumer(
  port: number,
): Promise<(id: bigint, frame: Buffer) => Promise<{ status: number; value: unknown }>> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  cleanups.push(() => socket.destroy());
  const waiting = new Map<bigint, (r: { status: number; value: unknown }) => void>();
  frames(socket, (head, body) => {
    const id = head.readBigUInt64BE(4);
    const status = head[3] as number;
    const d = new hessian.DecoderV2(body);
    const value = status === DubboStatus.OK ? (d.read(), d.read()) : d.read();
    waiting.get(id)?.({ status, value });
    waiting.delete(id);
  });
  return (id, frame) =>
    new Promise((resolve) => {
      waiting.set(id, resolve);
      socket.write(frame);
    });
}

describe('rpc_proxy: Dubbo with hessian.js peers', () => {
  it('routes Hessian 2 requests by method and attachment, and answers not-found itself', async () => {
    const blue = await provider('blue');
    const green = await provider('green');
    const routes: model.RpcRoute[] = [
      rpcRoute('blue', {
        match: {
          method: { exact: 'sayHello', ignoreCase: false },
          headers: [
            {
              name: 'tenant',
              stringMatch: { exact: 'blue', ignoreCase: false },
              invertMatch: false,
              treatMissingHeaderAsEmpty: false,
            },
          ],
        },
      }),
      rpcRoute('green', {
        match: {
          service: { exact: SERVICE, ignoreCase: false },
          method: { exact: 'sayHello', ignoreCase: false },
          headers: [],
        },
      }),
    ];
    const port = await startRpcProxy(
      cleanups,
      { protocol: 'dubbo', routes },
      { blue: [blue.port], green: [green.port] },
    );
    const call = await consumer(port);
    const big = 2n ** 40n + 5n;
    const [a, b, c] = await Promise.all([
      call(big, request(big, 'sayHello', 'ann', { tenant: 'blue' })),
      call(7n, request(7n, 'sayHello', 'bob', { tenant: 'red' })),
      call(8n, request(8n, 'sayGoodbye', 'cy', {})),
    ]);
    expect(a).toEqual({ status: DubboStatus.OK, value: 'hello ann from blue' });
    expect(b).toEqual({ status: DubboStatus.OK, value: 'hello bob from green' });
    expect(c.status).toBe(DubboStatus.SERVICE_NOT_FOUND);
    expect(c.value).toBe(`no route for ${SERVICE}/sayGoodbye`);
    expect(blue.calls).toEqual([`${SERVICE}.sayHello(ann) tenant=blue`]);
    expect(green.calls).toEqual([`${SERVICE}.sayHello(bob) tenant=red`]);
  });
});
