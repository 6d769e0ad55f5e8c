// HTTP/2 (h2c prior knowledge and over TLS by ALPN), TLS termination with SNI-selected filter
// chains, WebSocket pass-through and gRPC (unary, streaming, trailers, grpc-timeout) through the
// proxy, with real clients and servers: undici, node:http2, ws, @grpc/grpc-js.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import type * as model from '@meshlet/xds';
import { type HttpProxy } from '../../src/index.js';
import {
  cluster,
  filterChain,
  chainMatch,
  gateway,
  hcm,
  listener,
  namedUpstream,
  origin,
  route,
  routeAction,
  routeConfig,
  snapshot,
  virtualHost,
} from './helpers.js';
import { e2eScope } from './scope.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const CA = fixture('ca.crt');

const { cleanups, start, upstream } = e2eScope();

function h2Get(
  url: string,
  path: string,
  options: http2.SecureClientSessionOptions = {},
): Promise<{ status: number; body: string; alpn: string | undefined }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, options);
    session.on('error', reject);
    const stream = session.request({ ':path': path });
    let body = '';
    let status = 0;
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (d: Buffer) => (body += d.toString()));
    stream.on('end', () => {
      const alpn = session.alpnProtocol;
      session.close();
      resolve({ status, body, alpn });
    });
    stream.on('error', reject);
    stream.end();
  });
}

describe('HTTP/2', () => {
  it('serves h2c with prior knowledge on an AUTO listener and forwards to an HTTP/1.1 upstream', async () => {
    const a = await upstream('a');
    const proxy = await start(
      gateway({ routes: [route('r', { route: routeAction('a') })], clusters: [cluster('a', [a.port])] }),
    );
    const res = await h2Get(origin(proxy), '/h2c');
    expect(res).toMatchObject({ status: 200, body: 'a' });
    expect(a.requests[0]?.headers.host).toBe(`127.0.0.1:${proxy.address('ingress')?.port}`);
  });

  it('streams an HTTP/2 request body to an HTTP/1.1 upstream', async () => {
    const sink = await namedUpstream('sink', (req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      req.on('end', () => res.end(`got ${n}`));
    });
    cleanups.push(sink.close);
    const proxy = await start(
      gateway({
        routes: [route('r', { route: routeAction('sink') })],
        clusters: [cluster('sink', [sink.port])],
      }),
    );
    const session = http2.connect(origin(proxy));
    cleanups.push(() => {
      session.close();
    });
    const stream = session.request({ ':method': 'POST', ':path': '/upload' });
    for (let i = 0; i < 16; i++) stream.write(Buffer.alloc(64 * 1024, i));
    stream.end();
    let body = '';
    stream.on('data', (d: Buffer) => (body += d.toString()));
    await once(stream, 'end');
    expect(body).toBe(`got ${16 * 64 * 1024}`);
  });

  it('serves only HTTP/2 on an HTTP2 cleartext listener', async () => {
    const a = await upstream('a');
    const proxy = await start(
      gateway({
        routes: [route('r', { route: routeAction('a') })],
        clusters: [cluster('a', [a.port])],
        hcm: { codecType: 'HTTP2' },
      }),
    );
    expect(await h2Get(origin(proxy), '/')).toMatchObject({ status: 200, body: 'a' });
  });
});

