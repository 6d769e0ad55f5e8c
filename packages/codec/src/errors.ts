import { MeshletError } from '@meshlet/errors';

/**
 * A peer sent bytes that are not a valid frame of the protocol being decoded. `offset` is the
 * position of the offending byte in the stream the codec has decoded so far (0 = the first byte
 * it ever saw); `protocol` names the codec. The stream cannot be resynchronised: close the
 * connection.
 */
export class MalformedFrameError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_CODEC_MALFORMED_FRAME';

  /** The protocol whose decoder rejected the bytes. */
  readonly protocol: string;
  /** Stream offset of the offending byte (relative to the frame start when thrown by a definition). */
  readonly offset: number;
  /** What was wrong, without the protocol and offset decoration of `message`. */
  readonly reason: string;

  constructor(protocol: string, message: string, offset: number, options?: ErrorOptions) {
    super(`${protocol}: ${message} (at byte ${offset})`, options);
    this.protocol = protocol;
    this.offset = offset;
    this.reason = message;
  }

  /** The same error with `offset` moved by `base` (a frame-relative error made stream-relative). */
  rebase(base: number): MalformedFrameError {
    const Ctor = this.constructor as new (
      p: string,
      m: string,
      o: number,
      opts?: ErrorOptions,
    ) => MalformedFrameError;
    return new Ctor(this.protocol, this.reason, this.offset + base, { cause: this.cause ?? this });
  }
}

/**
 * A Bolt v2 frame's CRC32 trailer does not match its bytes: corrupted in transit, or the peer
 * computes it differently. A {@link MalformedFrameError}.
 */
export class ChecksumMismatchError extends MalformedFrameError {
  static override readonly code: string = 'MESHLET_ERR_CODEC_CHECKSUM_MISMATCH';
}

/**
 * A frame or message announces a size above the configured maximum (`maxFrameSize`,
 * `maxMessageSize`, a decompressed size). Raised from the length field alone, before anything is
 * allocated or buffered for it.
 */
export class FrameTooLargeError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_CODEC_FRAME_TOO_LARGE';

  /** The protocol or message framing that announced the size. */
  readonly protocol: string;
  /** The announced size in bytes (for a decompressed message: at least this many). */
  readonly size: number;
  /** The configured maximum. */
  readonly limit: number;
  /** Stream offset of the frame's first byte. */
  readonly offset: number;

  constructor(protocol: string, size: number, limit: number, offset: number) {
    super(`${protocol}: frame of ${size} bytes at byte ${offset} exceeds the maximum of ${limit}`);
    this.protocol = protocol;
    this.size = size;
    this.limit = limit;
    this.offset = offset;
  }
}

/**
 * A gRPC message uses a compression (`grpc-encoding`) this package does not implement; gRPC
 * answers it with status UNIMPLEMENTED. Supported: identity, gzip, deflate.
 */
export class UnsupportedEncodingError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_CODEC_UNSUPPORTED_ENCODING';
}

/**
 * A message payload could not be decoded: a protobuf message that does not parse as its type,
 * or a compressed gRPC message that does not decompress. `cause` keeps the underlying error.
 */
export class MalformedMessageError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_CODEC_MALFORMED_MESSAGE';
}
