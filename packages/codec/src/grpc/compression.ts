import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { FrameTooLargeError, MalformedMessageError, UnsupportedEncodingError } from '../errors.js';

/** The message encodings (`grpc-encoding`) implemented here. */
export type GrpcEncoding = 'identity' | 'gzip' | 'deflate';

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);
const deflate = promisify(zlib.deflate);
const inflate = promisify(zlib.inflate);

function checkEncoding(encoding: string): GrpcEncoding {
  if (encoding === 'identity' || encoding === 'gzip' || encoding === 'deflate') return encoding;
  throw new UnsupportedEncodingError(`grpc: unsupported message encoding ${JSON.stringify(encoding)}`);
}

/**
 * Compresses a message payload with a gRPC message encoding (node:zlib, off the main thread).
 * @throws UnsupportedEncodingError
 */
export async function compressMessage(data: Uint8Array, encoding: string): Promise<Buffer> {
  const which = checkEncoding(encoding);
  const input = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (which === 'identity') return input;
  return which === 'gzip' ? gzip(input) : deflate(input);
}

/**
 * Decompresses a message payload; the output is bounded by `maxMessageSize` (default 4 MiB), so
 * a small "zip bomb" cannot grow past it.
 * @throws UnsupportedEncodingError, FrameTooLargeError, MalformedMessageError
 */
export async function decompressMessage(
  data: Uint8Array,
  encoding: string,
  maxMessageSize: number = 4 * 1024 * 1024,
): Promise<Buffer> {
  const which = checkEncoding(encoding);
  const input = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (which === 'identity') return input;
  let output: Buffer;
  try {
    const options = { maxOutputLength: Math.max(1, maxMessageSize) };
    output = await (which === 'gzip' ? gunzip(input, options) : inflate(input, options));
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new FrameTooLargeError(`grpc ${which}`, maxMessageSize + 1, maxMessageSize, 0);
    }
    throw new MalformedMessageError(`grpc: ${which} message does not decompress`, { cause: err });
  }
  if (output.length > maxMessageSize) {
    throw new FrameTooLargeError(`grpc ${which}`, output.length, maxMessageSize, 0);
  }
  return output;
}