describe('TLS termination', () => {
  function tlsChain(
    name: string,
    serverNames: string[],
    cert: string,
    clusterName: string,
  ): model.FilterChain {
    return filterChain(
      hcm({
        routeConfig: routeConfig(`rc-${name}`, [
          virtualHost('all', ['*'], [route('r', { route: routeAction(clusterName) })]),
        ]),
      }),
      {
        name,
        filterChainMatch: chainMatch({ serverNames }),
        tls: {
          certificates: [
            {
              certificateChain: { inlineString: fixture(`${cert}.crt`) },
              privateKey: { inlineString: fixture(`${cert}.key`) },
            },
          ],
          alpnProtocols: [],
          requireClientCertificate: false,
        },
      },
    );
  }

  async function tlsProxy(): Promise<{ proxy: HttpProxy; port: number }> {
    const a = await upstream('alpha');
    const w = await upstream('wild');
    const proxy = await start(
      snapshot({
        listeners: [
          listener('tls', [
            tlsChain('alpha', ['alpha.example.com'], 'alpha', 'a'),
            tlsChain('wild', ['*.wild.example.com'], 'wild', 'w'),
          ]),
        ],
        clusters: [cluster('a', [a.port]), cluster('w', [w.port])],
      }),
    );
    return { proxy, port: (proxy.address('tls') as AddressInfo).port };
  }

  it('selects the filter chain (certificate and routes) by SNI, wildcards included', async () => {
    const { port } = await tlsProxy();
    for (const [servername, expected] of [
      ['alpha.example.com', 'alpha'],
      ['shop.wild.example.com', 'wild'],
    ] as const) {
      const client = new Client(`https://127.0.0.1:${port}`, { connect: { ca: CA, servername } });
      cleanups.push(() => client.close());
      const res = await client.request({ path: '/', method: 'GET' });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe(expected);
    }
  });

  it('refuses a server name no chain takes', async () => {
    const { port } = await tlsProxy();
    const client = new Client(`https://127.0.0.1:${port}`, {
      connect: { ca: CA, servername: 'other.example.org' },
    });
    cleanups.push(() => client.destroy());
    await expect(client.request({ path: '/', method: 'GET' })).rejects.toThrow();
  });

  it('negotiates h2 by ALPN, and HTTP/1.1 for clients that do not offer it', async () => {
    const { port } = await tlsProxy();
    const res = await h2Get(`https://127.0.0.1:${port}`, '/', { ca: CA, servername: 'alpha.example.com' });
    expect(res).toMatchObject({ status: 200, body: 'alpha', alpn: 'h2' });
    const client = new Client(`https://127.0.0.1:${port}`, {
      connect: { ca: CA, servername: 'alpha.example.com', ALPNProtocols: ['http/1.1'] },
    });
    cleanups.push(() => client.close());
    const h1 = await client.request({ path: '/', method: 'GET' });
    expect(await h1.body.text()).toBe('alpha');
  });
});

