// "acme", a private RPC protocol, taught to meshlet in under 50 lines. A frame is a 12-byte
// header (magic 0xAC, kind, status, service length, u32 request id, u16 method length, u16 body
// length), then the service name, the method name and the body.
import { Frame, MalformedFrameError, defineProtocol, type FrameKind } from '@meshlet/codec';

const KINDS: FrameKind[] = ['request', 'oneway', 'response', 'heartbeat', 'heartbeat-reply'];
// Status codes: a local reply's ReplyStatus is its index here; 0 is success.
const STATUS = ['ok', 'bad-request', 'not-found', 'rate-limited', 'unavailable', 'timeout', 'internal'];

export const acme = defineProtocol<Frame>({
  name: 'acme',
  multiplexed: true, // many requests share a connection, paired by request id
  match: (b) => (b.length === 0 ? 'need-more' : b[0] === 0xac ? 'yes' : 'no'),
  frameLength(q) {
    if (q.length < 12) return -1; // the header is not all here yet
    if (q.readUInt8(0) !== 0xac) throw new MalformedFrameError('acme', 'bad magic', 0);
    return 12 + q.readUInt8(3) + q.readUInt16BE(8) + q.readUInt16BE(10);
  },
  decode(b) {
    const m = 12 + (b[3] as number);
    const end = m + b.readUInt16BE(8);
    const kind = KINDS[b[1] as number];
    if (kind === undefined) throw new MalformedFrameError('acme', 'unknown kind', 1);
    const [service, method] = [b.toString('utf8', 12, m), b.toString('utf8', m, end)];
    const [status, requestId, body] = [b[2] as number, b.readUInt32BE(4), b.subarray(end)];
    return new Frame({ protocol: 'acme', kind, status, requestId, service, method, body, raw: b });
  },
  encode(f) {
    const [service, method] = [Buffer.from(f.service), Buffer.from(f.method)];
    const head = Buffer.from([0xac, KINDS.indexOf(f.kind), f.status, service.length, 0, 0, 0, 0, 0, 0, 0, 0]);
    head.writeUInt32BE(f.requestId, 4);
    head.writeUInt16BE(method.length, 8);
    head.writeUInt16BE(f.body.length, 10);
    return [head, service, method, f.body];
  },
  patchRequestId: (raw, id) => raw.writeUInt32BE(id, 4), // forwarded frames are not re-encoded
  heartbeatReply: (f) => new Frame({ protocol: 'acme', kind: 'heartbeat-reply', requestId: f.requestId }),
  errorReply: (req, status, message) => {
    const [requestId, body] = [req.requestId, Buffer.from(message)];
    return new Frame({ protocol: 'acme', kind: 'response', requestId, status: STATUS.indexOf(status), body });
  },
});
