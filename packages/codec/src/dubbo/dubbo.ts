// Dubbo, the dubbo2 wire protocol (https://dubbo.apache.org/en/blog/2018/10/05/introduction-to-the-dubbo-protocol/):
//
//   0      2      3        4        12       16
//   +------+------+--------+--------+--------+------------------+
//   |0xdabb| flag | status | req id | length |  body (length B) |
//   +------+------+--------+--------+--------+------------------+
//   flag: 0x80 request, 0x40 two-way, 0x20 event, low 5 bits serialization id
//   status: responses only (20 = OK); req id: 64-bit; length: 32-bit body length
//
// A Hessian 2 request body is: dubbo version, service path, service version, method name,
// parameter type descriptor (JVM style), one value per parameter, then the attachments map.
import type { ByteQueue } from '@meshlet/buffer';
import { MalformedFrameError } from '../errors.js';
import { hessianEncode, hessianReader } from '../hessian.js';
import { defineProtocol } from '../protocol.js';
import type { FrameKind, MatchResult, Protocol, ReplyStatus } from '../types.js';
import { DubboFrame, DubboSerialization, DubboStatus } from './dubbo-frame.js';

const kName = 'dubbo';
const HEADER = 16;
const FLAG_REQUEST = 0x80;
const FLAG_TWO_WAY = 0x40;
const FLAG_EVENT = 0x20;
const SERIALIZATION_MASK = 0x1f;
const HESSIAN_NULL = 0x4e;
// Request ids above 2**53 - 1 cannot be numbers; Dubbo clients count up from 0.
const kMaxIdHigh = 0x1fffff;
const kNullBody: Buffer = Buffer.from([HESSIAN_NULL]);

const kStatusOf: Readonly<Record<ReplyStatus, number>> = {
  'bad-request': DubboStatus.BAD_REQUEST,
  'not-found': DubboStatus.SERVICE_NOT_FOUND,
  'rate-limited': DubboStatus.SERVER_THREADPOOL_EXHAUSTED_ERROR,
  unavailable: DubboStatus.SERVER_ERROR,
  timeout: DubboStatus.SERVER_TIMEOUT,
  internal: DubboStatus.SERVICE_ERROR,
};

function malformed(message: string, offset: number, cause?: unknown): MalformedFrameError {
  return new MalformedFrameError(kName, message, offset, cause === undefined ? undefined : { cause });
}

function frameLength(queue: ByteQueue): number {
  const available = queue.length;
  if (available >= 1 && queue.readUInt8(0) !== 0xda) throw malformed('bad magic', 0);
  if (available >= 2 && queue.readUInt8(1) !== 0xbb) throw malformed('bad magic', 1);
  if (available < HEADER) return -1;
  const length = queue.readInt32BE(12);
  if (length < 0) throw malformed(`negative body length ${length}`, 12);
  return HEADER + length;
}

/** Number of parameter types in a JVM descriptor such as `Ljava/lang/String;[IJ`. */
function countParameters(desc: string): number {
  let count = 0;
  let i = 0;
  while (i < desc.length) {
    let c = desc.charCodeAt(i);
    while (c === 0x5b /* [ */) c = desc.charCodeAt(++i);
    if (c === 0x4c /* L */) {
      const end = desc.indexOf(';', i);
      if (end === -1) return -1;
      i = end + 1;
    } else if ('ZBCDFIJS'.includes(desc.charAt(i)) && desc.charAt(i) !== '') {
      i++;
    } else {
      return -1;
    }
    count++;
  }
  return count;
}

