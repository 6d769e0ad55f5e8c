import type { ByteQueue } from '@meshlet/buffer';

/** What a frame is, whatever the protocol. */
export type FrameKind = 'request' | 'oneway' | 'response' | 'heartbeat' | 'heartbeat-reply';

/** The answer of a protocol's `match` to the first bytes of a connection. */
export type MatchResult = 'yes' | 'no' | 'need-more';

/**
 * Why a proxy answers a request itself; each protocol maps it to its own status code
 * (`errorReply`). These are the local replies of a data plane: no route, no healthy host,
 * rate limited, timed out...
 */
export type ReplyStatus =
  'bad-request' | 'not-found' | 'rate-limited' | 'unavailable' | 'timeout' | 'internal';

/**
 * One decoded RPC frame, the shape every protocol's frames share so that routing, load
 * balancing and filters work on all of them.
 */
export interface RpcFrame {
  /** Name of the protocol that decoded (or will encode) the frame. */
  readonly protocol: string;
  /** Request, oneway request, response, heartbeat or heartbeat reply. */
  kind: FrameKind;
  /** The id pairing a response with its request on a multiplexed connection. */
  requestId: number;
  /** The protocol's header map (Bolt headers, Dubbo attachments), parsed on first access. */
  readonly headers: Map<string, string>;
  /** The payload, a view of the received bytes (no copy when the frame arrived in one chunk). */
  body: Buffer;
  /** Service name for routing ('' when the protocol or frame has none). */
  readonly service: string;
  /** Method name for routing ('' when the protocol or frame has none). */
  readonly method: string;
  /** Timeout the caller asked for, in milliseconds; 0 when none. */
  timeout: number;
  /** Protocol status of a response (0 on requests). */
  status: number;
  /** The frame's bytes as received, or null for a frame built in code. */
  readonly raw: Buffer | null;
}

/**
 * What a protocol implements: MOSN's XProtocol idea. Passed to `defineProtocol`, which validates
 * it once and returns a {@link Protocol}; the built-in Bolt and Dubbo protocols are written with it.
 *
 * Decoding is split in two so that size limits hold for every protocol, user-defined ones too:
 * `frameLength` looks at a frame's header in the queue (without consuming or allocating), the
 * codec checks the length against `maxFrameSize`, waits for the whole frame, takes it from the
 * queue (zero-copy when it lies in one chunk) and only then calls `decode` on the frame's bytes.
 */
export interface ProtocolDefinition<F extends RpcFrame = RpcFrame> {
  /** Unique name, used in errors, sniffing results and config. */
  readonly name: string;
  /** True when many requests share one connection, paired by request id; false for ping-pong. */
  readonly multiplexed: boolean;
  /** Default maximum frame size of this protocol's codecs, in bytes (default 8 MiB). */
  readonly maxFrameSize?: number;
  /** How many first bytes `match` may need at most (default 16); sniffing waits no longer. */
  readonly matchBytes?: number;
  /** Whether `bytes` (the first bytes of a connection) start a frame of this protocol. */
  match(bytes: Uint8Array): MatchResult;
  /**
   * The total size in bytes of the frame at the head of `queue`, or -1 when more bytes are
   * needed to know. Must not consume or allocate. Throws {@link MalformedFrameError} (offsets
   * relative to the frame start) on a header that is not this protocol's.
   */
  frameLength(queue: ByteQueue): number;
  /** Decodes one complete frame from its bytes; throws {@link MalformedFrameError} on bad input. */
  decode(bytes: Buffer): F;
  /** Encodes a frame into buffers to be written in order. */
  encode(frame: F): Buffer[];
  /**
   * Writes `id` into an encoded frame in place (fixing any checksum), so a frame forwarded
   * unchanged costs no re-encode. Optional: without it a full `encode` is used.
   */
  patchRequestId?(raw: Buffer, id: number): void;
  /** Whether a frame is a heartbeat to answer locally (default: `kind === 'heartbeat'`). */
  isHeartbeat?(frame: F): boolean;
  /** The reply to a heartbeat frame. */
  heartbeatReply(frame: F): F;
  /**
   * A heartbeat request carrying `requestId`, which a client sends to probe an idle connection
   * (the peer answers with a heartbeat reply of the same id). Optional: without it, a proxy
   * sends no heartbeats on this protocol's upstream connections.
   */
  heartbeat?(requestId: number): F;
  /** A response to `request` that reports `status` with a human-readable `message`. */
  errorReply(request: F, status: ReplyStatus, message: string): F;
}

/** A protocol as `defineProtocol` returns it: its definition validated, plus a codec factory. */
export interface Protocol<F extends RpcFrame = RpcFrame> {
  /** Unique name of the protocol. */
  readonly name: string;
  /** True when requests are multiplexed by request id; false for ping-pong connections. */
  readonly multiplexed: boolean;
  /** Default maximum frame size in bytes. */
  readonly maxFrameSize: number;
  /** Most first bytes `match` needs to decide. */
  readonly matchBytes: number;
  /** Whether the first bytes of a connection start a frame of this protocol. */
  match(bytes: Uint8Array): MatchResult;
  /** A stateful decoder/encoder for one connection. */
  createCodec(options?: CodecOptions): Codec<F>;
  /** The request id of a frame. */
  getRequestId(frame: F): number;
  /** Sets the request id of a frame (the next `encode` writes it). */
  setRequestId(frame: F, id: number): void;
  /** Whether the frame is a heartbeat to answer locally. */
  isHeartbeat(frame: F): boolean;
  /** The reply to a heartbeat. */
  heartbeatReply(frame: F): F;
  /** A heartbeat request with `requestId`; absent when the protocol defines none. */
  readonly heartbeat?: (requestId: number) => F;
  /** A response to `request` reporting `status`. */
  errorReply(request: F, status: ReplyStatus, message?: string): F;
  /** The definition this protocol was built from. */
  readonly definition: ProtocolDefinition<F>;
}

/** Options of {@link Protocol.createCodec}. */
export interface CodecOptions {
  /** Largest frame accepted, in bytes; checked on the length field, before buffering. */
  readonly maxFrameSize?: number;
}

/** Decodes the frames of one connection from a {@link ByteQueue}, and encodes frames. */
export interface Codec<F extends RpcFrame = RpcFrame> {
  /** The protocol of this codec. */
  readonly protocol: Protocol<F>;
  /** Maximum frame size in effect. */
  readonly maxFrameSize: number;
  /** Bytes consumed from the stream so far (the stream offset of the next frame). */
  readonly offset: number;
  /**
   * The next frame, consumed from `queue`, or null when more bytes are needed.
   * @throws MalformedFrameError, FrameTooLargeError (close the connection: it cannot resync)
   */
  decode(queue: ByteQueue): F | null;
  /** The buffers of the encoded frame, in write order. */
  encode(frame: F): Buffer[];
  /**
   * The frame's bytes with its request id set to `id`, for forwarding a frame unchanged: the
   * received bytes (`raw`) are patched in place when the protocol can (no re-encode), else the
   * frame is encoded. Sets `frame.requestId` too. After changing a decoded frame's headers or
   * body, use `encode`: `raw` does not carry those changes.
   */
  withRequestId(frame: F, id: number): Buffer[];
}
