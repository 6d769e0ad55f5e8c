// The TCP proxy on real loopback sockets: relaying, backpressure, half-close, connect attempts,
// no healthy host, circuit breaking, idle timeout, weighted clusters, drain and config updates.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { createProxy, type HttpProxy, type ProxyOptions } from '../../src/index.js';
import { cluster, endpoint, listener, loadAssignment, snapshot, thresholds } from '../e2e/helpers.js';
import { cleanupAfterEach } from '../e2e/scope.js';
import {
  closedPort,
  connect,
  readAll,
  readBytes,
  recordingObservers,
  startEchoServer,
  startTcpServer,
  tcpChain,
  tcpProxy,
  type TcpServer,
} from './helpers.js';

const cleanups = cleanupAfterEach();

async function serve(server: Promise<TcpServer>): Promise<TcpServer> {
  const s = await server;
  cleanups.push(() => s.close());
  return s;
}

async function startProxy(
  config: model.TcpProxy,
  clusters: model.Cluster[],
  more: Partial<ProxyOptions> = {},
): Promise<{ proxy: HttpProxy; port: number }> {
  const proxy = createProxy({
    config: snapshot({ listeners: [listener('tcp', [tcpChain(config)])], clusters }),
    ...more,
  });
  cleanups.push(() => proxy.close());
  await proxy.start();
  return { proxy, port: proxy.address('tcp')?.port ?? 0 };
}

async function client(port: number): Promise<Socket> {
  const socket = await connect(port);
  cleanups.push(() => {
    socket.destroy();
  });
  return socket;
}

