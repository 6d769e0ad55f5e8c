// Regression tests of the bugs the fuzz suites found, each named after its bug (docs/reliability.md,
// "Bugs found"). Each failed before its fix.
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startFuzzProxy, type FuzzProxy } from './fuzz-proxy.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Collects uncaught exceptions while a test runs (each would end a real proxy process). */
function watchUncaught(): unknown[] {
  const seen: unknown[] = [];
  const onError = (error: unknown): void => {
    seen.push(error);
  };
  process.on('uncaughtException', onError);
  cleanups.push(() => {
    process.off('uncaughtException', onError);
    return Promise.resolve();
  });
  return seen;
}

async function waitForNoConnections(fz: FuzzProxy): Promise<void> {
  // Polls the proxy's own gauge; the bound only turns a leak into a failure instead of a hang.
  for (let i = 0; i < 500 && fz.gauge('http.fuzz.downstream_cx_active') > 0; i++) await sleep(10);
  expect(fz.gauge('http.fuzz.downstream_cx_active')).toBe(0);
}

describe('bugs found by fuzzing', () => {
  it("bug 1: a disconnect during a pipelined request's body crashed the proxy (uncaught 'aborted')", async () => {
    // node emits the aborted body's error a tick after it checks for listeners; the proxy's body
    // reader stopped listening in between (at the queued response's 'close'), so the error was
    // thrown: one client could end the proxy process with two pipelined requests.
    const uncaught = watchUncaught();
    const posted = { resolve: (): void => undefined };
    const postArrived = new Promise<void>((resolve) => (posted.resolve = resolve));
    const fz = await startFuzzProxy((req, res) => {
      req.on('error', () => undefined);
      if (req.url === '/slow') return; // keeps the first response pending: the second one queues
      posted.resolve();
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    cleanups.push(() => fz.close());

    for (const ending of ['end', 'reset'] as const) {
      const socket = net.connect(fz.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.resume();
      await once(socket, 'connect');
      socket.write(
        'GET /slow HTTP/1.1\r\nhost: a\r\n\r\n' +
          'POST /b HTTP/1.1\r\nhost: a\r\ncontent-length: 10\r\n\r\nabc',
      );
      await postArrived; // the body is being forwarded
      if (ending === 'end') socket.end();
      else socket.resetAndDestroy();
      await waitForNoConnections(fz);
      await tick(); // the error would be thrown from a nextTick after the close
    }

    expect(uncaught).toEqual([]);
    // And the proxy still serves.
    const status = await new Promise<number>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: fz.port, path: '/after' }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(status).toBe(200);
  });

  it('bug 5: a connection whose upgrade request was answered without a tunnel stayed open', async () => {
    // The answer (the upstream's non-101 response, or a local reply) says `connection: close`,
    // but the socket was only ended, never closed: it stayed as long as the client kept its side
    // open, and for good when the client's reset went unnoticed (node stops reading a socket it
    // hands over as an upgrade). The HTTP/1 fuzzer saw the connection gauge stay above zero.
    const fz = await startFuzzProxy((req, res) => {
      res.end(`no upgrade here: ${req.headers.upgrade ?? ''}`);
    });
    cleanups.push(() => fz.close());
    const answers = {
      // Allowed by the connection manager (upgrade_configs), refused by the upstream with a 200.
      websocket: /^HTTP\/1\.1 200 OK\r\n[\s\S]*connection: close\r\n[\s\S]*no upgrade here: websocket$/,
      // Not allowed: the proxy's local reply.
      h2c: /^HTTP\/1\.1 403 Forbidden\r\n[\s\S]*connection: close\r\n/,
    };
    for (const [protocol, answer] of Object.entries(answers)) {
      // A client that keeps its side open after the answer (half-open allowed).
      const socket = net.connect({ port: fz.port, host: '127.0.0.1', allowHalfOpen: true });
      socket.on('error', () => undefined);
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      await once(socket, 'connect');
      const ended = once(socket, 'end');
      socket.write(`GET /ws HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: ${protocol}\r\n\r\n`);
      await ended;
      expect(text).toMatch(answer);
      await waitForNoConnections(fz); // the proxy closed it, as node does after `connection: close`
      socket.destroy();
    }
  });
});
