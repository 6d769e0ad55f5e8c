import type { ByteQueue } from '@meshlet/buffer';
import { ConfigError, InvalidArgumentError, MeshletError } from '@meshlet/errors';
import { FrameTooLargeError, MalformedFrameError } from './errors.js';
import type {
  Codec,
  CodecOptions,
  MatchResult,
  Protocol,
  ProtocolDefinition,
  ReplyStatus,
  RpcFrame,
} from './types.js';

const kDefaultMaxFrameSize = 8 * 1024 * 1024;
const kDefaultMatchBytes = 16;
// Frame lengths are compared with the limit as numbers; above this a length field is nonsense.
const kMaxAllowedFrameSize = 2 ** 31 - 1;

const kReplyStatuses: ReadonlySet<string> = new Set<ReplyStatus>([
  'bad-request',
  'not-found',
  'rate-limited',
  'unavailable',
  'timeout',
  'internal',
]);

const kDefaultMessages: Readonly<Record<ReplyStatus, string>> = {
  'bad-request': 'bad request',
  'not-found': 'no route for this service',
  'rate-limited': 'rate limited',
  unavailable: 'no healthy upstream',
  timeout: 'upstream request timeout',
  internal: 'internal error',
};

function checkFrameSize(value: unknown, field: string): number {
  if (!(Number.isInteger(value) && (value as number) > 0 && (value as number) <= kMaxAllowedFrameSize)) {
    throw new ConfigError(`${field} must be an integer in [1, 2**31 - 1], got ${String(value)}`);
  }
  return value as number;
}

function defaultIsHeartbeat(frame: RpcFrame): boolean {
  return frame.kind === 'heartbeat';
}

/**
 * Defines an RPC protocol from its codec functions: the extension point through which a private
 * protocol gets routing, load balancing and filters. The built-in `bolt` and `dubbo` protocols
 * are defined with it. The definition is validated once, here.
 *
 * @example
 * ```ts
 * // A toy protocol: magic 0x4d, u32 request id, u32 body length, body.
 * const toy = defineProtocol({
 *   name: 'toy',
 *   multiplexed: true,
 *   match: (b) => (b.length < 1 ? 'need-more' : b[0] === 0x4d ? 'yes' : 'no'),
 *   frameLength: (q) => (q.length < 9 ? -1 : 9 + q.readUInt32BE(5)),
 *   decode: (bytes) => new Frame({ protocol: 'toy', requestId: bytes.readUInt32BE(1), body: bytes.subarray(9), raw: bytes }),
 *   encode: (f) => { const h = Buffer.alloc(9); h[0] = 0x4d; h.writeUInt32BE(f.requestId, 1); h.writeUInt32BE(f.body.length, 5); return [h, f.body]; },
 *   heartbeatReply: (f) => f,
 *   errorReply: (req) => new Frame({ protocol: 'toy', kind: 'response', requestId: req.requestId, status: 1 }),
 * });
 * ```
 * @throws ConfigError when a field is missing or of the wrong type.
 */
export function defineProtocol<F extends RpcFrame>(definition: ProtocolDefinition<F>): Protocol<F> {
  if (typeof definition !== 'object' || (definition as unknown) === null) {
    throw new ConfigError('defineProtocol: the definition must be an object');
  }
  if (typeof definition.name !== 'string' || !/^[a-z][a-z0-9_.-]*$/i.test(definition.name)) {
    throw new ConfigError(
      `defineProtocol: name must be a non-empty identifier (letters, digits, _ . -), got ${JSON.stringify(definition.name)}`,
    );
  }
  const where = `defineProtocol(${definition.name})`;
  if (typeof definition.multiplexed !== 'boolean') {
    throw new ConfigError(`${where}: multiplexed must be a boolean`);
  }
  for (const fn of ['match', 'frameLength', 'decode', 'encode', 'heartbeatReply', 'errorReply'] as const) {
    if (typeof definition[fn] !== 'function') throw new ConfigError(`${where}: ${fn} must be a function`);
  }
  for (const fn of ['patchRequestId', 'isHeartbeat', 'heartbeat'] as const) {
    if (definition[fn] !== undefined && typeof definition[fn] !== 'function') {
      throw new ConfigError(`${where}: ${fn} must be a function when given`);
    }
  }
  const maxFrameSize = checkFrameSize(
    definition.maxFrameSize ?? kDefaultMaxFrameSize,
    `${where}: maxFrameSize`,
  );
  const matchBytes = definition.matchBytes ?? kDefaultMatchBytes;
  if (!(Number.isInteger(matchBytes) && matchBytes > 0 && matchBytes <= 4096)) {
    throw new ConfigError(`${where}: matchBytes must be an integer in [1, 4096], got ${String(matchBytes)}`);
  }
  return new DefinedProtocol(definition, maxFrameSize, matchBytes);
}

