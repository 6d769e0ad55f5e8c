import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createRouterFilter } from '../../src/router-filter/index.js';
import { TestCluster, TestClusters, TestListener, route, until, upstream } from './harness.js';
import { cleanupAfterEach } from '../e2e/scope.js';

const cleanups = cleanupAfterEach();

async function echoServer(): Promise<{ port: number; wss: WebSocketServer }> {
  const server = createServer((_req, res) => res.end('not a websocket'));
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket, req) => {
    socket.on('message', (data, binary) => {
      socket.send(binary ? data : `echo:${(data as Buffer).toString()}`);
    });
    socket.send(`hello ${req.headers.host ?? ''}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  });
  return { port: (server.address() as AddressInfo).port, wss };
}

async function proxyTo(
  port: number,
  upgrades = new Map<string, boolean>(),
): Promise<{ url: string; cluster: TestCluster }> {
  const cluster = new TestCluster('backend', [port]);
  const clusters = new TestClusters(cluster);
  const filter = createRouterFilter({ clusters, config: { type: 'router', suppressEnvoyHeaders: false } });
  const listener = new TestListener(
    () => filter,
    () => route({ upgrades }),
  );
  const listenPort = await listener.listen();
  cleanups.push(async () => {
    await listener.close();
    await clusters.close();
  });
  return { url: `ws://127.0.0.1:${listenPort}/chat`, cluster };
}

function open(url: string): Promise<{ ws: WebSocket; first: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('error', reject);
    ws.once('message', (data) => {
      resolve({ ws, first: (data as Buffer).toString() });
    });
  });
}

function next(ws: WebSocket): Promise<string> {
  return new Promise((resolve) =>
    ws.once('message', (data) => {
      resolve((data as Buffer).toString());
    }),
  );
}

describe('router filter: upgrades', () => {
  it('tunnels a WebSocket both ways through the proxy', async () => {
    const { port, wss } = await echoServer();
    const { url, cluster } = await proxyTo(port);
    const { ws, first } = await open(url);
    expect(first).toBe(`hello ${new URL(url).host}`);
    const reply = next(ws);
    ws.send('ping');
    expect(await reply).toBe('echo:ping');
    const big = Buffer.alloc(256 * 1024, 3);
    const binary = new Promise<Buffer>((resolve) =>
      ws.once('message', (data) => {
        resolve(data as Buffer);
      }),
    );
    ws.send(big);
    expect((await binary).equals(big)).toBe(true);
    expect(cluster.limits('default').requests.count).toBe(1);
    ws.close();
    await until(() => wss.clients.size === 0);
    // The tunnel closed: the upgraded request released its cluster resources.
    await until(() => cluster.limits('default').requests.count === 0);
    expect(cluster.lb.hosts[0]?.activeRequests).toBe(0);
  });

  it('closes the upstream side when the client goes away', async () => {
    const { port, wss } = await echoServer();
    const { url, cluster } = await proxyTo(port);
    const { ws } = await open(url);
    expect(wss.clients.size).toBe(1);
    ws.terminate();
    await until(() => wss.clients.size === 0);
    await until(() => cluster.limits('default').requests.count === 0);
  });

  it('relays a non-101 answer as a normal response', async () => {
    const plain = await upstream((_req, res) => {
      res.statusCode = 403;
      res.end('no upgrade for you');
    });
    cleanups.push(() => plain.close());
    const { url } = await proxyTo(plain.port);
    const error = await new Promise<Error>((resolve) => {
      const ws = new WebSocket(url);
      ws.once('error', resolve);
    });
    expect(error.message).toContain('403');
  });

  it('refuses an upgrade type the route disables', async () => {
    const { port } = await echoServer();
    const { url } = await proxyTo(port, new Map([['websocket', false]]));
    const error = await new Promise<Error>((resolve) => {
      const ws = new WebSocket(url);
      ws.once('error', resolve);
    });
    expect(error.message).toContain('403');
  });
});
