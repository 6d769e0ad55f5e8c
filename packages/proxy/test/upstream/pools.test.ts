// Upstream pools against real loopback servers: HTTP/2 cleartext (prior knowledge), TLS with the
// cluster's validation context and SNI, HTTP/2 over TLS by ALPN.
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createSecureServer, createServer as createH2cServer } from 'node:http2';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse, Http2SecureServer } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, ServerResponse, Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createClusterManager } from '../../src/cluster/index.js';
import type { DefaultClusterManager, ManagedCluster } from '../../src/cluster/index.js';
import { clusters, must, NO_ENDPOINTS, staticCluster } from '../cluster/helpers.js';
import { cleanupAfterEach } from '../e2e/scope.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const CA = fixture('ca.crt');
const OTHER_CA = fixture('other-ca.crt');
const CERT = fixture('server.crt');
const KEY = fixture('server.key');

const cleanup = cleanupAfterEach();

function manager(): DefaultClusterManager {
  const m = createClusterManager();
  cleanup.push(() => m.close());
  return m;
}

type AnyServer = Server | Http2Server | Http2SecureServer;

async function listen<S extends AnyServer>(
  server: S,
): Promise<{ server: S; port: number; connections: () => number }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('secureConnection', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  );
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

/** Answers `<http version> <sni or ->`. */
function describeRequest(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
): void {
  const socket = req.socket as Partial<TLSSocket>;
  const sni = typeof socket.servername === 'string' ? socket.servername : '-';
  req.resume();
  res.end(`${req.httpVersion} ${sni}`);
}

function http2Options(): Record<string, unknown> {
  return {
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 50 } },
      },
    },
  };
}

function tls(context: Record<string, unknown>): Record<string, unknown> {
  return {
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        ...context,
      },
    },
  };
}

async function send(c: ManagedCluster, headers: Record<string, string> = {}): Promise<string> {
  const host = must(c.pick({}));
  const res = await c
    .dispatcher(host, c.protocolFor('HTTP/1.1'))
    .request({ method: 'GET', path: '/', headers });
  return res.body.text();
}

describe('HTTP/2 upstream, cleartext (h2c with prior knowledge)', () => {
  it('speaks HTTP/2 to an h2c server and multiplexes concurrent requests on one connection', async () => {
    const { port, connections } = await listen(createH2cServer(describeRequest));
    const m = manager();
    m.update(clusters(staticCluster('grpc', [port], http2Options())), NO_ENDPOINTS);
    const c = must(m.get('grpc'));
    expect(c.protocolFor('HTTP/1.1')).toBe('http2');
    const answers = await Promise.all(Array.from({ length: 10 }, () => send(c)));
    expect(new Set(answers)).toEqual(new Set(['2.0 -']));
    expect(connections()).toBe(1);
  });
});

