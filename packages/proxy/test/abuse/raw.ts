// Raw loopback peers for the downstream-abuse tests: a client that writes exact bytes (malformed,
// smuggling, floods) and reads until the proxy closes; an upstream that records every byte the
// proxy forwards before node:http parses it, so a test sees exactly what reached the upstream.
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';

/** A node:http upstream that also keeps the raw bytes of every connection the proxy opened. */
export interface RawUpstream {
  readonly port: number;
  /** Requests node:http parsed, in order: method, url and raw headers. */
  readonly requests: { method: string; url: string; rawHeaders: string[]; body: string }[];
  /** Every byte received, all connections, in arrival order. */
  readonly bytes: () => string;
  /** Connections open now. */
  readonly sockets: Set<Socket>;
  readonly server: http.Server;
  readonly close: () => Promise<void>;
}

/** Starts a {@link RawUpstream} answering `200 ok` (or via `handler`) after reading each body. */
export async function rawUpstream(handler?: http.RequestListener): Promise<RawUpstream> {
  const chunks: Buffer[] = [];
  const requests: RawUpstream['requests'] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    if (handler !== undefined) {
      requests.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, body: '' });
      handler(req, res);
      return;
    }
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, body });
      res.end('ok');
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    bytes: () => Buffer.concat(chunks).toString('latin1'),
    sockets,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** Connects a raw client to a loopback port. */
export async function connect(port: number): Promise<Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/**
 * Writes `bytes` on a new connection and returns everything the proxy sent back until it closed
 * the connection (or the client half-closes with `end` and the proxy then closes).
 */
export async function exchange(port: number, bytes: string | Buffer, end = false): Promise<string> {
  const socket = await connect(port);
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (text += d));
  const closed = once(socket, 'close');
  if (end) socket.end(bytes);
  else socket.write(bytes);
  await closed;
  return text;
}

/** Reads from `socket` until `text` ends with a complete response whose body is `body`. */
export async function readUntil(socket: Socket, predicate: (text: string) => boolean): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer): void => {
      text += d.toString('latin1');
      if (predicate(text)) {
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(text);
      }
    };
    const onClose = (): void => {
      reject(new Error(`connection closed; got ${JSON.stringify(text)}`));
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** Status codes of the HTTP/1 responses in `text`, in order. */
export function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}

/** Resident set size now, after a full GC when `--expose-gc` is on. */
export function rssAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

/** Prints a figure for docs/reliability.md when `MESHLET_ABUSE_REPORT=1`. */
export function report(line: string): void {
  if (process.env.MESHLET_ABUSE_REPORT === '1') console.log(`[abuse] ${line}`);
}