function stringOrEmpty(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

interface RequestHead {
  dubboVersion: string;
  service: string;
  version: string;
  method: string;
  argumentsOffset: number;
  parameterCount: number;
}

/** Reads the strings that lead a Hessian 2 request body: what routing needs. */
function readRequestHead(body: Buffer): RequestHead {
  const reader = hessianReader(body);
  let head: RequestHead;
  let desc: string;
  try {
    head = {
      dubboVersion: stringOrEmpty(reader.read()),
      service: stringOrEmpty(reader.read()),
      version: stringOrEmpty(reader.read()),
      method: stringOrEmpty(reader.read()),
      argumentsOffset: 0,
      parameterCount: 0,
    };
    desc = stringOrEmpty(reader.read());
  } catch (err) {
    throw malformed('request body does not start with the Hessian 2 invocation strings', HEADER, err);
  }
  if (head.method === '') throw malformed('request body names no method', HEADER);
  const parameters = countParameters(desc);
  if (parameters < 0) throw malformed(`bad parameter type descriptor ${JSON.stringify(desc)}`, HEADER);
  head.parameterCount = parameters;
  head.argumentsOffset = reader.byteBuffer.position();
  return head;
}

function decode(bytes: Buffer): DubboFrame {
  const flag = bytes[2] as number;
  const high = bytes.readUInt32BE(4);
  if (high > kMaxIdHigh) throw malformed('request id above 2**53 - 1', 4);
  const requestId = high * 0x100000000 + bytes.readUInt32BE(8);
  const body = bytes.subarray(HEADER);
  const request = (flag & FLAG_REQUEST) !== 0;
  const event = (flag & FLAG_EVENT) !== 0;
  const heartbeat = event && (body.length === 0 || body[0] === HESSIAN_NULL);
  let kind: FrameKind;
  if (request) kind = heartbeat ? 'heartbeat' : (flag & FLAG_TWO_WAY) !== 0 ? 'request' : 'oneway';
  else kind = heartbeat ? 'heartbeat-reply' : 'response';
  const serialization = flag & SERIALIZATION_MASK;
  if (!request || event || serialization !== DubboSerialization.hessian2) {
    return new DubboFrame({
      kind,
      requestId,
      serialization,
      event,
      status: request ? 0 : (bytes[3] as number),
      body,
      raw: bytes,
    });
  }
  const head = readRequestHead(body);
  return new DubboFrame({
    kind,
    requestId,
    serialization,
    event,
    body,
    raw: bytes,
    dubboVersion: head.dubboVersion,
    service: head.service,
    version: head.version,
    method: head.method,
    argumentsOffset: head.argumentsOffset,
    parameterCount: head.parameterCount,
  });
}

function encode(frame: DubboFrame): Buffer[] {
  const kind = frame.kind;
  const request = kind === 'request' || kind === 'oneway' || kind === 'heartbeat';
  const head = Buffer.allocUnsafe(HEADER);
  head[0] = 0xda;
  head[1] = 0xbb;
  head[2] =
    (request ? FLAG_REQUEST : 0) |
    (kind === 'request' || kind === 'heartbeat' ? FLAG_TWO_WAY : 0) |
    (frame.event ? FLAG_EVENT : 0) |
    (frame.serialization & SERIALIZATION_MASK);
  head[3] = request ? 0 : frame.status;
  writeRequestId(head, frame.requestId);
  head.writeUInt32BE(frame.body.length, 12);
  return frame.body.length === 0 ? [head] : [head, frame.body];
}

function writeRequestId(out: Buffer, id: number): void {
  out.writeUInt32BE(Math.floor(id / 0x100000000) & kMaxIdHigh, 4);
  out.writeUInt32BE(id >>> 0, 8);
}

function match(bytes: Uint8Array): MatchResult {
  if (bytes.length === 0) return 'need-more';
  if (bytes[0] !== 0xda) return 'no';
  if (bytes.length === 1) return 'need-more';
  return bytes[1] === 0xbb ? 'yes' : 'no';
}

/**
 * Dubbo's dubbo2 wire protocol, multiplexed by a 64-bit request id (numbers up to 2**53 - 1
 * here). Heartbeats are events with a null body. Bodies are passed through; for Hessian 2
 * requests the service path, version, method and attachments are read with hessian.js.
 *
 * @example
 * ```ts
 * const codec = dubbo.createCodec({ maxFrameSize: 8 << 20 });
 * queue.push(chunk);
 * const frame = codec.decode(queue); // DubboFrame | null
 * if (frame && dubbo.isHeartbeat(frame)) socket.write(Buffer.concat(codec.encode(dubbo.heartbeatReply(frame))));
 * ```
 */
export const dubbo: Protocol<DubboFrame> = defineProtocol<DubboFrame>({
  name: kName,
  multiplexed: true,
  matchBytes: 2,
  match,
  frameLength,
  decode,
  encode,
  patchRequestId: writeRequestId,
  // Dubbo's heartbeat: a two-way event request with a null body (what HeaderExchangeHandler sends).
  heartbeat: (requestId) =>
    new DubboFrame({
      kind: 'heartbeat',
      requestId,
      serialization: DubboSerialization.hessian2,
      body: kNullBody,
    }),
  heartbeatReply: (frame) =>
    new DubboFrame({
      kind: 'heartbeat-reply',
      requestId: frame.requestId,
      serialization: frame.serialization,
      status: DubboStatus.OK,
      body: kNullBody,
    }),
  errorReply: (request, status, message) =>
    new DubboFrame({
      kind: 'response',
      requestId: request.requestId,
      serialization: DubboSerialization.hessian2,
      status: kStatusOf[status],
      body: hessianEncode(message),
    }),
});
