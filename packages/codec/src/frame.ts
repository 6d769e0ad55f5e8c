import type { FrameKind, RpcFrame } from './types.js';

const kEmpty: Buffer = Buffer.alloc(0);

/** Fields of a {@link Frame}; all but `protocol` are optional. */
export interface FrameInit {
  readonly protocol: string;
  readonly kind?: FrameKind;
  readonly requestId?: number;
  readonly headers?: Map<string, string>;
  readonly body?: Buffer;
  readonly service?: string;
  readonly method?: string;
  readonly timeout?: number;
  readonly status?: number;
  readonly raw?: Buffer | null;
}

/**
 * A plain {@link RpcFrame}: what a user-defined protocol's `decode` can return when it needs no
 * fields of its own.
 *
 * @example
 * ```ts
 * new Frame({ protocol: 'toy', kind: 'request', requestId: 7, body, service: 'echo', method: 'say' });
 * ```
 */
export class Frame implements RpcFrame {
  readonly protocol: string;
  kind: FrameKind;
  requestId: number;
  readonly headers: Map<string, string>;
  body: Buffer;
  service: string;
  method: string;
  timeout: number;
  status: number;
  readonly raw: Buffer | null;

  constructor(init: FrameInit) {
    this.protocol = init.protocol;
    this.kind = init.kind ?? 'request';
    this.requestId = init.requestId ?? 0;
    this.headers = init.headers ?? new Map<string, string>();
    this.body = init.body ?? kEmpty;
    this.service = init.service ?? '';
    this.method = init.method ?? '';
    this.timeout = init.timeout ?? 0;
    this.status = init.status ?? 0;
    this.raw = init.raw ?? null;
  }
}
