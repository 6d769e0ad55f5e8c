// Protocol sniffing on one port: listener filters (http_inspector, protocol_inspector) read the
// first bytes, and filter_chain_match.application_protocols sends each connection to its chain.
// Real clients at the same time: undici (HTTP/1.1), @grpc/grpc-js (h2c), and a protocol defined
// in the test with defineProtocol (to a TCP proxy); plus the timeout for clients that say too little.
import type { Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { defineProtocol, Frame } from '@meshlet/codec';
import type * as model from '@meshlet/xds';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { ConfigError, createProxy, type HttpProxy, type ProxyOptions } from '../../src/index.js';
import {
  chainMatch,
  cluster,
  filterChain,
  hcm,
  listener,
  route,
  routeAction,
  routeConfig,
  snapshot,
  virtualHost,
} from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';
import { boltClient, boltRequest, echo, rpcProxyFilter, rpcRoute, startBoltServer } from '../rpc/peers.js';
import {
  connect,
  readAll,
  readBytes,
  recordingObservers,
  startEchoServer,
  startTcpServer,
  tcpChain,
  tcpProxy,
  type TcpServer,
} from '../tcp/helpers.js';

const { cleanups, upstream } = e2eScope();

/** A toy length-prefixed protocol: 0x4d, request id (4 bytes), body length (4 bytes), body. */
const toy = defineProtocol({
  name: 'toy',
  multiplexed: true,
  match: (b) => (b.length < 1 ? 'need-more' : b[0] === 0x4d ? 'yes' : 'no'),
  frameLength: (q) => (q.length < 9 ? -1 : 9 + q.readUInt32BE(5)),
  decode: (bytes) =>
    new Frame({ protocol: 'toy', requestId: bytes.readUInt32BE(1), body: bytes.subarray(9), raw: bytes }),
  encode: (f) => {
    const h = Buffer.alloc(9);
    h[0] = 0x4d;
    h.writeUInt32BE(f.requestId, 1);
    h.writeUInt32BE(f.body.length, 5);
    return [h, f.body];
  },
  heartbeatReply: (f) => f,
  errorReply: (req) => new Frame({ protocol: 'toy', kind: 'response', requestId: req.requestId, status: 1 }),
});

function toyFrame(id: number, body: string): Buffer {
  const b = Buffer.from(body);
  const h = Buffer.alloc(9);
  h[0] = 0x4d;
  h.writeUInt32BE(id, 1);
  h.writeUInt32BE(b.length, 5);
  return Buffer.concat([h, b]);
}

const inspector: model.ListenerFilter = { name: 'meshlet.protocol_inspector', kind: 'protocol_inspector' };

async function serve(server: Promise<TcpServer>): Promise<TcpServer> {
  const s = await server;
  cleanups.push(() => s.close());
  return s;
}

async function startProxy(config: model.XdsSnapshot, more: Partial<ProxyOptions> = {}): Promise<HttpProxy> {
  const proxy = createProxy({ config, protocols: [toy], ...more });
  cleanups.push(() => proxy.close());
  await proxy.start();
  return proxy;
}

async function client(port: number): Promise<Socket> {
  const socket = await connect(port);
  cleanups.push(() => {
    socket.destroy();
  });
  return socket;
}

const raw = (b: Buffer): Buffer => b;
const echoService: grpc.ServiceDefinition = {
  echo: {
    path: '/test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
};

async function grpcServer(): Promise<number> {
  const server = new grpc.Server();
  server.addService(echoService, {
    echo(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      callback(null, Buffer.concat([Buffer.from('grpc:'), call.request]));
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => {
      if (error) reject(error);
      else resolve(p);
    });
  });
  cleanups.push(() => {
    server.forceShutdown();
  });
  return port;
}

function grpcEcho(port: number, body: string): Promise<string> {
  const Ctor = grpc.makeGenericClientConstructor(echoService, 'Echo');
  const c = new Ctor(`127.0.0.1:${String(port)}`, grpc.credentials.createInsecure()) as unknown as {
    echo: (req: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void;
    close: () => void;
  };
  cleanups.push(() => {
    c.close();
  });
  return new Promise((resolve, reject) => {
    c.echo(Buffer.from(body), (error, reply) => {
      if (error) reject(error);
      else resolve(reply?.toString() ?? '');
    });
  });
}

function httpChain(name: string, clusterName: string, protocols: string[]): model.FilterChain {
  const manager = hcm({
    routeConfig: routeConfig(name, [
      virtualHost('all', ['*'], [route('r', { route: routeAction(clusterName, { timeoutMs: 0 }) })]),
    ]),
  });
  return filterChain(manager, { name, filterChainMatch: chainMatch({ applicationProtocols: protocols }) });
}

const h2Upstream: Partial<model.Cluster> = {
  upstreamHttpProtocolOptions: {
    protocol: 'http2',
    commonHttpProtocolOptions: { headersWithUnderscoresAction: 'ALLOW' },
    autoSni: false,
  },
};

describe('protocol sniffing on one port', () => {
  it('serves HTTP/1.1, h2c gRPC and a defineProtocol protocol on one listener at the same time', async () => {
    const web = await upstream('web');
    const grpcPort = await grpcServer();
    const toyServer = await serve(startEchoServer());
    const seen = recordingObservers();
    const proxy = await startProxy(
      snapshot({
        listeners: [
          listener(
            'one',
            [
              httpChain('http1', 'web', ['http/1.1']),
              httpChain('grpc', 'grpc', ['h2c']),
              tcpChain(tcpProxy({ cluster: 'toy' }), {
                name: 'toy',
                filterChainMatch: chainMatch({ applicationProtocols: ['toy'] }),
              }),
            ],
            0,
            { listenerFilters: [inspector] },
          ),
        ],
        clusters: [
          cluster('web', [web.port]),
          cluster('grpc', [grpcPort], h2Upstream),
          cluster('toy', [toyServer.port]),
        ],
      }),
      { observers: [seen.factory] },
    );
    const port = proxy.address('one')?.port ?? 0;
    const toyCall = async (id: number): Promise<string> => {
      const socket = await client(port);
      const frame = toyFrame(id, `toy ${String(id)}`);
      socket.write(frame);
      const back = await readBytes(socket, frame.length);
      socket.end();
      return `${String(back.readUInt32BE(1))} ${back.subarray(9).toString()}`;
    };
    const httpCall = async (i: number): Promise<string> => {
      const res = await request(`http://127.0.0.1:${String(port)}/web/${String(i)}`);
      return `${String(res.statusCode)} ${await res.body.text()}`;
    };
    const results = await Promise.all([
      httpCall(1),
      grpcEcho(port, 'one'),
      toyCall(7),
      httpCall(2),
      grpcEcho(port, 'two'),
      toyCall(8),
    ]);
    expect(results).toEqual(['200 web', 'grpc:one', '7 toy 7', '200 web', 'grpc:two', '8 toy 8']);
    const toyClosed = await seen.waitClosed(2);
    expect(toyClosed.filter((c) => c.chain === 'toy')).toHaveLength(2);
  });

  it('serves HTTP/1.1 (undici), h2c gRPC (@grpc/grpc-js) and Bolt (sofa-bolt-node) on one port at the same time', async () => {
    const web = await upstream('web');
    const grpcPort = await grpcServer();
    const bolt = await startBoltServer(echo('bolt'));
    cleanups.push(() => bolt.close());
    const seen = recordingObservers();
    const boltChain: model.FilterChain = {
      name: 'bolt',
      filterChainMatch: chainMatch({ applicationProtocols: ['bolt'] }),
      filters: [rpcProxyFilter({ protocol: 'bolt', routes: [rpcRoute('greeter')] })],
    };
    const proxy = await startProxy(
      snapshot({
        listeners: [
          listener(
            'one',
            [httpChain('web', 'web', ['http/1.1']), httpChain('grpc', 'grpc', ['h2c']), boltChain],
            0,
            {
              listenerFilters: [{ name: 'sniff', kind: 'protocol_inspector', protocols: ['bolt'] }],
            },
          ),
        ],
        clusters: [
          cluster('web', [web.port]),
          cluster('grpc', [grpcPort], h2Upstream),
          cluster('greeter', [bolt.port]),
        ],
      }),
      { observers: [seen.factory] },
    );
    const port = proxy.address('one')?.port ?? 0;
    const boltCall = async (arg: string): Promise<string> => {
      const c = await boltClient(port);
      try {
        const res = await c.invoke(boltRequest('com.acme.Greeter:1.0', 'hello', arg));
        return String(res.data.appResponse);
      } finally {
        await c.close();
      }
    };
    const httpCall = async (): Promise<string> => {
      const res = await request(`http://127.0.0.1:${String(port)}/`);
      return `${String(res.statusCode)} ${await res.body.text()}`;
    };
    const results = await Promise.all([
      httpCall(),
      grpcEcho(port, 'one'),
      boltCall('one'),
      boltCall('two'),
      httpCall(),
      grpcEcho(port, 'two'),
    ]);
    expect(results).toEqual(['200 web', 'grpc:one', 'bolt:one', 'bolt:two', '200 web', 'grpc:two']);
    expect(bolt.requests).toHaveLength(2);
    // The listener reports the Bolt connections to the rpc chain's observer when they close.
    while (seen.closed.filter((c) => c.chain === 'bolt').length < 2)
      await seen.waitClosed(seen.closed.length + 1);
    expect(seen.closed.filter((c) => c.chain === 'bolt').every((c) => c.kind === 'rpc')).toBe(true);
  });

  it('closes a client that sends too little within listener_filters_timeout', async () => {
    const echo = await serve(startEchoServer());
    const proxy = await startProxy(
      snapshot({
        listeners: [
          listener(
            'one',
            [
              tcpChain(tcpProxy({ cluster: 'echo' }), {
                filterChainMatch: chainMatch({ applicationProtocols: ['toy'] }),
              }),
            ],
            0,
            { listenerFilters: [inspector], listenerFiltersTimeoutMs: 50 },
          ),
        ],
        clusters: [cluster('echo', [echo.port])],
      }),
    );
    const socket = await client(proxy.address('one')?.port ?? 0);
    // "G" could still be "GET ": the inspector waits for more, then gives up.
    socket.write('G');
    expect((await readAll(socket)).length).toBe(0);
    expect(echo.accepted).toHaveLength(0);
  });

  it('continue_on_listener_filters_timeout: a silent client goes to the chain without application protocols', async () => {
    const greeter = await serve(
      startTcpServer((socket) => {
        socket.write('hello, whoever you are');
        socket.end();
      }),
    );
    const toyServer = await serve(startEchoServer());
    const proxy = await startProxy(
      snapshot({
        listeners: [
          listener(
            'one',
            [
              tcpChain(tcpProxy({ cluster: 'toy' }), {
                name: 'toy',
                filterChainMatch: chainMatch({ applicationProtocols: ['toy'] }),
              }),
              tcpChain(tcpProxy({ cluster: 'greeter' }), { name: 'server-first' }),
            ],
            0,
            {
              listenerFilters: [inspector],
              listenerFiltersTimeoutMs: 50,
              continueOnListenerFiltersTimeout: true,
            },
          ),
        ],
        clusters: [cluster('greeter', [greeter.port]), cluster('toy', [toyServer.port])],
      }),
    );
    // A server-speaks-first protocol: the client says nothing until greeted.
    const socket = await client(proxy.address('one')?.port ?? 0);
    expect((await readAll(socket)).toString()).toBe('hello, whoever you are');
  });

  it('sends what no inspector recognises to the chain without application protocols', async () => {
    const toyServer = await serve(startEchoServer('toy:'));
    const other = await serve(startEchoServer('other:'));
    const proxy = await startProxy(
      snapshot({
        listeners: [
          listener(
            'one',
            [
              tcpChain(tcpProxy({ cluster: 'toy' }), {
                name: 'toy',
                filterChainMatch: chainMatch({ applicationProtocols: ['toy'] }),
              }),
            ],
            0,
            {
              listenerFilters: [inspector],
              defaultFilterChain: tcpChain(tcpProxy({ cluster: 'other' }), { name: 'fallback' }),
            },
          ),
        ],
        clusters: [cluster('toy', [toyServer.port]), cluster('other', [other.port])],
      }),
    );
    const port = proxy.address('one')?.port ?? 0;
    const a = await client(port);
    a.write('\x00\x01 something else');
    expect((await readBytes(a, 'other:'.length + 17)).toString()).toBe('other:\x00\x01 something else');
    const b = await client(port);
    const frame = toyFrame(1, 'x');
    b.write(frame);
    expect((await readBytes(b, 4 + frame.length)).subarray(0, 4).toString()).toBe('toy:');
  });

  it('an HTTP chain without application protocols takes what the inspector does not recognise', async () => {
    const web = await upstream('web');
    const manager = hcm({
      routeConfig: routeConfig('r', [virtualHost('all', ['*'], [route('r', { route: routeAction('web') })])]),
    });
    const proxy = await startProxy(
      snapshot({
        listeners: [listener('one', [filterChain(manager)], 0, { listenerFilters: [inspector] })],
        clusters: [cluster('web', [web.port])],
      }),
    );
    // Not a method the inspector knows: node's HTTP parser answers it (400), nothing hangs.
    const socket = await client(proxy.address('one')?.port ?? 0);
    socket.write('BREW /pot HTTP/1.1\r\nhost: a\r\n\r\n');
    expect((await readAll(socket)).toString()).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('rejects application_protocols no listener filter can set', () => {
    const chain = tcpChain(tcpProxy({ cluster: 'a' }), {
      filterChainMatch: chainMatch({ applicationProtocols: ['toy'] }),
    });
    const build = (l: model.Listener): HttpProxy =>
      createProxy({ config: snapshot({ listeners: [l], clusters: [cluster('a', [1])] }), protocols: [toy] });
    expect(() => build(listener('x', [chain]))).toThrow(
      /application_protocols on a cleartext chain needs an http_inspector or protocol_inspector/,
    );
    expect(() =>
      build(listener('x', [chain], 0, { listenerFilters: [{ name: 'h', kind: 'http_inspector' }] })),
    ).toThrow(/"toy": no listener filter of this listener recognises it/);
    expect(() =>
      build(
        listener('x', [chain], 0, {
          listenerFilters: [{ name: 'p', kind: 'protocol_inspector', protocols: ['nope'] }],
        }),
      ),
    ).toThrow(ConfigError);
    // Named explicitly, it is known.
    expect(() =>
      build(
        listener('x', [chain], 0, {
          listenerFilters: [{ name: 'p', kind: 'protocol_inspector', protocols: ['toy'] }],
        }),
      ),
    ).not.toThrow();
  });

  it('http_inspector alone routes HTTP/1.1 and h2c to their chains', async () => {
    const web = await upstream('web');
    const grpcPort = await grpcServer();
    const proxy = await startProxy(
      snapshot({
        listeners: [
          listener('one', [httpChain('http1', 'web', ['http/1.1']), httpChain('grpc', 'grpc', ['h2c'])], 0, {
            listenerFilters: [{ name: 'envoy.filters.listener.http_inspector', kind: 'http_inspector' }],
          }),
        ],
        clusters: [cluster('web', [web.port]), cluster('grpc', [grpcPort], h2Upstream)],
      }),
    );
    const port = proxy.address('one')?.port ?? 0;
    const res = await request(`http://127.0.0.1:${String(port)}/x`);
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(await grpcEcho(port, 'hi')).toBe('grpc:hi');
  });
});
