// SOFA Bolt v1 and v2 (https://github.com/sofastack/sofa-bolt, RpcProtocol / RpcProtocolV2).
//
// v1 request (22 B):  proto=1 type cmd:2 ver2 id:4 codec timeout:4 classLen:2 headerLen:2 contentLen:4
// v1 response (20 B): proto=1 type cmd:2 ver2 id:4 codec status:2 classLen:2 headerLen:2 contentLen:4
// v2 adds `ver1` after proto and a `switch` byte after codec (24 B / 22 B), and a CRC32 of the
// whole frame as a 4-byte trailer when ver1 = 2 and switch bit 0 is set.
// Then: className, header map (SimpleMapSerializer), content.
//
// type: 0 response, 1 request, 2 oneway; cmd: 0 heartbeat, 1 request, 2 response.
import { crc32 } from 'node:zlib';
import type { ByteQueue } from '@meshlet/buffer';
import { InvalidArgumentError } from '@meshlet/errors';
import { ChecksumMismatchError, MalformedFrameError } from '../errors.js';
import { defineProtocol } from '../protocol.js';
import type { FrameKind, MatchResult, Protocol, ReplyStatus } from '../types.js';
import { BoltClassName, BoltFrame, BoltSerialization, BoltStatus, type BoltFrameInit } from './bolt-frame.js';
import { checkHeaderMap, headerMapSize, writeHeaderMap } from './header-map.js';

const kName = 'bolt';
const TYPE_RESPONSE = 0;
const TYPE_REQUEST = 1;
const TYPE_ONEWAY = 2;
const CMD_HEARTBEAT = 0;
const CMD_REQUEST = 1;
const CMD_RESPONSE = 2;

// Bodies up to this size are copied into the header's buffer (one write); larger ones are
// passed by reference as their own buffer (no copy).
const kInlineBody = 1024;

const kStatusOf: Readonly<Record<ReplyStatus, number>> = {
  'bad-request': BoltStatus.SERVER_DESERIAL_EXCEPTION,
  'not-found': BoltStatus.NO_PROCESSOR,
  'rate-limited': BoltStatus.SERVER_THREADPOOL_BUSY,
  unavailable: BoltStatus.CONNECTION_CLOSED,
  timeout: BoltStatus.TIMEOUT,
  internal: BoltStatus.SERVER_EXCEPTION,
};

// Class names are few per process; their encoded bytes are kept (bounded, in case a peer sends many).
const classNameCache = new Map<string, Buffer>();
function classNameBytes(name: string): Buffer {
  let bytes = classNameCache.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name, 'latin1');
    if (classNameCache.size < 64) classNameCache.set(name, bytes);
  }
  return bytes;
}

function malformed(message: string, offset: number): MalformedFrameError {
  return new MalformedFrameError(kName, message, offset);
}

/** Size of the fixed part of a frame, before the class name. */
function fixedSize(v2: boolean, response: boolean): number {
  return (v2 ? 2 : 0) + (response ? 20 : 22);
}

function checkCommand(type: number, cmd: number, at: number): void {
  const ok =
    type === TYPE_RESPONSE
      ? cmd === CMD_RESPONSE || cmd === CMD_HEARTBEAT
      : cmd === CMD_REQUEST || cmd === CMD_HEARTBEAT;
  if (!ok) throw malformed(`command code ${cmd} does not fit type ${type}`, at);
}

