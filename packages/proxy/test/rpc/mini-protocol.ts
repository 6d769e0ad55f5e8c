// "mini", a private protocol defined with defineProtocol for the tests: a 14-byte header
// (magic "MI", kind, status, u32 request id, service and method lengths, u32 body length), then
// service, method and body. And a server speaking it.
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { ByteQueue, Frame, MalformedFrameError, defineProtocol } from '@meshlet/codec';
import type { FrameKind, Protocol, ReplyStatus } from '@meshlet/codec';

const KINDS: readonly FrameKind[] = ['request', 'oneway', 'response', 'heartbeat', 'heartbeat-reply'];
const HEADER = 14;

/** mini's status codes. */
export const MiniStatus: Readonly<Record<ReplyStatus | 'ok', number>> = {
  ok: 0,
  'bad-request': 2,
  unavailable: 3,
  'not-found': 4,
  internal: 5,
  timeout: 8,
  'rate-limited': 9,
};

/** Encodes a mini frame. */
export function encodeMini(frame: Frame): Buffer[] {
  const service = Buffer.from(frame.service);
  const method = Buffer.from(frame.method);
  const head = Buffer.alloc(HEADER);
  head.write('MI', 0, 'latin1');
  head[2] = KINDS.indexOf(frame.kind);
  head[3] = frame.status;
  head.writeUInt32BE(frame.requestId, 4);
  head[8] = service.length;
  head[9] = method.length;
  head.writeUInt32BE(frame.body.length, 10);
  return [head, service, method, frame.body];
}

export const mini: Protocol<Frame> = defineProtocol<Frame>({
  name: 'mini',
  multiplexed: true,
  match: (b) => (b.length < 2 ? 'need-more' : b[0] === 0x4d && b[1] === 0x49 ? 'yes' : 'no'),
  frameLength(q) {
    if (q.length < HEADER) return -1;
    if (q.readUInt16BE(0) !== 0x4d49) throw new MalformedFrameError('mini', 'bad magic', 0);
    return HEADER + q.readUInt8(8) + q.readUInt8(9) + q.readUInt32BE(10);
  },
  decode(bytes) {
    const kind = KINDS[bytes[2] as number];
    if (kind === undefined) throw new MalformedFrameError('mini', `unknown kind ${String(bytes[2])}`, 2);
    const s = HEADER + (bytes[8] as number);
    const m = s + (bytes[9] as number);
    return new Frame({
      protocol: 'mini',
      kind,
      status: bytes[3] as number,
      requestId: bytes.readUInt32BE(4),
      service: bytes.toString('latin1', HEADER, s),
      method: bytes.toString('latin1', s, m),
      body: bytes.subarray(m),
      raw: bytes,
    });
  },
  encode: encodeMini,
  patchRequestId: (raw, id) => {
    raw.writeUInt32BE(id, 4);
  },
  heartbeatReply: (f) => new Frame({ protocol: 'mini', kind: 'heartbeat-reply', requestId: f.requestId }),
  errorReply: (req, status, message) =>
    new Frame({
      protocol: 'mini',
      kind: 'response',
      requestId: req.requestId,
      status: MiniStatus[status],
      body: Buffer.from(message),
    }),
});

/** A mini request frame. */
export function miniRequest(id: number, service: string, method: string, body = ''): Frame {
  return new Frame({
    protocol: 'mini',
    kind: 'request',
    requestId: id,
    service,
    method,
    body: Buffer.from(body),
  });
}

/**
 * A server speaking mini: `answer` returns the response body (status 0), a status and body, or
 * `null` to never answer.
 */
export async function startMiniServer(
  answer: (frame: Frame) => string | { status: number; body: string } | null,
): Promise<{ port: number; requests: Frame[]; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const requests: Frame[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const codec = mini.createCodec();
    const queue = new ByteQueue();
    socket.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      for (let f = codec.decode(queue); f !== null; f = codec.decode(queue)) {
        if (f.kind === 'heartbeat') {
          for (const b of encodeMini(mini.heartbeatReply(f))) socket.write(b);
          continue;
        }
        requests.push(f);
        const out = answer(f);
        if (out === null || f.kind === 'oneway') continue;
        const { status, body } = typeof out === 'string' ? { status: 0, body: out } : out;
        const reply = new Frame({
          protocol: 'mini',
          kind: 'response',
          requestId: f.requestId,
          status,
          body: Buffer.from(body),
        });
        for (const b of encodeMini(reply)) socket.write(b);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A client of mini on one connection: requests by id, responses paired back. */
export class MiniClient {
  readonly socket: Socket;
  private readonly codec = mini.createCodec();
  private readonly queue = new ByteQueue();
  private readonly waiting = new Map<number, (f: Frame) => void>();
  private nextId = 1;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.queue.push(chunk);
      for (let f = this.codec.decode(this.queue); f !== null; f = this.codec.decode(this.queue)) {
        const resolve = this.waiting.get(f.requestId);
        this.waiting.delete(f.requestId);
        resolve?.(f);
      }
    });
  }

  static async connect(port: number): Promise<MiniClient> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new MiniClient(socket);
  }

  /** Sends a request (or heartbeat) and resolves with the frame answering it. */
  call(service: string, method: string, body = '', kind: FrameKind = 'request'): Promise<Frame> {
    const frame = miniRequest(this.nextId++, service, method, body);
    frame.kind = kind;
    const answered = new Promise<Frame>((resolve) => this.waiting.set(frame.requestId, resolve));
    for (const b of encodeMini(frame)) this.socket.write(b);
    return answered;
  }

  close(): void {
    this.socket.destroy();
  }
}
