// HTTP/2 frames written by hand (RFC 9113 §4.1), for floods a well-behaved client library
// refuses to send: SETTINGS and PING without reading the ACKs, endless CONTINUATION.
import http2 from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import { once } from 'node:events';

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FrameType = {
  DATA: 0,
  HEADERS: 1,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

/** One frame: the 9-byte header and `payload`. */
export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const out = Buffer.alloc(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out.writeUInt8(type, 3);
  out.writeUInt8(flags, 4);
  out.writeUInt32BE(streamId & 0x7fffffff, 5);
  payload.copy(out, 9);
  return out;
}

/** A SETTINGS frame with `pairs` of (identifier, value). */
export function settings(pairs: [number, number][] = []): Buffer {
  const payload = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, payload);
}

/** An HPACK header block of literal fields without indexing (RFC 7541 §6.2.2), no Huffman. */
export function headerBlock(fields: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    parts.push(Buffer.from([0x00]), hpackString(name), hpackString(value));
  }
  return Buffer.concat(parts);
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  // 7-bit prefix integer (RFC 7541 §5.1).
  const length: number[] = [];
  if (bytes.length < 127) length.push(bytes.length);
  else {
    length.push(127);
    let rest = bytes.length - 127;
    while (rest >= 128) {
      length.push((rest % 128) + 128);
      rest = Math.floor(rest / 128);
    }
    length.push(rest);
  }
  return Buffer.concat([Buffer.from(length), bytes]);
}

/** What a frame parser found on the wire from the server. */
export interface ServerFrames {
  readonly types: number[];
  /** The GOAWAY error code, if one came. */
  goawayCode: number | null;
}

/** Parses the server's frames out of the bytes it sent. */
export function parseFrames(bytes: Buffer): ServerFrames {
  const types: number[] = [];
  let goawayCode: number | null = null;
  let at = 0;
  while (at + 9 <= bytes.length) {
    const length = bytes.readUIntBE(at, 3);
    const type = bytes.readUInt8(at + 3);
    if (at + 9 + length > bytes.length) break;
    types.push(type);
    if (type === FrameType.GOAWAY) goawayCode = bytes.readUInt32BE(at + 9 + 4);
    at += 9 + length;
  }
  return { types, goawayCode };
}

/** An h2c (prior knowledge) node:http2 client session, connected. */
export async function h2Session(port: number): Promise<ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  await once(session, 'connect');
  return session;
}
