// The breaker in front of a real HTTP dependency on loopback, called with Node's fetch (undici):
// once open it stops the traffic (the server sees no more requests), a deadline really aborts
// the request in flight, and a recovered server closes the breaker through a trial call.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BreakerOpenError, BreakerTimeoutError, CircuitBreaker, TimerWheel } from '@meshlet/breaker';
import { FakeTime } from '../../../test/support/fake-time.js';

let server: Server | undefined;

afterEach(async () => {
  const current = server;
  server = undefined;
  if (!current) return;
  current.closeAllConnections();
  await new Promise<void>((resolve) => {
    current.close(() => {
      resolve();
    });
  });
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const created = createServer(handler);
  server = created;
  await new Promise<void>((resolve) => created.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(created.address() as AddressInfo).port}/`;
}

async function get(url: string, signal: AbortSignal | undefined): Promise<string> {
  const res = await fetch(url, signal ? { signal } : {});
  const body = await res.text();
  if (res.status >= 500) throw new Error(`upstream ${res.status}`);
  return body;
}

describe('CircuitBreaker with a real HTTP dependency', () => {
  it('stops calling a failing server, then closes again through a trial once it recovers', async () => {
    let hits = 0;
    let healthy = false;
    const url = await listen((_req, res) => {
      hits++;
      res.writeHead(healthy ? 200 : 503).end(healthy ? 'ok' : 'down');
    });
    const time = new FakeTime();
    const breaker = new CircuitBreaker({
      consecutiveFailures: 3,
      openDurationMs: 5000,
      wheel: new TimerWheel({ clock: time, scheduler: time }),
    });
    for (let i = 0; i < 3; i++)
      await expect(breaker.execute((s) => get(url, s))).rejects.toThrow('upstream 503');
    expect(breaker.state).toBe('open');
    for (let i = 0; i < 10; i++)
      await expect(breaker.execute((s) => get(url, s))).rejects.toBeInstanceOf(BreakerOpenError);
    expect(hits).toBe(3); // refused calls never reached the server
    healthy = true;
    time.advance(5000);
    expect(breaker.state).toBe('half-open');
    await expect(breaker.execute((s) => get(url, s))).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(hits).toBe(4);
  });

  it('aborts a request that passes the deadline and counts it as a failure', async () => {
    let onClientGone: () => void = () => undefined;
    const clientGone = new Promise<void>((resolve) => {
      onClientGone = resolve;
    });
    const url = await listen((req) => {
      req.socket.on('close', onClientGone); // never answers
    });
    const breaker = new CircuitBreaker({
      consecutiveFailures: 1,
      timeoutMs: 50,
      wheel: new TimerWheel({ tickMs: 5 }),
    });
    await expect(breaker.execute((s) => get(url, s))).rejects.toBeInstanceOf(BreakerTimeoutError);
    expect(breaker.state).toBe('open');
    await clientGone; // the abort reached the socket: the client closed it
  });
});
