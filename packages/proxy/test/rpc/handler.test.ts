// The rpc_proxy handler on the test's own server sockets (no listener): bad frames, drain,
// config swaps per request, observers.
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameTooLargeError, MalformedFrameError } from '@meshlet/codec';
import type { HttpContext, StreamObserver } from '../../src/types.js';
import { type ServedRpc, serveRpc } from './harness.js';
import {
  type BoltServer,
  boltClient,
  boltRequest,
  echo,
  rpcProxyFilter,
  rpcRoute,
  startBoltServer,
} from './peers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const SERVICE = 'com.acme.Greeter:1.0';

async function setup(
  more: Parameters<typeof serveRpc>[1] extends infer O ? Partial<O> : never = {},
): Promise<{ server: BoltServer; served: ServedRpc }> {
  const server = await startBoltServer(echo('up'));
  cleanups.push(() => server.close());
  const served = await serveRpc(rpcProxyFilter({ protocol: 'bolt', routes: [rpcRoute('up')] }), {
    clusters: { up: [server.port] },
    ...more,
  });
  cleanups.push(() => served.close());
  return { server, served };
}

async function rawSocket(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  cleanups.push(() => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

describe('rpc_proxy handler', () => {
  it('closes a connection that sends garbage, with a typed error, and serves the others', async () => {
    const { served } = await setup();
    const good = await boltClient(served.port);
    cleanups.push(() => good.close());
    const bad = await rawSocket(served.port);
    bad.write(Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
    await once(bad, 'close');
    expect(served.errors).toHaveLength(1);
    expect(served.errors[0]?.error).toBeInstanceOf(MalformedFrameError);
    expect(served.errors[0]?.where).toMatch(
      /rpc_proxy "meshlet.rpc_proxy": connection from 127\.0\.0\.1:\d+/,
    );
    const ok = await good.invoke(boltRequest(SERVICE, 'hello', 1));
    expect(ok.data.appResponse).toBe('up:1');
  });

  it('closes a connection whose frame claims a huge length before buffering it', async () => {
    const { served } = await setup();
    const good = await boltClient(served.port);
    cleanups.push(() => good.close());
    const bad = await rawSocket(served.port);
    // A Bolt v1 request header whose content length says 1.5 GiB.
    const header = Buffer.alloc(22);
    header.writeUInt8(0x01, 0); // proto: bolt v1
    header.writeUInt8(0x01, 1); // type: request
    header.writeUInt16BE(0x0001, 2); // cmd: rpc request
    header.writeUInt8(0x01, 4); // ver2
    header.writeUInt32BE(7, 5); // request id
    header.writeUInt8(0x01, 9); // codec: hessian2
    header.writeInt32BE(3000, 10); // timeout
    header.writeUInt16BE(0, 14); // class length
    header.writeUInt16BE(0, 16); // header length
    header.writeUInt32BE(1_610_612_736, 18); // content length
    bad.write(header);
    await once(bad, 'close');
    expect(served.errors.map((e) => e.error)).toEqual([expect.any(FrameTooLargeError)]);
    expect((await good.invoke(boltRequest(SERVICE, 'hello', 2))).data.appResponse).toBe('up:2');
  });

  it('tells observers when each request starts and ends', async () => {
    const events: string[] = [];
    const observer: StreamObserver = {
      connectionOpened: () => undefined,
      connectionClosed: () => undefined,
      streamStarted: (ctx: HttpContext) => events.push(`start ${ctx.request.authority}`),
      streamEnded: (ctx: HttpContext) =>
        events.push(
          `end ${ctx.request.authority} ${String(ctx.response?.status)} ${ctx.info.upstreamCluster ?? '-'}`,
        ),
    };
    const { served } = await setup({ observer });
    const client = await boltClient(served.port);
    cleanups.push(() => client.close());
    await client.invoke(boltRequest(SERVICE, 'hello', 1));
    expect(events).toEqual([`start ${SERVICE}`, `end ${SERVICE} 200 up`]);
  });

  it('drains: answers what is in flight, then closes the connection', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let arrived!: () => void;
    const inside = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const server = await startBoltServer((req, answer) => {
      arrived();
      void gate.then(() => {
        answer(`late:${String(req.data.args[0])}`);
      });
    });
    cleanups.push(() => server.close());
    const served = await serveRpc(rpcProxyFilter({ protocol: 'bolt', routes: [rpcRoute('up')] }), {
      clusters: { up: [server.port] },
    });
    cleanups.push(() => served.close());
    const client = await boltClient(served.port);
    const closed = new Promise<void>((resolve) => {
      (client as unknown as { once(e: string, f: () => void): void }).once('close', resolve);
    });
    const pending = client.invoke(boltRequest(SERVICE, 'slow', 1));
    await inside;
    served.drain();
    release();
    expect((await pending).data.appResponse).toBe('late:1');
    await closed;
  });

  it('re-resolves the handler per request: a config swap applies without reconnecting', async () => {
    const a = await startBoltServer(echo('a'));
    const b = await startBoltServer(echo('b'));
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const served = await serveRpc(rpcProxyFilter({ protocol: 'bolt', routes: [rpcRoute('a')] }), {
      clusters: { a: [a.port], b: [b.port] },
    });
    cleanups.push(() => served.close());
    const client = await boltClient(served.port);
    cleanups.push(() => client.close());
    expect((await client.invoke(boltRequest(SERVICE, 'hello', 1))).data.appResponse).toBe('a:1');
    served.swap(rpcProxyFilter({ protocol: 'bolt', routes: [rpcRoute('b')] }));
    expect((await client.invoke(boltRequest(SERVICE, 'hello', 2))).data.appResponse).toBe('b:2');
  });
});
