// Network chains as the listener runs them: NetworkConnection (current() after an update,
// onDrain), drain of network connections, and TLS-terminated network chains chosen by ALPN.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { createProxy } from '../../src/index.js';
import type { ConnectionHandler, NetworkConnection } from '../../src/index.js';
import {
  CompiledFilterChain,
  CompiledListener,
  type ServerLimits,
} from '../../src/listener/filter-chains.js';
import { ProxyListener } from '../../src/listener/listener.js';
import { NETWORK_LIMITS } from '../../src/config/compile.js';
import { NOOP_STREAM_OBSERVER } from '../../src/observe/noop.js';
import { chainMatch, cluster, listener, snapshot } from '../e2e/helpers.js';
import { cleanupAfterEach } from '../e2e/scope.js';
import { connect, readBytes, startEchoServer, tcpChain, tcpProxy } from '../tcp/helpers.js';

const cleanups = cleanupAfterEach();

const UNUSED: ServerLimits = NETWORK_LIMITS;

/** A handler that answers each chunk with its tag, and closes its connections when drained. */
class TaggingHandler implements ConnectionHandler {
  readonly kind = 'rpc' as const;
  readonly connections: NetworkConnection[] = [];
  readonly tag: string;

  constructor(tag: string) {
    this.tag = tag;
  }

  handle(socket: Duplex, connection: NetworkConnection): void {
    this.connections.push(connection);
    socket.on('data', () => {
      // Long-lived connections re-resolve their handler per request.
      const current = connection.current() as TaggingHandler | null;
      socket.write(current === null ? 'gone' : current.tag);
    });
    connection.onDrain(() => {
      socket.end('bye');
    });
  }
}

function compiled(handler: ConnectionHandler | null): CompiledListener {
  const chains =
    handler === null
      ? []
      : [
          new CompiledFilterChain(
            'net',
            [],
            { handler, observer: NOOP_STREAM_OBSERVER },
            'AUTO',
            UNUSED,
            null,
          ),
        ];
  return new CompiledListener('net', '127.0.0.1', 0, false, chains, null);
}

async function bound(handler: ConnectionHandler): Promise<{ listener: ProxyListener; port: number }> {
  const errors: unknown[] = [];
  const l = new ProxyListener(compiled(handler), { onError: (e) => errors.push(e) });
  await l.listen();
  cleanups.push(async () => {
    await l.drain(0);
    expect(errors).toEqual([]);
  });
  return { listener: l, port: l.address().port };
}

describe('network connections', () => {
  it('current() gives the handler of the config version in effect, null once the chain is gone', async () => {
    const first = new TaggingHandler('1');
    const { listener: l, port } = await bound(first);
    const socket = await connect(port);
    cleanups.push(() => socket.destroy());
    socket.write('?');
    expect((await readBytes(socket, 1)).toString()).toBe('1');
    expect(first.connections[0]?.info).toMatchObject({
      listenerName: 'net',
      tls: false,
      remoteAddress: '127.0.0.1',
    });
    expect(first.connections[0]?.draining).toBe(false);
    l.apply(compiled(new TaggingHandler('2')));
    socket.write('?');
    expect((await readBytes(socket, 1)).toString()).toBe('2');
    l.apply(compiled(null));
    socket.write('?');
    expect((await readBytes(socket, 4)).toString()).toBe('gone');
  });

  it('drain runs onDrain callbacks (the handler closes) and finishes without waiting for the timeout', async () => {
    const handler = new TaggingHandler('x');
    const { listener: l, port } = await bound(handler);
    const sockets = await Promise.all([connect(port), connect(port)]);
    for (const s of sockets) s.write('?');
    await Promise.all(sockets.map((s) => readBytes(s, 1)));
    const byes = sockets.map((s) => readBytes(s, 3));
    const started = performance.now();
    const drained = l.drain(60_000);
    expect(handler.connections.every((c) => c.draining)).toBe(true);
    expect((await Promise.all(byes)).map(String)).toEqual(['bye', 'bye']);
    for (const s of sockets) s.end();
    await drained;
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(l.connections).toBe(0);
    // A callback registered once draining runs at once.
    let late = false;
    handler.connections[0]?.onDrain(() => (late = true));
    await Promise.resolve();
    expect(late).toBe(true);
  });
});

describe('TLS-terminated network chains', () => {
  const fixture = (name: string): string =>
    fileURLToPath(new URL(`../e2e/fixtures/${name}`, import.meta.url));
  const certs: model.DownstreamTls = {
    certificates: [
      {
        certificateChain: { filename: fixture('alpha.crt') },
        privateKey: { filename: fixture('alpha.key') },
      },
    ],
    alpnProtocols: [],
    requireClientCertificate: false,
  };

  it('terminates TLS and picks the chain by the ALPN the client offers', async () => {
    const a = await startEchoServer('a:');
    const b = await startEchoServer('b:');
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const proxy = createProxy({
      config: snapshot({
        listeners: [
          listener('secure', [
            tcpChain(tcpProxy({ cluster: 'a' }), {
              name: 'a',
              tls: certs,
              filterChainMatch: chainMatch({ applicationProtocols: ['x-a'] }),
            }),
            tcpChain(tcpProxy({ cluster: 'b' }), { name: 'b', tls: certs }),
          ]),
        ],
        clusters: [cluster('a', [a.port]), cluster('b', [b.port])],
      }),
    });
    cleanups.push(() => proxy.close());
    await proxy.start();
    const port = proxy.address('secure')?.port ?? 0;
    const ca = readFileSync(fixture('ca.crt'));
    const call = async (alpn: string[] | undefined): Promise<string> => {
      const socket = tls.connect({
        port,
        host: '127.0.0.1',
        servername: 'alpha.example.com',
        ca,
        ...(alpn === undefined ? {} : { ALPNProtocols: alpn }),
      });
      cleanups.push(() => socket.destroy());
      await once(socket, 'secureConnect');
      socket.write('hi');
      const chunks: Buffer[] = [];
      let got = 0;
      while (got < 4) {
        const [chunk] = (await once(socket, 'data')) as [Buffer];
        chunks.push(chunk);
        got += chunk.length;
      }
      return `${String(socket.alpnProtocol)} ${Buffer.concat(chunks).toString()}`;
    };
    expect(await call(['x-a'])).toBe('x-a a:hi');
    expect(await call(undefined)).toBe('false b:hi');
  });
});
