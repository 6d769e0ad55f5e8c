// gRPC's Length-Prefixed-Message (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
//   Compressed-Flag (1 byte: 0 or 1) | Message-Length (4 bytes, big-endian) | Message
import type { ByteQueue } from '@meshlet/buffer';
import { ConfigError } from '@meshlet/errors';
import { FrameTooLargeError, MalformedFrameError } from '../errors.js';

const kName = 'grpc';
const PREFIX = 5;

/** One gRPC message as framed on the wire. */
export interface GrpcMessage {
  /** The compressed flag: the payload is compressed with the stream's `grpc-encoding`. */
  readonly compressed: boolean;
  /** The payload (a view of the received bytes when it arrived in one chunk). */
  readonly data: Buffer;
}

/** Options of {@link GrpcMessageDecoder}. */
export interface GrpcMessageDecoderOptions {
  /** Largest message accepted, in bytes (default 4 MiB, gRPC's default receive limit). */
  readonly maxMessageSize?: number;
}

/**
 * Splits a gRPC stream's DATA bytes into messages. The announced length is checked against
 * `maxMessageSize` before anything is buffered for it.
 *
 * @example
 * ```ts
 * const decoder = new GrpcMessageDecoder({ maxMessageSize: 1 << 20 });
 * const queue = new ByteQueue();
 * stream.on('data', (chunk: Buffer) => {
 *   queue.push(chunk);
 *   for (let m = decoder.decode(queue); m; m = decoder.decode(queue)) onMessage(m.compressed, m.data);
 * });
 * ```
 */
export class GrpcMessageDecoder {
  /** The maximum message size in effect. */
  readonly maxMessageSize: number;
  #offset: number;

  constructor(options?: GrpcMessageDecoderOptions) {
    const max = options?.maxMessageSize ?? 4 * 1024 * 1024;
    if (!(Number.isInteger(max) && max >= 0 && max <= 0xffffffff)) {
      throw new ConfigError(
        `GrpcMessageDecoder: maxMessageSize must be an integer in [0, 2**32 - 1], got ${String(max)}`,
      );
    }
    this.maxMessageSize = max;
    this.#offset = 0;
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  /**
   * The next message, consumed from `queue`, or null when more bytes are needed.
   * @throws MalformedFrameError (a compressed flag other than 0 or 1), FrameTooLargeError
   */
  decode(queue: ByteQueue): GrpcMessage | null {
    if (queue.length < PREFIX) return null;
    const flag = queue.readUInt8(0);
    if (flag > 1)
      throw new MalformedFrameError(kName, `compressed flag ${flag} is neither 0 nor 1`, this.#offset);
    const length = queue.readUInt32BE(1);
    if (length > this.maxMessageSize) {
      throw new FrameTooLargeError(kName, length, this.maxMessageSize, this.#offset);
    }
    if (queue.length < PREFIX + length) return null;
    queue.skip(PREFIX);
    this.#offset += PREFIX + length;
    return { compressed: flag === 1, data: queue.take(length) };
  }
}

/**
 * Frames one message: returns the 5-byte prefix and the payload (not copied), to be written in
 * order.
 */
export function encodeGrpcMessage(data: Uint8Array, compressed = false): Buffer[] {
  const prefix = Buffer.allocUnsafe(PREFIX);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(data.byteLength, 1);
  const payload = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return [prefix, payload];
}
