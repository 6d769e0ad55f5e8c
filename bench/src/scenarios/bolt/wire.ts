// The Bolt bytes of the Bolt scenario: one SOFARPC request and one response, encoded once by
// sofa-bolt-node (Bolt v1, Hessian 2 body, as a Java client of SOFARPC sends them), sent with a
// fresh request id each time; and a minimal Bolt v1 frame reader for the load loop and the
// upstream. The reader is deliberately not meshlet's codec: the load generator and the upstream
// must not share code with what they measure.
import { createRequire } from 'node:module';

const wire = createRequire(import.meta.url)('sofa-bolt-node/lib/protocol') as {
  requestEncode(id: number, req: object, options: object): Buffer;
  responseEncode(id: number, res: object, options: object): Buffer;
};
const OPTIONS = { protocolType: 'bolt', codecType: 'hessian2' };

/** The service every call names (what meshlet's route matches on). */
export const SERVICE = 'com.acme.bench.Greeter:1.0';

/** A SOFARPC request frame (`hello("meshlet")`), request id 1. */
export const REQUEST: Buffer = Buffer.from(
  wire.requestEncode(
    1,
    { serverSignature: SERVICE, methodName: 'hello', args: ['meshlet'], timeout: 3000 },
    OPTIONS,
  ),
);

/** A SOFARPC response frame (a Java String), request id 1. */
export const RESPONSE: Buffer = Buffer.from(
  wire.responseEncode(
    1,
    { isError: false, appResponse: { $class: 'java.lang.String', $: 'hello, meshlet' } },
    OPTIONS,
  ),
);

// Bolt v1 (protocol byte 1): the request id is the u32 at byte 5 of every frame. A request's
// header is 22 bytes (timeout at 10), a response's 20 (status u16 at 10); both end with the
// class-name, header and content lengths (u16, u16, u32).
const PROTOCOL_V1 = 1;
const ID_OFFSET = 5;
const TYPE_RESPONSE = 0;
const REQUEST_HEADER = 22;
const RESPONSE_HEADER = 20;
const STATUS_OFFSET = 10;

/** Writes `id` into a copy of `frame`. */
export function withId(frame: Buffer, id: number): Buffer {
  const out = Buffer.allocUnsafe(frame.length);
  frame.copy(out);
  out.writeUInt32BE(id, ID_OFFSET);
  return out;
}

/** Receives each whole frame read: its request id, whether it is a response, its status. */
export type OnFrame = (id: number, isResponse: boolean, status: number) => void;

/**
 * Splits a Bolt v1 byte stream into frames. Bytes are kept across reads only when a frame spans
 * two of them. Throws on a frame that is not Bolt v1 (the scenario then fails loudly).
 */
export class BoltFrameReader {
  private pending: Buffer | undefined = undefined;
  private readonly onFrame: OnFrame;

  constructor(onFrame: OnFrame) {
    this.onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    const buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    for (;;) {
      if (buf.length - at < RESPONSE_HEADER) break;
      if (buf[at] !== PROTOCOL_V1) throw new Error(`not a Bolt v1 frame (protocol ${buf[at]})`);
      const isResponse = buf[at + 1] === TYPE_RESPONSE;
      const header = isResponse ? RESPONSE_HEADER : REQUEST_HEADER;
      if (buf.length - at < header) break;
      const size =
        header +
        buf.readUInt16BE(at + header - 8) +
        buf.readUInt16BE(at + header - 6) +
        buf.readUInt32BE(at + header - 4);
      if (buf.length - at < size) break;
      this.onFrame(
        buf.readUInt32BE(at + ID_OFFSET),
        isResponse,
        isResponse ? buf.readUInt16BE(at + STATUS_OFFSET) : 0,
      );
      at += size;
    }
    this.pending = at === buf.length ? undefined : buf.subarray(at);
  }
}
