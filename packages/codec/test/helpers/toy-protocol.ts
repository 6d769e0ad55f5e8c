// A user-defined protocol, written only with the public extension API, as a company would
// write its private one: magic 'TY', flags (bit 0 response, bit 1 heartbeat), u32 request id,
// u16 service length, u16 method length, u32 body length, then service, method, body.
import { defineProtocol, Frame, MalformedFrameError, type Protocol } from '@meshlet/codec';

const HEADER = 15;

export const toy: Protocol<Frame> = defineProtocol<Frame>({
  name: 'toy',
  multiplexed: true,
  maxFrameSize: 1 << 20,
  matchBytes: 2,
  match: (b) =>
    b.length < 2
      ? b.length === 0 || b[0] === 0x54
        ? 'need-more'
        : 'no'
      : b[0] === 0x54 && b[1] === 0x59
        ? 'yes'
        : 'no',
  frameLength(queue) {
    if (queue.length >= 2 && queue.readUInt16BE(0) !== 0x5459)
      throw new MalformedFrameError('toy', 'bad magic', 0);
    if (queue.length < HEADER) return -1;
    return HEADER + queue.readUInt16BE(7) + queue.readUInt16BE(9) + queue.readUInt32BE(11);
  },
  decode(bytes) {
    const flags = bytes[2] as number;
    if (flags > 3) throw new MalformedFrameError('toy', `unknown flags ${flags}`, 2);
    const serviceEnd = HEADER + bytes.readUInt16BE(7);
    const methodEnd = serviceEnd + bytes.readUInt16BE(9);
    const response = (flags & 1) === 1;
    const heartbeat = (flags & 2) === 2;
    return new Frame({
      protocol: 'toy',
      kind: heartbeat ? (response ? 'heartbeat-reply' : 'heartbeat') : response ? 'response' : 'request',
      requestId: bytes.readUInt32BE(3),
      service: bytes.toString('utf8', HEADER, serviceEnd),
      method: bytes.toString('utf8', serviceEnd, methodEnd),
      body: bytes.subarray(methodEnd),
      raw: bytes,
    });
  },
  encode(frame) {
    const service = Buffer.from(frame.service);
    const method = Buffer.from(frame.method);
    const head = Buffer.alloc(HEADER);
    head.writeUInt16BE(0x5459, 0);
    const response = frame.kind === 'response' || frame.kind === 'heartbeat-reply';
    const heartbeat = frame.kind === 'heartbeat' || frame.kind === 'heartbeat-reply';
    head[2] = (response ? 1 : 0) | (heartbeat ? 2 : 0);
    head.writeUInt32BE(frame.requestId, 3);
    head.writeUInt16BE(service.length, 7);
    head.writeUInt16BE(method.length, 9);
    head.writeUInt32BE(frame.body.length, 11);
    return [head, service, method, frame.body];
  },
  patchRequestId: (raw, id) => raw.writeUInt32BE(id, 3),
  heartbeatReply: (frame) =>
    new Frame({ protocol: 'toy', kind: 'heartbeat-reply', requestId: frame.requestId }),
  errorReply: (request, status, message) =>
    new Frame({
      protocol: 'toy',
      kind: 'response',
      requestId: request.requestId,
      status: 1,
      body: Buffer.from(`${status}: ${message}`),
    }),
});
