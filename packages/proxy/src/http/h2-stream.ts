import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { HeaderMap, ResponseHead } from '../types.js';
import type { ConnectionInfoImpl } from '../listener/connection.js';
import type { HttpConnectionManager } from './connection-manager.js';
import { HttpStream, Phase } from './stream.js';
import type { RequestHeadImpl } from './stream-info.js';

const kStream = Symbol('meshlet.stream');
interface Tagged {
  [kStream]?: H2Stream;
}

function onStreamClose(this: ServerHttp2Stream): void {
  (this as ServerHttp2Stream & Tagged)[kStream]?.closed();
}
function onWantTrailers(this: ServerHttp2Stream): void {
  (this as ServerHttp2Stream & Tagged)[kStream]?.sendTrailers();
}

/** An HTTP/2 stream on a node:http2 session. */
export class H2Stream extends HttpStream {
  private readonly stream: ServerHttp2Stream;
  /** Whether the response may end with trailers (gRPC, or `te: trailers`): HEADERS then wait. */
  private readonly trailersWanted: boolean;
  private trailers: HeaderMap | undefined = undefined;
  private ended = false;
  /** A gRPC trailers-only response went out in one HEADERS frame: nothing more to send. */
  private headOnly = false;

  constructor(
    manager: HttpConnectionManager,
    connection: ConnectionInfoImpl,
    stream: ServerHttp2Stream,
    request: RequestHeadImpl,
  ) {
    super(manager, connection, 'HTTP/2', request, stream.endAfterHeaders ? null : stream, null);
    this.stream = stream;
    this.trailersWanted = this.isGrpc || request.headers.te === 'trailers';
    (stream as ServerHttp2Stream & Tagged)[kStream] = this;
    stream.once('close', onStreamClose);
  }

  closed(): void {
    if (this.ended && this.stream.rstCode === constants.NGHTTP2_NO_ERROR) this.complete();
    else this.clientAborted();
  }

  private headersOf(head: ResponseHead): OutgoingHttpHeaders {
    const flat = this.flatHeaders(head.headers, []);
    const out: OutgoingHttpHeaders = { ':status': head.status };
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i] as string;
      const value = flat[i + 1] as string;
      const previous = out[name];
      if (previous === undefined) out[name] = value;
      else if (Array.isArray(previous)) previous.push(value);
      else out[name] = [String(previous), value];
    }
    return out;
  }

  protected writeHead(head: ResponseHead): void {
    if (this.stream.destroyed) return;
    if (this.isGrpc && head.headers['grpc-status'] !== undefined) {
      // gRPC's trailers-only form (grpc-status in the head): it must stay one HEADERS frame
      // with END_STREAM, or clients look for the status in trailers that never come.
      this.headOnly = true;
      this.ended = true;
      this.stream.respond(this.headersOf(head), { endStream: true });
      return;
    }
    this.stream.respond(this.headersOf(head), { waitForTrailers: this.trailersWanted });
    if (this.trailersWanted) this.stream.once('wantTrailers', onWantTrailers);
  }

  protected writeLocal(head: ResponseHead, body: Buffer | null): void {
    this.ended = true;
    if (this.stream.destroyed) return;
    // gRPC local replies are trailers-only: one HEADERS frame that ends the stream.
    this.stream.respond(this.headersOf(head), { endStream: body === null });
    if (body !== null) this.stream.end(body);
  }

  write(chunk: Buffer): boolean {
    if (this.headOnly) return true;
    this.info.bytesSent += chunk.length;
    return this.stream.write(chunk);
  }

  onDrain(callback: () => void): void {
    this.stream.once('drain', callback);
  }

  end(trailers?: HeaderMap): void {
    this.ended = true;
    if (this.headOnly) return;
    this.trailers = trailers;
    this.stream.end();
  }

  sendTrailers(): void {
    const out: OutgoingHttpHeaders = {};
    const trailers = this.trailers;
    if (trailers !== undefined) {
      for (const name in trailers) {
        const value = trailers[name];
        if (value !== undefined && !name.startsWith(':') && !this.manager.isHopByHopResponseHeader(name)) {
          out[name] = value;
        }
      }
    }
    this.stream.sendTrailers(out);
  }

  reset(): void {
    if (this.phase === Phase.Done) return;
    this.info.responseFlags.add('LR');
    this.complete();
    if (!this.stream.destroyed) this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }
}