describe('WebSocket', () => {
  async function echoServer(): Promise<number> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    wss.on('connection', (ws) => {
      ws.on('message', (data, binary) => {
        ws.send(data, { binary });
      });
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const c of wss.clients) c.terminate();
          wss.close(() => {
            resolve();
          });
        }),
    );
    return (wss.address() as AddressInfo).port;
  }

  it('echoes through the proxy when the connection manager enables websocket upgrades', async () => {
    const port = await echoServer();
    const proxy = await start(
      gateway({
        routes: [route('r', { route: routeAction('ws') })],
        clusters: [cluster('ws', [port])],
        hcm: { upgradeConfigs: [{ upgradeType: 'websocket', enabled: true }] },
      }),
    );
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.address('ingress')?.port}/chat`);
    cleanups.push(() => {
      ws.terminate();
    });
    await once(ws, 'open');
    const replies: string[] = [];
    const got = new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer) => {
        replies.push(data.toString());
        if (replies.length === 3) resolve();
      }),
    );
    ws.send('one');
    ws.send('two');
    ws.send('x'.repeat(100_000));
    await got;
    expect(replies.slice(0, 2)).toEqual(['one', 'two']);
    expect(replies[2]).toHaveLength(100_000);
    ws.close();
    await once(ws, 'close');
  });

  it('lets a route enable the upgrade the connection manager does not', async () => {
    const port = await echoServer();
    const proxy = await start(
      gateway({
        routes: [
          route('r', {
            route: routeAction('ws', { upgradeConfigs: [{ upgradeType: 'websocket', enabled: true }] }),
          }),
        ],
        clusters: [cluster('ws', [port])],
      }),
    );
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.address('ingress')?.port}/chat`);
    cleanups.push(() => {
      ws.terminate();
    });
    await once(ws, 'open');
    ws.send('ping');
    const [data] = (await once(ws, 'message')) as [Buffer];
    expect(data.toString()).toBe('ping');
  });

  it('refuses the upgrade with 403 when no upgrade config allows it', async () => {
    const port = await echoServer();
    const proxy = await start(
      gateway({ routes: [route('r', { route: routeAction('ws') })], clusters: [cluster('ws', [port])] }),
    );
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.address('ingress')?.port}/chat`);
    ws.on('error', () => undefined);
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(res.statusCode).toBe(403);
    ws.terminate();
  });
});

describe('gRPC', () => {
  const raw = (b: Buffer): Buffer => b;
  const service: grpc.ServiceDefinition = {
    echo: {
      path: '/test.Echo/Echo',
      requestStream: false,
      responseStream: false,
      requestSerialize: raw,
      requestDeserialize: raw,
      responseSerialize: raw,
      responseDeserialize: raw,
    },
    chat: {
      path: '/test.Echo/Chat',
      requestStream: true,
      responseStream: true,
      requestSerialize: raw,
      requestDeserialize: raw,
      responseSerialize: raw,
      responseDeserialize: raw,
    },
    hang: {
      path: '/test.Echo/Hang',
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
    server.addService(service, {
      echo(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
        if (call.request.toString() === 'missing') {
          callback({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
          return;
        }
        const trailer = new grpc.Metadata();
        trailer.set('x-trailer', 'kept');
        callback(null, Buffer.concat([Buffer.from('echo:'), call.request]), trailer);
      },
      chat(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
        call.on('data', (d: Buffer) => call.write(Buffer.concat([Buffer.from('re:'), d])));
        call.on('end', () => call.end());
      },
      hang() {
        // never answers: the proxy's grpc-timeout ends it
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

  async function grpcProxy(): Promise<{
    client: grpc.Client & Record<string, grpc.MethodDefinition<Buffer, Buffer>>;
    url: string;
  }> {
    const port = await grpcServer();
    const proxy = await start(
      gateway({
        routes: [route('r', { route: routeAction('grpc', { timeoutMs: 0, grpcTimeoutHeaderMaxMs: 0 }) })],
        clusters: [
          cluster('grpc', [port], {
            upstreamHttpProtocolOptions: {
              protocol: 'http2',
              commonHttpProtocolOptions: { headersWithUnderscoresAction: 'ALLOW' },
              autoSni: false,
            },
          }),
        ],
      }),
    );
    const Ctor = grpc.makeGenericClientConstructor(service, 'Echo');
    const url = `127.0.0.1:${proxy.address('ingress')?.port}`;
    const client = new Ctor(url, grpc.credentials.createInsecure()) as unknown as grpc.Client &
      Record<string, grpc.MethodDefinition<Buffer, Buffer>>;
    cleanups.push(() => {
      client.close();
    });
    return { client, url: `http://${url}` };
  }

  it('proxies a unary call with its trailers, and a gRPC error status', async () => {
    const { client } = await grpcProxy();
    const echo = (
      client as unknown as {
        echo: (req: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => grpc.ClientUnaryCall;
      }
    ).echo.bind(client);
    let trailer: grpc.MetadataValue[] = [];
    const reply = await new Promise<Buffer | undefined>((resolve, reject) => {
      const call = echo(Buffer.from('hi'), (error, r) => {
        if (error) reject(error);
        else resolve(r);
      });
      call.on('status', (s: grpc.StatusObject) => (trailer = s.metadata.get('x-trailer')));
    });
    expect(reply?.toString()).toBe('echo:hi');
    expect(trailer).toEqual(['kept']);
    const error = await new Promise<grpc.ServiceError>((resolve) =>
      echo(Buffer.from('missing'), (e) => {
        resolve(e as grpc.ServiceError);
      }),
    );
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.details).toBe('no such thing');
  });

  it('proxies a bidirectional stream', async () => {
    const { client } = await grpcProxy();
    const chat = (client as unknown as { chat: () => grpc.ClientDuplexStream<Buffer, Buffer> }).chat.bind(
      client,
    );
    const call = chat();
    const got: string[] = [];
    call.on('data', (d: Buffer) => got.push(d.toString()));
    for (const m of ['a', 'b', 'c']) call.write(Buffer.from(m));
    call.end();
    await once(call, 'status');
    expect(got).toEqual(['re:a', 're:b', 're:c']);
  });

  it('honours grpc-timeout: the proxy ends a call its upstream never answers with a gRPC status', async () => {
    // An HTTP/2 upstream that ignores grpc-timeout and never answers: only the proxy can end it.
    const silent = http2.createServer();
    silent.on('stream', (stream) => {
      stream.on('error', () => undefined);
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          silent.close(() => {
            resolve();
          });
        }),
    );
    const proxy = await start(
      gateway({
        routes: [route('r', { route: routeAction('silent', { timeoutMs: 0, grpcTimeoutHeaderMaxMs: 0 }) })],
        clusters: [
          cluster('silent', [(silent.address() as AddressInfo).port], {
            upstreamHttpProtocolOptions: {
              protocol: 'http2',
              commonHttpProtocolOptions: { headersWithUnderscoresAction: 'ALLOW' },
              autoSni: false,
            },
          }),
        ],
      }),
    );
    const session = http2.connect(origin(proxy));
    cleanups.push(() => {
      session.destroy();
    });
    const stream = session.request({
      ':method': 'POST',
      ':path': '/test.Echo/Hang',
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': '100m',
    });
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    stream.resume();
    expect(headers[':status']).toBe(200);
    expect(headers['grpc-status']).toBe('14');
    expect(headers['grpc-message']).toBe('upstream request timeout');
  });
});