describe('TLS upstream', () => {
  it('verifies the server against trusted_ca and sends the configured SNI', async () => {
    const { port } = await listen(createHttpsServer({ cert: CERT, key: KEY }, describeRequest));
    const m = manager();
    m.update(
      clusters(
        staticCluster(
          'secure',
          [port],
          tls({
            sni: 'upstream.test',
            common_tls_context: {
              validation_context: {
                trusted_ca: { inline_string: CA },
                match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'upstream.test' } }],
              },
            },
          }),
        ),
      ),
      NO_ENDPOINTS,
    );
    const c = must(m.get('secure'));
    // A request's own host does not change the SNI when auto_sni is off.
    expect(await send(c, { host: 'elsewhere.test' })).toBe('1.1 upstream.test');
  });

  it('fails the request when the chain does not verify or no SAN matches', async () => {
    const { port } = await listen(createHttpsServer({ cert: CERT, key: KEY }, describeRequest));
    const m = manager();
    m.update(
      clusters(
        staticCluster(
          'wrong-ca',
          [port],
          tls({
            sni: 'upstream.test',
            common_tls_context: { validation_context: { trusted_ca: { inline_string: OTHER_CA } } },
          }),
        ),
        staticCluster(
          'wrong-san',
          [port],
          tls({
            common_tls_context: {
              validation_context: {
                trusted_ca: { inline_string: CA },
                match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'other.test' } }],
              },
            },
          }),
        ),
      ),
      NO_ENDPOINTS,
    );
    await expect(send(must(m.get('wrong-ca')))).rejects.toThrow();
    await expect(send(must(m.get('wrong-san')))).rejects.toThrow(/match_subject_alt_names/);
  });

  it('does not verify the peer without a validation context (as Envoy), and sends the request host as SNI with auto_sni', async () => {
    const { port } = await listen(createHttpsServer({ cert: CERT, key: KEY }, describeRequest));
    const m = manager();
    m.update(
      clusters(
        staticCluster('open', [port], {
          ...tls({}),
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              upstream_http_protocol_options: { auto_sni: true },
              explicit_http_config: { http_protocol_options: {} },
            },
          },
        }),
      ),
      NO_ENDPOINTS,
    );
    expect(await send(must(m.get('open')), { host: 'upstream.test' })).toBe('1.1 upstream.test');
  });

  it('speaks HTTP/2 over TLS when the server selects h2 by ALPN', async () => {
    const { port, connections } = await listen(
      createSecureServer({ cert: CERT, key: KEY, allowHTTP1: true }, describeRequest),
    );
    const m = manager();
    m.update(
      clusters(
        staticCluster('h2tls', [port], {
          ...http2Options(),
          ...tls({
            sni: 'upstream.test',
            common_tls_context: { validation_context: { trusted_ca: { inline_string: CA } } },
          }),
        }),
      ),
      NO_ENDPOINTS,
    );
    const c = must(m.get('h2tls'));
    const answers = await Promise.all(Array.from({ length: 5 }, () => send(c)));
    expect(new Set(answers)).toEqual(new Set(['2.0 upstream.test']));
    expect(connections()).toBe(1);
  });
});

describe('HTTP/1.1 pools', () => {
  function protocolOptions(common: Record<string, unknown>): Record<string, unknown> {
    return {
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          common_http_protocol_options: common,
          explicit_http_config: { http_protocol_options: {} },
        },
      },
    };
  }

  it('closes a connection idle for common_http_protocol_options.idle_timeout', async () => {
    const { server, port } = await listen(createHttpServer(describeRequest));
    server.keepAliveTimeout = 0; // the server never closes an idle connection: only the pool can
    const m = manager();
    m.update(
      clusters(staticCluster('idle', [port], protocolOptions({ idle_timeout: '0.05s' }))),
      NO_ENDPOINTS,
    );
    const closed = new Promise<void>((resolve) => {
      server.once('connection', (socket: Socket) => {
        socket.once('close', () => {
          resolve();
        });
      });
    });
    expect(await send(must(m.get('idle')))).toBe('1.1 -');
    await closed; // the pool closed it, idle: the test would time out otherwise
  });

  it('serves at most max_requests_per_connection requests on one connection', async () => {
    const perSocket = new Map<Socket, number>();
    const { port } = await listen(
      createHttpServer((req, res) => {
        perSocket.set(req.socket, (perSocket.get(req.socket) ?? 0) + 1);
        describeRequest(req, res);
      }),
    );
    const m = manager();
    m.update(
      clusters(staticCluster('short', [port], protocolOptions({ max_requests_per_connection: 2 }))),
      NO_ENDPOINTS,
    );
    const c = must(m.get('short'));
    for (let i = 0; i < 6; i++) await send(c);
    expect([...perSocket.values()].reduce((a, b) => a + b, 0)).toBe(6);
    expect(Math.max(...perSocket.values())).toBeLessThanOrEqual(2);
    expect(perSocket.size).toBeGreaterThanOrEqual(3);
  });
});
