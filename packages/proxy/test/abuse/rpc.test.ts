// RPC frames that claim huge lengths, over raw sockets to a real proxy (`rpc_proxy` for Bolt and
// Dubbo): the head alone is enough for the proxy to refuse the frame and close the connection,
// without allocating or waiting for the gigabytes announced; other clients are served.
import { type EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { rawBoltCall, rpcRoute, startBoltServer, startRpcProxy } from '../rpc/peers.js';
import { connect, report } from './raw.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function memory(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
}

function next(emitter: EventEmitter, name: string): Promise<void> {
  return new Promise((resolve) => {
    emitter.once(name, () => {
      resolve();
    });
  });
}

/** The 22-byte fixed head of a Bolt v1 request (hessian2) announcing `content` bytes of content. */
function boltHead(content: number, classLength = 0, headerLength = 0): Buffer {
  const b = Buffer.alloc(22);
  b.writeUInt8(1, 0); // proto: Bolt v1
  b.writeUInt8(1, 1); // type: request
  b.writeUInt16BE(1, 2); // cmdcode: request
  b.writeUInt8(1, 4); // ver2
  b.writeUInt32BE(7, 5); // request id
  b.writeUInt8(1, 9); // codec: hessian2
  b.writeInt32BE(3000, 10); // timeout
  b.writeUInt16BE(classLength, 14);
  b.writeUInt16BE(headerLength, 16);
  b.writeUInt32BE(content, 18);
  return b;
}

/** The 16-byte head of a Dubbo two-way request (hessian2) announcing `length` body bytes. */
function dubboHead(length: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16BE(0xdabb, 0);
  b.writeUInt8(0x80 | 0x40 | 2, 2); // request, two-way, hessian2
  b.writeUInt32BE(0, 4);
  b.writeUInt32BE(9, 8);
  b.writeInt32BE(length, 12);
  return b;
}

async function startProxies(): Promise<{ bolt: number; dubbo: number }> {
  const server = await startBoltServer();
  cleanups.push(() => server.close());
  const bolt = await startRpcProxy(
    cleanups,
    { protocol: 'bolt', routes: [rpcRoute('greeter')] },
    {
      greeter: [server.port],
    },
  );
  const dubbo = await startRpcProxy(
    cleanups,
    { protocol: 'dubbo', routes: [rpcRoute('greeter')] },
    {
      greeter: [server.port],
    },
  );
  return { bolt, dubbo };
}

const cases: [string, 'bolt' | 'dubbo', Buffer][] = [
  ['a Bolt request claiming 4 GiB of content', 'bolt', boltHead(0xffffffff)],
  [
    'a Bolt request claiming 64 KiB class + 64 KiB header + 2 GiB content',
    'bolt',
    boltHead(0x7fffffff, 0xffff, 0xffff),
  ],
  ['a Dubbo request claiming a 2 GiB body', 'dubbo', dubboHead(0x7fffffff)],
  ['a Dubbo request claiming a negative body length', 'dubbo', dubboHead(-1)],
];

describe('RPC frames claiming huge lengths', () => {
  it.each(cases)(
    '%s: the connection is closed at the head, memory unchanged, others served',
    async (_name, kind, head) => {
      const ports = await startProxies();
      const before = memory();
      const socket = await connect(ports[kind]);
      socket.resume();
      const closed = next(socket, 'close');
      socket.write(head);
      await closed;
      expect(memory() - before).toBeLessThan(16 * 1024 * 1024);
      const frame = await rawBoltCall(ports.bolt, 'greeter');
      expect(frame.kind).toBe('response');
    },
  );

  it('100 connections each holding a frame just under max_frame_size: bounded by the limit, all served after', async () => {
    const ports = await startProxies();
    const before = memory();
    const sockets = await Promise.all(Array.from({ length: 100 }, () => connect(ports.bolt)));
    // 8 MiB announced, 64 KiB sent: the proxy may hold what came, never what was announced.
    const partial = Buffer.concat([boltHead(8 * 1024 * 1024 - 1024), Buffer.alloc(64 * 1024)]);
    await Promise.all(
      sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.write(partial, () => {
              resolve();
            });
          }),
      ),
    );
    const frame = await rawBoltCall(ports.bolt, 'greeter');
    expect(frame.kind).toBe('response');
    const held = memory() - before;
    report(
      `RPC partial frames: 100 connections x 64 KiB of an 8 MiB frame hold ${(held / 1048576).toFixed(1)} MiB`,
    );
    expect(held).toBeLessThan(100 * 1024 * 1024);
    for (const s of sockets) s.destroy();
  });
});

describe('bugs found', () => {
  it('regression: an RPC client could hold a connection and its buffer forever with a frame it never finished', async () => {
    const server = await startBoltServer();
    cleanups.push(() => server.close());
    const port = await startRpcProxy(
      cleanups,
      { protocol: 'bolt', routes: [rpcRoute('greeter')], frameTimeoutMs: 300 },
      { greeter: [server.port] },
    );
    // One client stops after the head; another drips a byte every 20 ms: the deadline is per
    // frame, so dripping does not push it back.
    const stalled = await connect(port);
    const dripping = await connect(port);
    const closed = [next(stalled, 'close'), next(dripping, 'close')];
    stalled.resume();
    dripping.resume();
    const started = performance.now();
    stalled.write(boltHead(1024));
    dripping.write(boltHead(1024));
    const drip = setInterval(() => dripping.write(Buffer.alloc(1)), 20);
    await Promise.all(closed);
    clearInterval(drip);
    expect(performance.now() - started).toBeLessThan(5000);
    // Whole frames on a connection are never cut off.
    expect((await rawBoltCall(port, 'greeter')).kind).toBe('response');
  });
});
