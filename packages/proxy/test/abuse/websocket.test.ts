// WebSocket and Upgrade abuse over raw sockets: upgrades no route allows (and h2c upgrade
// smuggling), an upstream that declines the upgrade while the client already sent more bytes,
// garbage and oversized frames after a 101. The upstream's raw bytes show what got through.
import { type EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { HttpProxy } from '../../src/index.js';
import { cluster, gateway, match, origin, route, routeAction } from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';
import { connect, exchange, rawUpstream, readUntil, statuses, type RawUpstream } from './raw.js';

const { cleanups, start } = e2eScope();

const WEBSOCKET: { upgradeType: string; enabled: boolean }[] = [{ upgradeType: 'websocket', enabled: true }];

function next(emitter: EventEmitter, name: string): Promise<unknown[]> {
  return new Promise((resolve) => {
    emitter.once(name, (...args: unknown[]) => {
      resolve(args);
    });
  });
}

/**
 * A proxy whose route `/ws` allows WebSocket upgrades and `/` does not, in front of a raw upstream
 * with a `ws` server on it (or an upstream that answers upgrades with `declineWith`).
 */
async function setup(declineWith?: number): Promise<{
  proxy: HttpProxy;
  port: number;
  upstream: RawUpstream;
}> {
  const upstream = await rawUpstream();
  cleanups.push(upstream.close);
  if (declineWith === undefined) {
    const wss = new WebSocketServer({ server: upstream.server, maxPayload: 1024 * 1024 });
    wss.on('connection', (ws) => {
      ws.on('error', () => undefined);
      ws.on('message', (data, binary) => {
        ws.send(data, { binary });
      });
    });
    cleanups.push(() => {
      for (const c of wss.clients) c.terminate();
      wss.close();
    });
  } else {
    upstream.server.on('upgrade', (_req, socket) => {
      socket.end(`HTTP/1.1 ${String(declineWith)} No\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno`);
    });
  }
  const proxy = await start(
    gateway({
      routes: [
        route('ws', { match: match('/ws'), route: routeAction('up', { upgradeConfigs: WEBSOCKET }) }),
        route('rest', { route: routeAction('up') }),
      ],
      clusters: [cluster('up', [upstream.port])],
    }),
  );
  return { proxy, port: proxy.address('ingress')?.port ?? 0, upstream };
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
function upgrade(path: string, type = 'websocket', more = ''): string {
  return (
    `GET ${path} HTTP/1.1\r\nhost: a\r\nconnection: upgrade\r\nupgrade: ${type}\r\n` +
    `sec-websocket-version: 13\r\nsec-websocket-key: ${KEY}\r\n${more}\r\n`
  );
}

/** A masked client frame (RFC 6455 §5.2) of `payload`, or one announcing `claimed` bytes. */
function wsFrame(payload: Buffer, claimed?: bigint): Buffer {
  const length = claimed ?? BigInt(payload.length);
  let head: Buffer;
  if (length < 126n) head = Buffer.from([0x82, 0x80 | Number(length)]);
  else if (length < 65536n) {
    head = Buffer.from([0x82, 0x80 | 126, 0, 0]);
    head.writeUInt16BE(Number(length), 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x82;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(length, 2);
  }
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)));
  return Buffer.concat([head, mask, masked]);
}

describe('Upgrade abuse', () => {
  it('refuses a WebSocket upgrade on a route that does not allow it: 403, nothing forwarded', async () => {
    const { port, upstream } = await setup();
    const reply = await exchange(port, upgrade('/not-ws'));
    expect(statuses(reply)).toEqual([403]);
    expect(upstream.bytes()).toBe('');
  });

  it('refuses h2c upgrade smuggling on a route that allows only WebSocket: 403, nothing forwarded', async () => {
    const { port, upstream } = await setup();
    const reply = await exchange(
      port,
      'GET /ws HTTP/1.1\r\nhost: a\r\nconnection: upgrade, http2-settings\r\nupgrade: h2c\r\n' +
        'http2-settings: AAMAAABkAAQAAP__\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    );
    expect(statuses(reply)).toEqual([403]);
    expect(upstream.bytes()).toBe('');
  });

  it('drops an Upgrade header that Connection does not name: the upstream sees a plain request', async () => {
    const { port, upstream } = await setup();
    const reply = await exchange(
      port,
      'GET /ws HTTP/1.1\r\nhost: a\r\nupgrade: websocket\r\nconnection: close\r\n\r\n',
    );
    expect(statuses(reply)).toEqual([200]);
    expect(upstream.bytes()).not.toMatch(/\r\nupgrade:/i);
  });

  it('an upstream that declines the upgrade: its answer is relayed, the connection closed, later bytes never forwarded', async () => {
    const { port, upstream } = await setup(426);
    const reply = await exchange(port, `${upgrade('/ws')}GET /smuggled HTTP/1.1\r\nhost: a\r\n\r\n`);
    expect(statuses(reply)).toEqual([426]);
    expect(upstream.bytes()).not.toMatch(/smuggled/);
  });
});

describe('after the 101', () => {
  /** Upgrades on `/ws`; `received()` is what came after the 101's head, so far. */
  async function upgraded(
    port: number,
  ): Promise<{ socket: Awaited<ReturnType<typeof connect>>; received: () => Buffer }> {
    const socket = await connect(port);
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.write(upgrade('/ws'));
    const head = await readUntil(socket, (t) => t.includes('\r\n\r\n'));
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    const all = (): Buffer => Buffer.concat(chunks);
    const start = all().indexOf('\r\n\r\n') + 4;
    return { socket, received: () => all().subarray(start) };
  }

  /** The status code of the close frame the upstream sent the client (RFC 6455 §5.5.1). */
  function closeCode(bytes: Buffer): number | null {
    if (bytes.length < 4 || bytes[0] !== 0x88) return null;
    return bytes.readUInt16BE(2);
  }

  it('garbage bytes: the upstream rejects them, both sides close, the proxy serves on', async () => {
    const { proxy, port, upstream } = await setup();
    const { socket, received } = await upgraded(port);
    const closed = next(socket, 'close');
    socket.write(Buffer.from('\u00ff\u00fe garbage that is no WebSocket frame \u0000\u0001', 'latin1'));
    await closed;
    // The upstream's close frame (1002, protocol error) reached the client before the close.
    expect(closeCode(received())).toBe(1002);
    expect(await (await fetch(`${origin(proxy)}/after`)).text()).toBe('ok');
    expect(upstream.requests.map((r) => r.url)).toEqual(['/after']);
  });

  it('a frame claiming 2^63-1 bytes: the proxy forwards it as it comes (no buffering), the upstream closes 1009', async () => {
    const { port } = await setup();
    const { socket, received } = await upgraded(port);
    const closed = next(socket, 'close');
    socket.write(wsFrame(Buffer.alloc(0), 2n ** 63n - 1n));
    await closed;
    expect(closeCode(received())).toBe(1009);
  });

  it('echoes well-formed frames through the tunnel (the setup is sound)', async () => {
    const { port } = await setup();
    const { socket } = await upgraded(port);
    socket.write(wsFrame(Buffer.from('hello')));
    const echoed = await readUntil(socket, (t) => t.endsWith('hello'));
    expect(echoed.endsWith('hello')).toBe(true);
    socket.destroy();
  });
});
