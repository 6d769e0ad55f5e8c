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
}

/**
 * A Dubbo (dubbo2 wire protocol) frame. The body is passed through untouched; for a Hessian 2
 * request, `service` (the service path), `version`, `method` and the string-valued attachments
 * (`headers`) were read from it when it was decoded. Changing them does not change the body.
 */
export class DubboFrame implements RpcFrame {
  readonly protocol: string = 'dubbo';
  kind: FrameKind;
  requestId: number;
  serialization: number;
  event: boolean;
  status: number;
  timeout: number;
  body: Buffer;
  service: string;
  version: string;
  method: string;
  dubboVersion: string;
  readonly headers: Map<string, string>;
  readonly raw: Buffer | null;

  constructor(init: DubboFrameInit) {
    this.kind = init.kind;
    this.requestId = init.requestId ?? 0;
    this.serialization = init.serialization ?? DubboSerialization.hessian2;
    this.event = init.event ?? (init.kind === 'heartbeat' || init.kind === 'heartbeat-reply');
    this.status = init.status ?? 0;
    this.timeout = init.timeout ?? 0;
    this.body = init.body ?? kEmpty;
    this.service = init.service ?? '';
    this.version = init.version ?? '';
    this.method = init.method ?? '';
    this.dubboVersion = init.dubboVersion ?? '';
    this.headers = init.headers ?? new Map<string, string>();
    this.raw = init.raw ?? null;
  }
}