class DefinedProtocol<F extends RpcFrame> implements Protocol<F> {
  readonly name: string;
  readonly multiplexed: boolean;
  readonly maxFrameSize: number;
  readonly matchBytes: number;
  readonly definition: ProtocolDefinition<F>;
  readonly heartbeat?: (requestId: number) => F;
  readonly #isHeartbeat: (frame: F) => boolean;

  constructor(definition: ProtocolDefinition<F>, maxFrameSize: number, matchBytes: number) {
    this.name = definition.name;
    this.multiplexed = definition.multiplexed;
    this.maxFrameSize = maxFrameSize;
    this.matchBytes = matchBytes;
    this.definition = definition;
    this.#isHeartbeat = definition.isHeartbeat ? definition.isHeartbeat.bind(definition) : defaultIsHeartbeat;
    // Only set when defined, so `protocol.heartbeat === undefined` says the protocol has none.
    if (definition.heartbeat) this.heartbeat = definition.heartbeat.bind(definition);
  }

  match(bytes: Uint8Array): MatchResult {
    return this.definition.match(bytes);
  }

  createCodec(options?: CodecOptions): Codec<F> {
    const max =
      options?.maxFrameSize === undefined
        ? this.maxFrameSize
        : checkFrameSize(options.maxFrameSize, `${this.name} codec: maxFrameSize`);
    return new ProtocolCodec(this, max);
  }

  getRequestId(frame: F): number {
    return frame.requestId;
  }

  setRequestId(frame: F, id: number): void {
    frame.requestId = id;
  }

  isHeartbeat(frame: F): boolean {
    return this.#isHeartbeat(frame);
  }

  heartbeatReply(frame: F): F {
    return this.definition.heartbeatReply(frame);
  }

  errorReply(request: F, status: ReplyStatus, message?: string): F {
    if (!kReplyStatuses.has(status)) {
      throw new InvalidArgumentError(`${this.name}.errorReply: unknown status ${JSON.stringify(status)}`);
    }
    return this.definition.errorReply(request, status, message ?? kDefaultMessages[status]);
  }
}

class ProtocolCodec<F extends RpcFrame> implements Codec<F> {
  readonly protocol: Protocol<F>;
  readonly maxFrameSize: number;
  readonly #definition: ProtocolDefinition<F>;
  readonly #name: string;
  #offset: number;

  constructor(protocol: DefinedProtocol<F>, maxFrameSize: number) {
    this.protocol = protocol;
    this.maxFrameSize = maxFrameSize;
    this.#definition = protocol.definition;
    this.#name = protocol.name;
    this.#offset = 0;
  }

  get offset(): number {
    return this.#offset;
  }

  decode(queue: ByteQueue): F | null {
    const definition = this.#definition;
    let size: number;
    try {
      size = definition.frameLength(queue);
    } catch (err) {
      throw this.#rebase(err);
    }
    if (size < 0) return null;
    if (size === 0 || !Number.isInteger(size)) {
      // A definition bug, but a frame of no bytes would make a decode loop spin forever.
      throw new MalformedFrameError(this.#name, `frameLength returned ${size}`, this.#offset);
    }
    if (size > this.maxFrameSize)
      throw new FrameTooLargeError(this.#name, size, this.maxFrameSize, this.#offset);
    if (queue.length < size) return null;
    const bytes = queue.take(size);
    const start = this.#offset;
    this.#offset = start + size;
    try {
      return definition.decode(bytes);
    } catch (err) {
      throw this.#rebase(err, start);
    }
  }

  encode(frame: F): Buffer[] {
    return this.#definition.encode(frame);
  }

  withRequestId(frame: F, id: number): Buffer[] {
    frame.requestId = id;
    const raw = frame.raw;
    const definition = this.#definition;
    if (raw === null || definition.patchRequestId === undefined) return definition.encode(frame);
    definition.patchRequestId(raw, id);
    return [raw];
  }

  #rebase(err: unknown, start = this.#offset): Error {
    if (err instanceof MalformedFrameError) return err.rebase(start);
    if (err instanceof MeshletError) return err;
    // A definition that throws anything else has a bug; still report it as a bad frame, typed.
    return new MalformedFrameError(this.#name, `decoder failed: ${String(err)}`, start, { cause: err });
  }
}