describe('tcp_proxy', () => {
  it('relays both ways, and the observer sees the connection with its upstream and bytes', async () => {
    const echo = await serve(startEchoServer());
    const seen = recordingObservers();
    const { port } = await startProxy(tcpProxy({ cluster: 'echo' }), [cluster('echo', [echo.port])], {
      observers: [seen.factory],
    });
    const socket = await client(port);
    socket.write('hello');
    expect((await readBytes(socket, 5)).toString()).toBe('hello');
    socket.end(' world');
    expect((await readAll(socket)).toString()).toBe(' world');
    const [closed] = await seen.waitClosed(1);
    expect(seen.opened).toHaveLength(1);
    expect(closed?.kind).toBe('tcp');
    expect(closed?.info.upstreamCluster).toBe('echo');
    expect(closed?.info.upstreamHost).toBe(`127.0.0.1:${String(echo.port)}`);
    expect(closed?.info.attempts).toBe(1);
    expect(closed?.info.bytesReceived).toBe(11);
    expect(closed?.info.bytesSent).toBe(11);
    expect([...(closed?.info.responseFlags ?? [])]).toEqual([]);
  });

  it('propagates half-close both ways: the upstream answers after the client ended its side', async () => {
    const upstream = await serve(
      startTcpServer(
        (socket) => {
          const chunks: Buffer[] = [];
          socket.on('data', (c: Buffer) => chunks.push(c));
          socket.on('end', () => {
            socket.end(Buffer.concat(chunks).toString().toUpperCase());
          });
        },
        { allowHalfOpen: true },
      ),
    );
    const { port } = await startProxy(tcpProxy({ cluster: 'up' }), [cluster('up', [upstream.port])]);
    const socket = await client(port);
    const all = readAll(socket);
    socket.end('shout');
    expect((await all).toString()).toBe('SHOUT');
  });

  it('moves 32 MiB to a slow reader intact, holding a bounded amount (backpressure upstream → downstream)', async () => {
    const MB = 1024 * 1024;
    const TOTAL = 32 * MB;
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
    let written = 0;
    const sent = createHash('sha256');
    const upstream = await serve(
      startTcpServer((socket) => {
        const pump = (): void => {
          while (written < TOTAL) {
            written += chunk.length;
            sent.update(chunk);
            if (!socket.write(chunk)) {
              socket.once('drain', pump);
              return;
            }
          }
          socket.end();
        };
        pump();
      }),
    );
    const { port } = await startProxy(tcpProxy({ cluster: 'up' }), [
      cluster('up', [upstream.port], { perConnectionBufferLimitBytes: 256 * 1024 }),
    ]);
    const socket = await client(port);
    const got = createHash('sha256');
    let received = 0;
    await new Promise<void>((resolve) => {
      socket.on('data', function first(c: Buffer) {
        received += c.length;
        got.update(c);
        socket.off('data', first);
        resolve();
      });
    });
    socket.pause();
    await delay(300); // let whatever buffering there is fill up
    // Kernel buffers of four sockets on loopback plus the proxy's stream buffers: far below 32 MiB.
    expect(written).toBeLessThan(16 * MB);
    const rest = new Promise<void>((resolve) => {
      socket.on('data', (c: Buffer) => {
        received += c.length;
        got.update(c);
      });
      socket.once('end', () => {
        resolve();
      });
    });
    socket.resume();
    await rest;
    expect(received).toBe(TOTAL);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
  });

  it('an upstream that stops reading stops the client (backpressure downstream → upstream)', async () => {
    const MB = 1024 * 1024;
    let upstreamSocket: Socket | undefined;
    let arrived: () => void = () => undefined;
    const connected = new Promise<void>((resolve) => (arrived = resolve));
    let upstreamGot = 0;
    const upstream = await serve(
      startTcpServer((socket) => {
        upstreamSocket = socket;
        socket.on('data', (c: Buffer) => (upstreamGot += c.length));
        socket.pause();
        arrived();
      }),
    );
    const { port } = await startProxy(tcpProxy({ cluster: 'up' }), [cluster('up', [upstream.port])]);
    const socket = await client(port);
    await connected;
    const chunk = Buffer.alloc(64 * 1024, 7);
    let written = 0;
    const TOTAL = 32 * MB;
    const pump = (): void => {
      while (written < TOTAL) {
        written += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
    await delay(300);
    expect(written).toBeLessThan(16 * MB);
    upstreamSocket?.resume();
    while (upstreamGot < TOTAL) await once(upstreamSocket as Socket, 'data');
    expect(upstreamGot).toBe(TOTAL);
  });

  it('tries the next host when a connect attempt fails (max_connect_attempts), and reports it', async () => {
    const echo = await serve(startEchoServer());
    const dead = await closedPort();
    const seen = recordingObservers();
    const { proxy, port } = await startProxy(
      tcpProxy({ cluster: 'mixed', maxConnectAttempts: 2 }),
      [cluster('mixed', [dead, echo.port])],
      { observers: [seen.factory] },
    );
    // Round robin over [dead, live]: whichever host the first connection starts with, one of
    // the two connections starts with the dead host and needs its second attempt.
    for (let i = 0; i < 2; i++) {
      const socket = await client(port);
      socket.write('ping');
      expect((await readBytes(socket, 4)).toString()).toBe('ping');
      socket.end();
    }
    const closed = await seen.waitClosed(2);
    const attempts = closed.map((c) => c.info.attempts);
    expect(attempts.every((a) => a === 1 || a === 2)).toBe(true);
    expect(attempts).toContain(2);
    expect(closed.every((c) => c.info.upstreamHost === `127.0.0.1:${String(echo.port)}`)).toBe(true);
    // Every upstream connection, failed or not, gave its max_connections unit back.
    await until(() => proxy.clusters.get('mixed')?.limits('default').connections.count === 0);
  });

  it('closes the client with UF when every attempt fails', async () => {
    const dead = await closedPort();
    const seen = recordingObservers();
    const { port } = await startProxy(
      tcpProxy({ cluster: 'dead', maxConnectAttempts: 3 }),
      [cluster('dead', [dead])],
      { observers: [seen.factory] },
    );
    const socket = await client(port);
    await readAll(socket);
    const [closed] = await seen.waitClosed(1);
    expect(closed?.info.attempts).toBe(3);
    expect([...(closed?.info.responseFlags ?? [])]).toEqual(['UF']);
  });

  it('closes the client with UH when the cluster has no healthy host, NC when it does not exist', async () => {
    const echo = await serve(startEchoServer());
    const seen = recordingObservers();
    const sick = cluster('sick', [], {
      loadAssignment: loadAssignment('sick', [endpoint(echo.port, { healthStatus: 'UNHEALTHY' })]),
      healthyPanicThreshold: 0,
    });
    const { port } = await startProxy(tcpProxy({ cluster: 'sick' }), [sick], { observers: [seen.factory] });
    const socket = await client(port);
    await readAll(socket);
    const [closed] = await seen.waitClosed(1);
    expect([...(closed?.info.responseFlags ?? [])]).toEqual(['UH']);
    expect(echo.accepted).toHaveLength(0);

    const other = await startProxy(tcpProxy({ cluster: 'nowhere' }), [], { observers: [seen.factory] });
    await readAll(await client(other.port));
    const [, missing] = await seen.waitClosed(2);
    expect([...(missing?.info.responseFlags ?? [])]).toEqual(['NC']);
  });

  it('refuses connections over the cluster max_connections with UO', async () => {
    const echo = await serve(startEchoServer());
    const seen = recordingObservers();
    const { port } = await startProxy(
      tcpProxy({ cluster: 'small' }),
      [
        cluster('small', [echo.port], {
          circuitBreakers: { thresholds: [thresholds({ maxConnections: 1 })] },
        }),
      ],
      { observers: [seen.factory] },
    );
    const first = await client(port);
    first.write('a');
    await readBytes(first, 1);
    const second = await client(port);
    await readAll(second);
    const [closed] = await seen.waitClosed(1);
    expect([...(closed?.info.responseFlags ?? [])]).toEqual(['UO']);
    first.write('b');
    expect((await readBytes(first, 1)).toString()).toBe('b');
  });

  it('closes both sides after idle_timeout without traffic either way', async () => {
    const echo = await serve(startEchoServer());
    const { port } = await startProxy(tcpProxy({ cluster: 'echo', idleTimeoutMs: 50 }), [
      cluster('echo', [echo.port]),
    ]);
    const socket = await client(port);
    socket.write('x');
    await readBytes(socket, 1);
    await once(socket, 'end');
    await until(() => echo.accepted.every((s) => s.destroyed));
  });

  it('splits connections over weighted clusters by the proxy random draw', async () => {
    const a = await serve(startEchoServer('a'));
    const b = await serve(startEchoServer('b'));
    // The balancers draw too: the test sets the value every draw returns before each connection.
    const draws = [0.1, 0.9, 0.2, 0.3, 0.95, 0.0, 0.6, 0.8];
    let draw = 0;
    const { port } = await startProxy(
      tcpProxy({
        weightedClusters: [
          { name: 'a', weight: 3 },
          { name: 'b', weight: 2 },
        ],
      }),
      [cluster('a', [a.port]), cluster('b', [b.port])],
      { random: () => draw },
    );
    const tags: string[] = [];
    for (const d of draws) {
      draw = d;
      const socket = await client(port);
      tags.push((await readBytes(socket, 1)).toString());
      socket.destroy();
    }
    // Weight 3 of 5: draws below 0.6 go to a.
    expect(tags).toEqual(draws.map((d) => (d < 0.6 ? 'a' : 'b')));
  });

  it('keeps open connections on their upstream across a config update; new ones follow it', async () => {
    const a = await serve(startEchoServer('a'));
    const b = await serve(startEchoServer('b'));
    const configFor = (name: string): model.XdsSnapshot =>
      snapshot({
        listeners: [listener('tcp', [tcpChain(tcpProxy({ cluster: name }))])],
        clusters: [cluster('a', [a.port]), cluster('b', [b.port])],
      });
    const proxy = createProxy({ config: configFor('a') });
    cleanups.push(() => proxy.close());
    await proxy.start();
    const port = proxy.address('tcp')?.port ?? 0;
    const old = await client(port);
    expect((await readBytes(old, 1)).toString()).toBe('a');
    await proxy.update(configFor('b'));
    const fresh = await client(port);
    expect((await readBytes(fresh, 1)).toString()).toBe('b');
    old.write('still');
    expect((await readBytes(old, 5)).toString()).toBe('still');
  });

  it('drain: refuses new connections, closes what is left after the timeout', async () => {
    const echo = await serve(startEchoServer());
    const { proxy, port } = await startProxy(tcpProxy({ cluster: 'echo' }), [cluster('echo', [echo.port])]);
    const socket = await client(port);
    socket.write('x');
    await readBytes(socket, 1);
    const closed = once(socket, 'end');
    const drained = proxy.drain(50);
    await closed;
    await drained;
    await expect(connect(port)).rejects.toThrow();
  });

  it('drain: finishes early when the connections close by themselves', async () => {
    const echo = await serve(startEchoServer());
    const { proxy, port } = await startProxy(tcpProxy({ cluster: 'echo' }), [cluster('echo', [echo.port])]);
    const socket = await client(port);
    socket.write('x');
    await readBytes(socket, 1);
    const started = performance.now();
    const drained = proxy.drain(60_000);
    socket.end();
    await drained;
    expect(performance.now() - started).toBeLessThan(30_000);
  });
});

async function until(check: () => boolean): Promise<void> {
  while (!check()) await delay(5);
}
