// Connection floods over real sockets: thousands of idle connections cost a bounded amount of
// memory each and are all closed by the headers deadline; a listener's connection limit holds
// under a flood (the excess is closed at accept) while the accepted connections are served.
import { type EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { HttpProxy, ProxyOptions } from '../../src/index.js';
import { cluster, gateway, origin, route, routeAction } from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';
import { connect, rawUpstream, readUntil, report } from './raw.js';

const { cleanups, start } = e2eScope();

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap and buffers in use after a full collection. */
function memory(): number {
  gc();
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

function stat(proxy: HttpProxy, name: string): number {
  let sum = 0;
  for (const line of (proxy.stats?.prometheus() ?? '').split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').pop());
  }
  return sum;
}

async function setup(
  headersTimeoutMs: number,
  more: Partial<ProxyOptions> = {},
): Promise<{ proxy: HttpProxy; port: number }> {
  const upstream = await rawUpstream();
  cleanups.push(upstream.close);
  const proxy = await start(
    gateway({
      routes: [route('r', { route: routeAction('up') })],
      clusters: [cluster('up', [upstream.port])],
      hcm: { requestHeadersTimeoutMs: headersTimeoutMs },
    }),
    more,
  );
  return { proxy, port: proxy.address('ingress')?.port ?? 0 };
}

/** Opens `count` connections, `batch` at a time (some may be closed by the proxy at once). */
async function flood(
  port: number,
  count: number,
  batch = 250,
): Promise<{ sockets: Socket[]; closed: Promise<void>[] }> {
  const sockets: Socket[] = [];
  const closed: Promise<void>[] = [];
  for (let i = 0; i < count; i += batch) {
    const opened = await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => connect(port)));
    for (const s of opened) {
      sockets.push(s);
      closed.push(next(s, 'close'));
    }
  }
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
  });
  // Read (and drop) what comes, so that each client sees the proxy close its connection.
  for (const s of sockets) s.resume();
  return { sockets, closed };
}

describe('connection floods', () => {
  it('2,000 idle HTTP/1 connections: bounded memory each, a client is served, all released after', async () => {
    const { proxy, port } = await setup(60_000);
    const before = memory();
    const { sockets, closed } = await flood(port, 2000);
    // Half start a request head and stall; half stay silent.
    sockets.forEach((s, i) => {
      if (i % 2 === 0) s.write('GET / HTTP/1.1\r\nhost: a\r\n');
    });
    // The kernel completes connects before node accepts them: wait until the proxy holds them.
    const open = (): number => sockets.filter((s) => !s.destroyed).length;
    while (stat(proxy, 'envoy_listener_downstream_cx_active') < open()) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    const held = open();
    const perConnection = (memory() - before) / held;
    report(
      `idle flood: ${String(held)} connections held, ${(perConnection / 1024).toFixed(1)} KiB of heap+buffers per connection (both ends)`,
    );
    expect(held).toBeGreaterThan(1900);
    // Both ends of each connection live in this process: a generous bound for the pair.
    expect(perConnection).toBeLessThan(64 * 1024);
    expect(await (await fetch(`${origin(proxy)}/during`)).text()).toBe('ok');
    for (const s of sockets) s.destroy();
    await Promise.all(closed);
    // Every flood connection is released; the one left is fetch's kept-alive connection.
    while (stat(proxy, 'envoy_listener_downstream_cx_active') > 1) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  });

  it('a listener with maxConnections: 50 holds the limit under a flood of 500, and serves the 50', async () => {
    const { proxy, port } = await setup(60_000, { maxConnections: 50 });
    const { sockets } = await flood(port, 500, 100);
    const alive = sockets.filter((s) => !s.destroyed);
    // Refused sockets are closed at accept; wait for every one of them to see it.
    await Promise.all(
      sockets.map(async (s, i) => {
        if (i < 50) return;
        if (!s.destroyed) await next(s, 'close');
      }),
    );
    expect(stat(proxy, 'envoy_listener_downstream_cx_active')).toBeLessThanOrEqual(50);
    report(
      `maxConnections 50: ${String(sockets.filter((s) => !s.destroyed).length)} of 500 connections kept`,
    );
    const accepted = sockets.filter((s) => !s.destroyed);
    expect(accepted.length).toBe(50);
    expect(alive.length).toBeGreaterThanOrEqual(50);
    const replies = await Promise.all(
      accepted.map((s) => {
        s.write('GET /accepted HTTP/1.1\r\nhost: a\r\n\r\n');
        return readUntil(s, (t) => t.endsWith('ok'));
      }),
    );
    expect(replies.every((r) => r.startsWith('HTTP/1.1 200 '))).toBe(true);
  });
});
