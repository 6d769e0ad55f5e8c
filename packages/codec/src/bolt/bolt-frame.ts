import type { FrameKind, RpcFrame } from '../types.js';
import { hessianReader } from '../hessian.js';
import { findHeader, parseHeaderMap } from './header-map.js';

const kEmpty: Buffer = Buffer.alloc(0);
const kTargetService = 'sofa_head_target_service';
const kService = 'service';
const kMethod = 'sofa_head_method_name';
const kTargetServiceBytes: Buffer = Buffer.from(kTargetService);
const kServiceBytes: Buffer = Buffer.from(kService);
const kMethodBytes: Buffer = Buffer.from(kMethod);

/** Bolt serialization (codec) bytes. */
export const BoltSerialization = {
  hessian2: 1,
  protobuf: 11,
} as const;

/** Bolt response status codes (`com.alipay.remoting.ResponseStatus`). */
export const BoltStatus = {
  SUCCESS: 0x0000,
  ERROR: 0x0001,
  SERVER_EXCEPTION: 0x0002,
  UNKNOWN: 0x0003,
  SERVER_THREADPOOL_BUSY: 0x0004,
  ERROR_COMM: 0x0005,
  NO_PROCESSOR: 0x0006,
  TIMEOUT: 0x0007,
  CLIENT_SEND_ERROR: 0x0008,
  CODEC_EXCEPTION: 0x0009,
  CONNECTION_CLOSED: 0x0010,
  SERVER_SERIAL_EXCEPTION: 0x0011,
  SERVER_DESERIAL_EXCEPTION: 0x0012,
} as const;

/** SOFARPC's class names of a request and a response. */
export const BoltClassName = {
  request: 'com.alipay.sofa.rpc.core.request.SofaRequest',
  response: 'com.alipay.sofa.rpc.core.response.SofaResponse',
} as const;

/** Fields of a {@link BoltFrame} built in code; all but `kind` are optional. */
export interface BoltFrameInit {
  readonly kind: FrameKind;
  readonly requestId?: number;
  /** 1 (Bolt v1, first byte 0x01) or 2 (Bolt v2, first byte 0x02). Default 1. */
  readonly version?: 1 | 2;
  /** v2's protocol version byte (`ver1`): 1, or 2 for CRC support. Default: 2 for v2 frames. */
  readonly protocolVersion?: number;
  /** v2's switch byte; bit 0 asks for a CRC32 trailer (with protocolVersion 2). Default 0. */
  readonly switches?: number;
  /** The command version byte (`ver2`). Default 1. */
  readonly commandVersion?: number;
  /** Serialization byte: 1 hessian2 (default), 11 protobuf. */
  readonly serialization?: number;
  readonly timeout?: number;
  readonly status?: number;
  /** The Java class name of the payload; '' for heartbeats. */
  readonly className?: string;
  readonly headers?: Map<string, string>;
  readonly body?: Buffer;
  /**
   * Internal (the decoder's): the frame's received bytes, and where in them the class name, the
   * header map and the body start and the body ends. Those parts are read on first access.
   */
  readonly raw?: Buffer | null;
  readonly classStart?: number;
  readonly headerStart?: number;
  readonly bodyStart?: number;
  readonly bodyEnd?: number;
}

/**
 * A SOFA Bolt frame (v1 or v2). The class name and the header map are kept as received and
 * decoded on first access; `service` and `method` come from the SOFARPC headers
 * (`sofa_head_target_service` or `service`, `sofa_head_method_name`), and for a Hessian 2 request
 * without a method header, from the SofaRequest in its body (read with hessian.js).
 */
export class BoltFrame implements RpcFrame {
  readonly protocol: string = 'bolt';
  kind: FrameKind;
  requestId: number;
  version: 1 | 2;
  protocolVersion: number;
  switches: number;
  commandVersion: number;
  serialization: number;
  timeout: number;
  status: number;
  readonly raw: Buffer | null;
  // Offsets into `raw` of the parts read on first access (-1 for a frame built in code); a part
  // ends where the next starts. Once decoded, the header map is encoded from the Map (it may
  // have changed); the class name from its string once it is set (the setter clears classStart).
  #classStart: number;
  #headerStart: number;
  #bodyStart: number;
  #bodyEnd: number;
  #body: Buffer | null;
  #className: string | null;
  #headers: Map<string, string> | null;
  #service: string | null;
  #method: string | null;
  #bodyMethod: string | null;

