// Backpressure both ways: a client that stops reading stops the upstream's writes, and an
// upstream that stops reading stops the client's upload — the proxy buffers neither.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { cluster, gateway, route, routeAction } from './helpers.js';
import { e2eScope } from './scope.js';

const { cleanups, start, upstream } = e2eScope();

const MB = 1024 * 1024;
const TOTAL = 64 * MB;
// Kernel socket buffers on loopback (client, both proxy sockets, upstream) plus the proxy's
// stream high-water marks: far below the whole body.
const BOUND = 24 * MB;

async function proxyTo(port: number): Promise<number> {
  const proxy = await start(
    gateway({
      routes: [route('r', { route: routeAction('up', { timeoutMs: 0 }) })],
      clusters: [cluster('up', [port])],
    }),
  );
  return proxy.address('ingress')?.port ?? 0;
}

describe('backpressure', () => {
  it('a client that stops reading stops the upstream (no unbounded buffering downstream)', async () => {
    let written = 0;
    let finished = false;
    const chunk = Buffer.alloc(64 * 1024, 97);
    const up = await upstream('big', (req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      res.setHeader('content-length', String(TOTAL));
      const pump = (): void => {
        while (written < TOTAL) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
        finished = true;
      };
      pump();
    });
    const port = await proxyTo(up.port);
    const socket = net.connect(port, '127.0.0.1');
    cleanups.push(async () => {
      socket.destroy();
      await Promise.resolve();
    });
    await once(socket, 'connect');
    let received = 0;
    let all: () => void = () => undefined;
    const everything = new Promise<void>((resolve) => (all = resolve));
    const first = once(socket, 'data');
    socket.on('data', (d: Buffer) => {
      received += d.length;
      if (received >= TOTAL) all();
    });
    socket.write('GET /big HTTP/1.1\r\nhost: a\r\n\r\n');
    await first;
    socket.pause();
    await delay(300); // let whatever buffering there is fill up
    expect(finished).toBe(false);
    expect(written).toBeLessThan(BOUND);
    socket.resume();
    await everything;
    expect(written).toBe(TOTAL);
  });

  it('an upstream that stops reading stops the client upload (no unbounded buffering upstream)', async () => {
    let upstreamReq: IncomingMessage | undefined;
    let arrived: () => void = () => undefined;
    const got = new Promise<void>((resolve) => (arrived = resolve));
    const up = await upstream('sink', (req: IncomingMessage, res: ServerResponse) => {
      upstreamReq = req;
      req.pause();
      arrived();
      req.on('end', () => res.end('done'));
    });
    const port = await proxyTo(up.port);
    const socket = net.connect(port, '127.0.0.1');
    cleanups.push(async () => {
      socket.destroy();
      await Promise.resolve();
    });
    await once(socket, 'connect');
    socket.write(`POST /upload HTTP/1.1\r\nhost: a\r\ncontent-length: ${TOTAL}\r\n\r\n`);
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024, 98);
    let blocked = false;
    const pump = (): void => {
      while (sent < TOTAL) {
        sent += chunk.length;
        if (!socket.write(chunk)) {
          blocked = true;
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
    await got;
    await delay(300);
    expect(blocked).toBe(true);
    expect(sent).toBeLessThan(BOUND);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    upstreamReq?.resume();
    while (!answer.includes('done')) await once(socket, 'data');
    expect(sent).toBe(TOTAL);
  });
});
