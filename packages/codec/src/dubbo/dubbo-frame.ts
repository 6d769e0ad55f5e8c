import { hessianReader } from '../hessian.js';
import type { FrameKind, RpcFrame } from '../types.js';

const kEmpty: Buffer = Buffer.alloc(0);

/** Dubbo serialization ids (the low 5 bits of the flag byte). */
export const DubboSerialization = {
  hessian2: 2,
  java: 3,
  compactedjava: 4,
  fastjson: 6,
  nativejava: 7,
  kryo: 8,
  fst: 9,
  protostuff: 12,
  gson: 16,
  protobuf: 22,
  fastjson2: 23,
} as const;

/** Dubbo response status bytes. */
export const DubboStatus = {
  OK: 20,
  CLIENT_TIMEOUT: 30,
  SERVER_TIMEOUT: 31,
  BAD_REQUEST: 40,
  BAD_RESPONSE: 50,
  SERVICE_NOT_FOUND: 60,
  SERVICE_ERROR: 70,
  SERVER_ERROR: 80,
  CLIENT_ERROR: 90,
  SERVER_THREADPOOL_EXHAUSTED_ERROR: 100,
} as const;

/** Fields of a {@link DubboFrame}; all but `kind` are optional. */
export interface DubboFrameInit {
  readonly kind: FrameKind;
  readonly requestId?: number;
  /** Serialization id; default 2 (hessian2). */
  readonly serialization?: number;
  /** The event flag: set on heartbeats and other events. Default: true for heartbeat kinds. */
  readonly event?: boolean;
  readonly status?: number;
  readonly timeout?: number;
  /** The body, passed through as is (its Hessian 2 encoding for the default serialization). */
  readonly body?: Buffer;
  readonly service?: string;
  readonly version?: string;
  readonly method?: string;
  readonly dubboVersion?: string;
  readonly headers?: Map<string, string>;
  readonly raw?: Buffer | null;
  /**
   * Internal (the decoder's): where in the body the arguments start and how many there are; the
   * attachments after them are read on first access.
   */
  readonly argumentsOffset?: number;
  readonly parameterCount?: number;
}

/**
 * A Dubbo (dubbo2 wire protocol) frame. The body is passed through untouched. For a Hessian 2
 * request, `service` (the service path), `version` and `method` are read from it when it is
 * decoded; the string-valued attachments (`headers`, and `timeout` from them) on first access,
 * since reaching them means decoding every argument. Changing them does not change the body.
 */
export class DubboFrame implements RpcFrame {
  readonly protocol: string = 'dubbo';
  kind: FrameKind;
  requestId: number;
  serialization: number;
  event: boolean;
  status: number;
  body: Buffer;
  service: string;
  version: string;
  method: string;
  dubboVersion: string;
  readonly raw: Buffer | null;
  #headers: Map<string, string> | null;
  #timeout: number | null;
  #argumentsOffset: number;
  #parameterCount: number;

  constructor(init: DubboFrameInit) {
    this.kind = init.kind;
    this.requestId = init.requestId ?? 0;
    this.serialization = init.serialization ?? DubboSerialization.hessian2;
    this.event = init.event ?? (init.kind === 'heartbeat' || init.kind === 'heartbeat-reply');
    this.status = init.status ?? 0;
    this.body = init.body ?? kEmpty;
    this.service = init.service ?? '';
    this.version = init.version ?? '';
    this.method = init.method ?? '';
    this.dubboVersion = init.dubboVersion ?? '';
    this.raw = init.raw ?? null;
    this.#headers = init.headers ?? null;
    this.#timeout = init.timeout ?? null;
    this.#argumentsOffset = init.argumentsOffset ?? -1;
    this.#parameterCount = init.parameterCount ?? 0;
  }

  /** The string-valued attachments; read from a Hessian 2 request body on first access. */
  get headers(): Map<string, string> {
    this.#headers ??= this.#readAttachments();
    return this.#headers;
  }

  /** Timeout in milliseconds: the `timeout` attachment unless set; 0 when none. */
  get timeout(): number {
    if (this.#timeout === null) {
      const timeout = Number(this.headers.get('timeout'));
      this.#timeout = Number.isInteger(timeout) && timeout > 0 ? timeout : 0;
    }
    return this.#timeout;
  }

  set timeout(value: number) {
    this.#timeout = value;
  }

  #readAttachments(): Map<string, string> {
    const map = new Map<string, string>();
    if (this.#argumentsOffset < 0) return map;
    try {
      // Strings (all that precedes the arguments) define no Hessian classes or references, so
      // a reader started at the arguments reads them as the one that read the strings would.
      const reader = hessianReader(this.body.subarray(this.#argumentsOffset));
      for (let i = 0; i < this.#parameterCount; i++) reader.read();
      addAttachments(map, reader.read());
    } catch {
      // Arguments of a type hessian.js cannot read leave the attachments unknown; routing still
      // has the service and method, and the body is forwarded as it came.
      map.clear();
    }
    return map;
  }
}

function addAttachments(target: Map<string, string>, attachments: unknown): void {
  if (attachments instanceof Map) {
    for (const [key, value] of attachments as Map<unknown, unknown>) {
      if (typeof key === 'string' && typeof value === 'string') target.set(key, value);
    }
  } else if (typeof attachments === 'object' && attachments !== null) {
    for (const [key, value] of Object.entries(attachments)) {
      if (typeof value === 'string') target.set(key, value);
    }
  }
}