function frameLength(queue: ByteQueue): number {
  const available = queue.length;
  if (available === 0) return -1;
  const proto = queue.readUInt8(0);
  if (proto !== 1 && proto !== 2) throw malformed(`unknown protocol code ${proto}`, 0);
  const v2 = proto === 2;
  const base = v2 ? 1 : 0;
  if (v2 && available >= 2) {
    const ver1 = queue.readUInt8(1);
    if (ver1 !== 1 && ver1 !== 2) throw malformed(`unknown protocol version ${ver1}`, 1);
  }
  if (available < 2 + base) return -1;
  const type = queue.readUInt8(1 + base);
  if (type > TYPE_ONEWAY) throw malformed(`unknown command type ${type}`, 1 + base);
  const response = type === TYPE_RESPONSE;
  const fixed = fixedSize(v2, response);
  if (available < fixed) return -1;
  checkCommand(type, queue.readUInt16BE(2 + base), 2 + base);
  // classLen, headerLen, contentLen: the last 8 bytes of the fixed part.
  const classLength = queue.readUInt16BE(fixed - 8);
  const headerLength = queue.readUInt16BE(fixed - 6);
  const contentLength = queue.readUInt32BE(fixed - 4);
  const crc = v2 && queue.readUInt8(1) === 2 && (queue.readUInt8(11) & 1) === 1;
  return fixed + classLength + headerLength + contentLength + (crc ? 4 : 0);
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

// Every field decode sets, in the order it sets them, so the object keeps one shape.
const decodeInit: Writable<BoltFrameInit> = {
  kind: 'request',
  requestId: 0,
  version: 1,
  protocolVersion: 1,
  switches: 0,
  commandVersion: 1,
  serialization: 1,
  timeout: 0,
  status: 0,
  raw: null,
  classStart: -1,
  headerStart: -1,
  bodyStart: -1,
  bodyEnd: -1,
};

function decode(bytes: Buffer): BoltFrame {
  const v2 = bytes[0] === 2;
  const base = v2 ? 1 : 0;
  const type = bytes[1 + base] as number;
  const response = type === TYPE_RESPONSE;
  const fixed = fixedSize(v2, response);
  const cmd = bytes.readUInt16BE(2 + base);
  const protocolVersion = v2 ? (bytes[1] as number) : 1;
  const switches = v2 ? (bytes[11] as number) : 0;
  const crc = v2 && protocolVersion === 2 && (switches & 1) === 1;
  const end = crc ? bytes.length - 4 : bytes.length;
  if (crc) {
    const expected = bytes.readUInt32BE(end);
    const actual = crc32(bytes.subarray(0, end));
    if (actual !== expected) {
      throw new ChecksumMismatchError(kName, `CRC32 ${actual} does not match the trailer ${expected}`, end);
    }
  }
  const classLength = bytes.readUInt16BE(fixed - 8);
  const headerLength = bytes.readUInt16BE(fixed - 6);
  const classStart = fixed;
  const headerStart = classStart + classLength;
  const bodyStart = headerStart + headerLength;
  if (headerLength > 0) checkHeaderMap(bytes, headerStart, bodyStart, kName);
  let kind: FrameKind;
  if (cmd === CMD_HEARTBEAT) kind = response ? 'heartbeat-reply' : 'heartbeat';
  else kind = response ? 'response' : type === TYPE_ONEWAY ? 'oneway' : 'request';
  // One reused init object: decoding a frame allocates the frame and its byte view, no more.
  const init = decodeInit;
  init.kind = kind;
  init.requestId = bytes.readUInt32BE(5 + base);
  init.version = v2 ? 2 : 1;
  init.protocolVersion = protocolVersion;
  init.switches = switches;
  init.commandVersion = bytes[4 + base] as number;
  init.serialization = bytes[9 + base] as number;
  init.timeout = response ? 0 : bytes.readInt32BE(10 + 2 * base);
  init.status = response ? bytes.readUInt16BE(10 + 2 * base) : 0;
  init.raw = bytes;
  init.classStart = classStart;
  init.headerStart = headerStart;
  init.bodyStart = bodyStart;
  init.bodyEnd = end;
  const frame = new BoltFrame(init);
  init.raw = null; // do not keep the last frame's bytes alive
  return frame;
}

function encode(frame: BoltFrame): Buffer[] {
  const v2 = frame.version === 2;
  const base = v2 ? 1 : 0;
  const kind = frame.kind;
  const response = kind === 'response' || kind === 'heartbeat-reply';
  const fixed = fixedSize(v2, response);
  const classBytes =
    frame.encodedClassName ?? (frame.className === '' ? null : classNameBytes(frame.className));
  const classLength = classBytes === null ? 0 : classBytes.length;
  const headerBytes = frame.encodedHeaders;
  const headers = headerBytes === null ? frame.headers : null;
  const headerLength =
    headerBytes === null ? headerMapSize(headers as Map<string, string>) : headerBytes.length;
  const body = frame.body;
  const crc = frame.crc;
  const inline = body.length <= kInlineBody;
  const headSize = fixed + classLength + headerLength + (inline ? body.length + (crc ? 4 : 0) : 0);
  if (classLength > 0xffff || headerLength > 0xffff) {
    throw new InvalidArgumentError(
      `bolt.encode: class name (${classLength} B) or header map (${headerLength} B) exceeds 65535 bytes`,
    );
  }
  const out = Buffer.allocUnsafe(headSize);
  out[0] = frame.version;
  if (v2) out[1] = frame.protocolVersion;
  out[1 + base] = response ? TYPE_RESPONSE : kind === 'oneway' ? TYPE_ONEWAY : TYPE_REQUEST;
  out.writeUInt16BE(
    kind === 'heartbeat' || kind === 'heartbeat-reply'
      ? CMD_HEARTBEAT
      : response
        ? CMD_RESPONSE
        : CMD_REQUEST,
    2 + base,
  );
  out[4 + base] = frame.commandVersion;
  out.writeUInt32BE(frame.requestId >>> 0, 5 + base);
  out[9 + base] = frame.serialization;
  if (v2) out[11] = frame.switches;
  if (response) out.writeUInt16BE(frame.status, 10 + 2 * base);
  else out.writeInt32BE(frame.timeout | 0, 10 + 2 * base);
  out.writeUInt16BE(classLength, fixed - 8);
  out.writeUInt16BE(headerLength, fixed - 6);
  out.writeUInt32BE(body.length, fixed - 4);
  let at = fixed;
  if (classBytes !== null) at += classBytes.copy(out, at);
  if (headerBytes !== null) at += headerBytes.copy(out, at);
  else at = writeHeaderMap(headers as Map<string, string>, out, at);
  if (inline) {
    at += body.copy(out, at);
    if (crc) out.writeUInt32BE(crc32(out.subarray(0, at)), at);
    return [out];
  }
  if (!crc) return [out, body];
  const trailer = Buffer.allocUnsafe(4);
  trailer.writeUInt32BE(crc32(body, crc32(out)), 0);
  return [out, body, trailer];
}

function patchRequestId(raw: Buffer, id: number): void {
  const v2 = raw[0] === 2;
  raw.writeUInt32BE(id >>> 0, v2 ? 6 : 5);
  if (v2 && raw[1] === 2 && ((raw[11] as number) & 1) === 1) {
    const end = raw.length - 4;
    raw.writeUInt32BE(crc32(raw.subarray(0, end)), end);
  }
}

function match(bytes: Uint8Array): MatchResult {
  const n = bytes.length;
  if (n === 0) return 'need-more';
  const proto = bytes[0];
  if (proto !== 1 && proto !== 2) return 'no';
  const base = proto === 2 ? 1 : 0;
  if (base === 1 && n >= 2 && bytes[1] !== 1 && bytes[1] !== 2) return 'no';
  if (n < 4 + base) return 'need-more';
  const type = bytes[1 + base] as number;
  const cmd = ((bytes[2 + base] as number) << 8) | (bytes[3 + base] as number);
  if (type > TYPE_ONEWAY) return 'no';
  const ok =
    type === TYPE_RESPONSE
      ? cmd === CMD_RESPONSE || cmd === CMD_HEARTBEAT
      : cmd === CMD_REQUEST || cmd === CMD_HEARTBEAT;
  return ok ? 'yes' : 'no';
}

function replyTo(request: BoltFrame, kind: FrameKind, status: number): BoltFrame {
  return new BoltFrame({
    kind,
    requestId: request.requestId,
    version: request.version,
    protocolVersion: request.protocolVersion,
    switches: request.switches,
    commandVersion: request.commandVersion,
    serialization: request.serialization,
    status,
  });
}

/**
 * SOFA Bolt (v1 and v2, SOFARPC's protocol), multiplexed by a 32-bit request id. Heartbeats are
 * command code 0; v2 frames with protocol version 2 and switch bit 0 carry a CRC32 trailer,
 * checked on decode and written on encode.
 *
 * @example
 * ```ts
 * const codec = bolt.createCodec();
 * const queue = new ByteQueue();
 * socket.on('data', (chunk) => {
 *   queue.push(chunk);
 *   for (let frame; (frame = codec.decode(queue)); ) console.log(frame.kind, frame.service, frame.method);
 * });
 * ```
 */
export const bolt: Protocol<BoltFrame> = defineProtocol<BoltFrame>({
  name: kName,
  multiplexed: true,
  matchBytes: 5,
  match,
  frameLength,
  decode,
  encode,
  patchRequestId,
  heartbeatReply: (frame) => replyTo(frame, 'heartbeat-reply', BoltStatus.SUCCESS),
  // SOFA Bolt's HeartbeatCommand: a v1 request with command code 0, no class, header or content.
  heartbeat: (requestId) => new BoltFrame({ kind: 'heartbeat', requestId }),
  errorReply(request, status, message) {
    const reply = replyTo(request, 'response', kStatusOf[status]);
    reply.className = BoltClassName.response;
    // SOFARPC's protobuf serialization carries an error as its UTF-8 message (and says so in a
    // header); the Hessian one as a serialized Java exception, which is left out: the status
    // code alone tells a SOFARPC client what happened.
    if (request.serialization === BoltSerialization.protobuf) {
      reply.headers.set('sofa_head_response_error', 'true');
      reply.body = Buffer.from(message, 'utf8');
    }
    return reply;
  },
});
