import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { DownstreamProtocol, HeaderMap, ResponseHead } from '../types.js';
import type { DownstreamConnection } from '../listener/connection.js';
import type { HttpConnectionManager } from './connection-manager.js';
import { HttpStream, Phase } from './stream.js';
import type { RequestHeadImpl } from './stream-info.js';

const kStream = Symbol('meshlet.stream');
interface Tagged {
  [kStream]?: H1Stream | H1UpgradeStream;
}

function onResponseFinish(this: ServerResponse): void {
  const stream = (this as ServerResponse & Tagged)[kStream];
  if (stream instanceof H1Stream) stream.finished();
}
function onResponseClose(this: ServerResponse): void {
  (this as ServerResponse & Tagged)[kStream]?.closed();
}
function onSocketClose(this: Duplex): void {
  (this as Duplex & Tagged)[kStream]?.closed();
}
function destroyOnFinish(this: Duplex): void {
  this.destroy();
}
// The stream learns of a failed request body from the response's 'close'; this only keeps the
// error from being thrown. It must outlive every reader of the body: node emits a body's error a
// tick after it checks for listeners, and a reader may stop listening in between (a pipelined
// request aborted by a disconnect: the reader goes at its queued response's 'close').
function ignoreBodyError(): void {
  // handled by 'close'
}

const CONNECTION_CLOSE: readonly string[] = ['connection', 'close'];
const NO_EXTRA: readonly string[] = [];

function protocolOf(req: IncomingMessage): DownstreamProtocol {
  return req.httpVersionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1';
}

/** An HTTP/1 request on a node:http server. */
export class H1Stream extends HttpStream {
  private readonly res: ServerResponse;
  private readonly req: IncomingMessage;
  private readonly downstream: DownstreamConnection;
  private readonly hasBody: boolean;
  private chunked = false;

  constructor(
    manager: HttpConnectionManager,
    downstream: DownstreamConnection,
    req: IncomingMessage,
    res: ServerResponse,
    request: RequestHeadImpl,
    hasBody: boolean,
  ) {
    super(manager, downstream.info, protocolOf(req), request, hasBody ? req : null, null);
    this.res = res;
    this.req = req;
    this.downstream = downstream;
    this.hasBody = hasBody;
    (res as ServerResponse & Tagged)[kStream] = this;
    if (hasBody) req.on('error', ignoreBodyError);
    // Each fires once per response: `on` spares the wrapper `once` allocates per listener.
    res.on('finish', onResponseFinish);
    res.on('close', onResponseClose);
  }

  finished(): void {
    this.complete();
  }

  closed(): void {
    if (!this.res.writableFinished) this.clientAborted();
  }

  protected writeHead(head: ResponseHead): void {
    const limit = this.manager.maxRequestsPerConnection;
    // A response that goes out before its request body was read whole (a 413, an early upstream
    // answer) closes the connection, as Envoy does: the unread rest would have to be read and
    // thrown away to find the next request, and a client could keep that going without end.
    const last =
      this.downstream.owner.draining ||
      (limit > 0 && this.downstream.requests >= limit) ||
      (this.hasBody && !this.req.complete);
    // `Connection: close` makes node close the socket once this response is out.
    const extra = last ? CONNECTION_CLOSE : NO_EXTRA;
    this.chunked = head.headers['content-length'] === undefined;
    this.res.writeHead(head.status, this.flatHeaders(head.headers, extra));
  }

  protected writeLocal(head: ResponseHead, body: Buffer | null): void {
    this.writeHead(head);
    if (body === null) this.res.end();
    else this.res.end(body);
  }

  write(chunk: Buffer): boolean {
    this.info.bytesSent += chunk.length;
    return this.res.write(chunk);
  }

  onDrain(callback: () => void): void {
    this.res.once('drain', callback);
  }

  end(trailers?: HeaderMap): void {
    if (trailers !== undefined && this.chunked) {
      const out: Record<string, string | string[]> = {};
      let any = false;
      for (const name in trailers) {
        const value = trailers[name];
        if (value !== undefined) {
          out[name] = value;
          any = true;
        }
      }
      if (any) this.res.addTrailers(out);
    }
    this.res.end();
  }

  reset(): void {
    if (this.phase === Phase.Done) return;
    this.info.responseFlags.add('LR');
    this.complete();
    this.res.destroy();
  }
}

/** An HTTP/1.1 `Upgrade` request (WebSocket...): the response is written raw on the socket. */
export class H1UpgradeStream extends HttpStream {
  private readonly socket: Duplex;
  private tunnel = false;
  private ended = false;

  constructor(
    manager: HttpConnectionManager,
    downstream: DownstreamConnection,
    protocol: DownstreamProtocol,
    socket: Duplex,
    head: Buffer,
    request: RequestHeadImpl,
  ) {
    super(manager, downstream.info, protocol, request, null, { socket, head });
    this.socket = socket;
    (socket as Duplex & Tagged)[kStream] = this;
    socket.once('close', onSocketClose);
  }

  closed(): void {
    // A tunnel that closes after the 101 ended normally; before it, the client gave up.
    if (this.ended || this.tunnel) this.complete();
    else this.clientAborted();
  }

  private rawHead(head: ResponseHead, close: boolean): string {
    const flat = this.flatHeaders(head.headers, NO_EXTRA);
    let text = `HTTP/1.1 ${head.status} ${STATUS_CODES[head.status] ?? 'Unknown'}\r\n`;
    for (let i = 0; i < flat.length; i += 2) text += `${flat[i] as string}: ${flat[i + 1] as string}\r\n`;
    if (head.status === 101) {
      const upgrade = head.headers.upgrade ?? this.request.headers.upgrade;
      text += `connection: upgrade\r\nupgrade: ${String(upgrade)}\r\n`;
    } else if (close) {
      text += 'connection: close\r\n';
    }
    return `${text}\r\n`;
  }

  protected writeHead(head: ResponseHead): void {
    this.tunnel = head.status === 101;
    this.socket.write(this.rawHead(head, true));
  }

  protected writeLocal(head: ResponseHead, body: Buffer | null): void {
    this.socket.write(this.rawHead(head, true));
    this.finish(body);
  }

  /**
   * Ends the response and, unless it is a tunnel, closes the connection once the bytes are out,
   * as node does after any `Connection: close` response. Ending alone left the socket open for
   * as long as the client kept its side open, or for good when its reset went unnoticed (node
   * stops reading a socket it hands over as an upgrade).
   */
  private finish(body: Buffer | null): void {
    this.ended = true;
    if (!this.tunnel) this.socket.once('finish', destroyOnFinish);
    if (body === null) this.socket.end();
    else this.socket.end(body);
  }

  write(chunk: Buffer): boolean {
    this.info.bytesSent += chunk.length;
    return this.socket.write(chunk);
  }

  onDrain(callback: () => void): void {
    this.socket.once('drain', callback);
  }

  end(): void {
    this.finish(null);
  }

  reset(): void {
    if (this.phase === Phase.Done) return;
    this.info.responseFlags.add('LR');
    this.complete();
    this.socket.destroy();
  }
}