  constructor(init: BoltFrameInit) {
    this.kind = init.kind;
    this.requestId = init.requestId ?? 0;
    const version = init.version ?? 1;
    this.version = version;
    this.protocolVersion = init.protocolVersion ?? version;
    this.switches = init.switches ?? 0;
    this.commandVersion = init.commandVersion ?? 1;
    this.serialization = init.serialization ?? BoltSerialization.hessian2;
    this.timeout = init.timeout ?? 0;
    this.status = init.status ?? 0;
    this.raw = init.raw ?? null;
    const fromBytes = this.raw !== null;
    this.#classStart = fromBytes ? (init.classStart ?? -1) : -1;
    this.#headerStart = fromBytes ? (init.headerStart ?? -1) : -1;
    this.#bodyStart = fromBytes ? (init.bodyStart ?? -1) : -1;
    this.#bodyEnd = fromBytes ? (init.bodyEnd ?? -1) : -1;
    this.#body = init.body ?? (fromBytes ? null : kEmpty);
    this.#className = init.className ?? null;
    this.#headers = init.headers ?? null;
    this.#service = null;
    this.#method = null;
    this.#bodyMethod = null;
  }

  /** Whether the frame carries (or will carry) a CRC32 trailer: v2, protocol version 2, switch bit 0. */
  get crc(): boolean {
    return this.version === 2 && this.protocolVersion >= 2 && (this.switches & 1) === 1;
  }

  /** The payload: a view of the received bytes (no copy), made on first access. */
  get body(): Buffer {
    if (this.#body === null) this.#body = (this.raw as Buffer).subarray(this.#bodyStart, this.#bodyEnd);
    return this.#body;
  }

  set body(value: Buffer) {
    this.#body = value;
  }

  /** The payload's Java class name ('' for heartbeats). */
  get className(): string {
    if (this.#className === null) {
      const start = this.#classStart;
      this.#className = start < 0 ? '' : (this.raw as Buffer).toString('latin1', start, this.#headerStart);
    }
    return this.#className;
  }

  set className(value: string) {
    this.#className = value;
    this.#classStart = -1;
  }

  /** The header map; decoded on first access. Changes are encoded by the next `encode`. */
  get headers(): Map<string, string> {
    if (this.#headers === null) {
      const start = this.#headerStart;
      this.#headers =
        start < 0 || start === this.#bodyStart
          ? new Map<string, string>()
          : parseHeaderMap((this.raw as Buffer).subarray(start, this.#bodyStart));
    }
    return this.#headers;
  }

  /** The service (SOFARPC's `interface:version` unique name), from the headers. */
  get service(): string {
    const headers = this.#headers;
    if (headers !== null) return headers.get(kTargetService) ?? headers.get(kService) ?? '';
    // Not decoded (so unchanged): read the two headers from the received bytes, not the whole map.
    this.#service ??= this.#rawHeader(kTargetServiceBytes) ?? this.#rawHeader(kServiceBytes) ?? '';
    return this.#service;
  }

  /** The method name, from the `sofa_head_method_name` header or a Hessian 2 SofaRequest body. */
  get method(): string {
    const headers = this.#headers;
    if (headers !== null) return headers.get(kMethod) ?? this.#methodFromBody();
    this.#method ??= this.#rawHeader(kMethodBytes) ?? this.#methodFromBody();
    return this.#method;
  }

  #rawHeader(key: Buffer): string | null {
    const start = this.#headerStart;
    if (start < 0 || start === this.#bodyStart) return null;
    return findHeader(this.raw as Buffer, start, this.#bodyStart, key);
  }

  /** Internal, for the encoder: the class name as received, when unchanged since decoding. */
  get encodedClassName(): Buffer | null {
    const start = this.#classStart;
    return start < 0 || start === this.#headerStart
      ? null
      : (this.raw as Buffer).subarray(start, this.#headerStart);
  }

  /** Internal, for the encoder: the header map as received, when it was never decoded. */
  get encodedHeaders(): Buffer | null {
    const start = this.#headerStart;
    return start < 0 || start === this.#bodyStart || this.#headers !== null
      ? null
      : (this.raw as Buffer).subarray(start, this.#bodyStart);
  }

  #methodFromBody(): string {
    if (this.#bodyMethod !== null) return this.#bodyMethod;
    let method = '';
    if (this.serialization === BoltSerialization.hessian2 && this.className === BoltClassName.request) {
      try {
        const request = hessianReader(this.body).read() as { methodName?: unknown } | null;
        if (typeof request?.methodName === 'string') method = request.methodName;
      } catch {
        // A body that does not parse leaves routing without a method; the frame itself is valid.
      }
    }
    this.#bodyMethod = method;
    return method;
  }
}
