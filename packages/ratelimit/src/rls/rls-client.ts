import { createRequire } from 'node:module';
import type * as Grpc from '@grpc/grpc-js';
import type { ChannelCredentials, ChannelOptions, Client, ServiceError } from '@grpc/grpc-js';
import { ConfigError } from '@meshlet/errors';
import type { RateLimitDescriptor } from '../types.js';
import { checkCount, numberOption, objectOption } from '../validate.js';
import { rlsServiceDefinition } from './rls-proto.js';

/** Options of {@link createRlsClient}. */
export interface RlsClientOptions {
  /** The rate limit service, as a gRPC target (`host:port`, `dns:///host:port`, `unix:/path`). */
  readonly target: string;
  /** The domain sent with every request (Envoy's `domain`). */
  readonly domain: string;
  /** Deadline of each call, milliseconds. Default 20, as Envoy's `timeout`. */
  readonly timeoutMs?: number;
  /** Refuse requests when the service fails or times out (Envoy's `failure_mode_deny`). Default false: fail open. */
  readonly failureModeDeny?: boolean;
  /** Channel credentials; default insecure (plaintext). */
  readonly credentials?: ChannelCredentials;
  /** gRPC channel options. */
  readonly channelOptions?: ChannelOptions;
}

/** A descriptor's `code` in the service's reply. */
export type RlsCode = 'UNKNOWN' | 'OK' | 'OVER_LIMIT';

/** The status of one descriptor, in the order the descriptors were sent. */
export interface RlsDescriptorStatus {
  readonly code: RlsCode;
  /** The limit that applied, if the service says. `unit` is SECOND, MINUTE, HOUR, DAY, MONTH or YEAR. */
  readonly currentLimit: {
    readonly requestsPerUnit: number;
    readonly unit: string;
    readonly name: string;
  } | null;
  readonly limitRemaining: number;
  /** Milliseconds until the limit resets, if the service says. */
  readonly resetAfterMs: number | null;
}

/**
 * - `ok`: under the limit;
 * - `over_limit`: the service says OVER_LIMIT: reply 429;
 * - `error`: the call failed or passed its deadline: `allowed` follows `failureModeDeny`.
 */
export type RlsOutcome = 'ok' | 'over_limit' | 'error';

/** What the rate limit service decided, as a value. */
export interface RlsDecision {
  readonly outcome: RlsOutcome;
  readonly allowed: boolean;
  /** Per-descriptor statuses (empty on error). */
  readonly statuses: readonly RlsDescriptorStatus[];
  /** Headers the service asks to add to the response (`response_headers_to_add`). */
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** Headers the service asks to add to the upstream request (`request_headers_to_add`). */
  readonly requestHeaders: Readonly<Record<string, string>>;
  /** For `error`: the gRPC error. */
  readonly error: ServiceError | null;
}

/** A client of Envoy's rate limit service. */
export interface RlsClient {
  /**
   * Asks `ShouldRateLimit` for `descriptors` with `hitsAddend` (0, the default, means 1 to the
   * service). Never rejects: failures are the outcome `error`.
   */
  shouldRateLimit(descriptors: readonly RateLimitDescriptor[], hitsAddend?: number): Promise<RlsDecision>;
  /** Closes the channel. */
  close(): void;
}

interface WireHeader {
  key: string;
  value: string;
  rawValue?: Buffer;
}

interface WireResponse {
  overallCode: RlsCode;
  statuses: {
    code: RlsCode;
    currentLimit: { requestsPerUnit: number; unit: string; name: string } | null;
    limitRemaining: number;
    durationUntilReset: { seconds: number; nanos: number } | null;
  }[];
  responseHeadersToAdd: WireHeader[];
  requestHeadersToAdd: WireHeader[];
}

type Unary = (
  request: unknown,
  options: { deadline: number },
  callback: (error: ServiceError | null, response?: WireResponse) => void,
) => unknown;

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const NO_STATUSES: readonly RlsDescriptorStatus[] = Object.freeze([]);

class GrpcRlsClient implements RlsClient {
  readonly #client: Client;
  readonly #call: Unary;
  readonly #domain: string;
  readonly #timeoutMs: number;
  readonly #failOpen: boolean;

  constructor(options: RlsClientOptions) {
    objectOption('createRlsClient options', options);
    if (typeof options.target !== 'string' || options.target === '')
      throw new ConfigError('target must be a gRPC target string');
    if (typeof options.domain !== 'string' || options.domain === '')
      throw new ConfigError('domain must be a non-empty string');
    this.#domain = options.domain;
    this.#timeoutMs = numberOption('timeoutMs', options.timeoutMs ?? 20, 1);
    this.#failOpen = options.failureModeDeny !== true;
    // @grpc/grpc-js (about 20 MB of RSS) is loaded by the first RLS client, not by importing this
    // package: it is CommonJS, so `require` keeps the constructor synchronous.
    const grpc = createRequire(import.meta.url)('@grpc/grpc-js') as typeof Grpc;
    const Ctor = grpc.makeGenericClientConstructor(rlsServiceDefinition(), 'RateLimitService');
    this.#client = new Ctor(
      options.target,
      options.credentials ?? grpc.credentials.createInsecure(),
      options.channelOptions,
    );
    const method = (this.#client as unknown as Record<string, Unary>).ShouldRateLimit as Unary;
    this.#call = method.bind(this.#client);
  }

  shouldRateLimit(descriptors: readonly RateLimitDescriptor[], hitsAddend = 0): Promise<RlsDecision> {
    checkCount(hitsAddend);
    const request = { domain: this.#domain, descriptors, hitsAddend };
    return new Promise((resolve) => {
      this.#call(request, { deadline: Date.now() + this.#timeoutMs }, (error, response) => {
        resolve(error !== null || response === undefined ? this.#failure(error) : toDecision(response));
      });
    });
  }

  close(): void {
    this.#client.close();
  }

  #failure(error: ServiceError | null): RlsDecision {
    return {
      outcome: 'error',
      allowed: this.#failOpen,
      statuses: NO_STATUSES,
      responseHeaders: NO_HEADERS,
      requestHeaders: NO_HEADERS,
      error,
    };
  }
}

function headers(list: readonly WireHeader[]): Readonly<Record<string, string>> {
  if (list.length === 0) return NO_HEADERS;
  const out: Record<string, string> = {};
  for (const h of list) out[h.key.toLowerCase()] = h.value || (h.rawValue?.toString('latin1') ?? '');
  return out;
}

function toDecision(response: WireResponse): RlsDecision {
  const over = response.overallCode === 'OVER_LIMIT';
  return {
    outcome: over ? 'over_limit' : 'ok',
    allowed: !over,
    statuses: response.statuses.map((s) => ({
      code: s.code,
      currentLimit:
        s.currentLimit === null
          ? null
          : {
              requestsPerUnit: s.currentLimit.requestsPerUnit,
              unit: s.currentLimit.unit,
              name: s.currentLimit.name,
            },
      limitRemaining: s.limitRemaining,
      resetAfterMs:
        s.durationUntilReset === null
          ? null
          : s.durationUntilReset.seconds * 1000 + s.durationUntilReset.nanos / 1e6,
    })),
    responseHeaders: headers(response.responseHeadersToAdd),
    requestHeaders: headers(response.requestHeadersToAdd),
    error: null,
  };
}

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  SECOND: 1,
  MINUTE: 60,
  HOUR: 3600,
  DAY: 86_400,
  MONTH: 2_592_000,
  YEAR: 31_536_000,
};

/**
 * The draft 03 x-ratelimit-* headers for an RLS decision, as Envoy's `ratelimit` filter writes
 * them: the descriptor closest to its limit decides `x-ratelimit-limit` (with every limit's quota
 * policy `n;w=seconds`), `x-ratelimit-remaining` and `x-ratelimit-reset`. Null when no status
 * carries a limit.
 */
export function rlsRateLimitHeaders(decision: RlsDecision): Record<string, string> | null {
  let closest: RlsDescriptorStatus | null = null;
  const policies: string[] = [];
  for (const status of decision.statuses) {
    const limit = status.currentLimit;
    if (limit === null) continue;
    const window = UNIT_SECONDS[limit.unit];
    if (window !== undefined) {
      policies.push(`${limit.requestsPerUnit};w=${window}${limit.name ? `;name="${limit.name}"` : ''}`);
    }
    if (closest === null || status.limitRemaining < closest.limitRemaining) closest = status;
  }
  if (closest?.currentLimit == null) return null;
  return {
    'x-ratelimit-limit': [String(closest.currentLimit.requestsPerUnit), ...policies].join(', '),
    'x-ratelimit-remaining': String(closest.limitRemaining),
    'x-ratelimit-reset': String(Math.ceil((closest.resetAfterMs ?? 0) / 1000)),
  };
}

/**
 * A client of Envoy's rate limit service (`envoy.service.ratelimit.v3.RateLimitService`,
 * `ShouldRateLimit`) over gRPC, with Envoy's defaults: a 20 ms deadline and failing open.
 *
 * @example
 * ```ts
 * const rls = createRlsClient({ target: 'ratelimit:8081', domain: 'edge' });
 * const d = await rls.shouldRateLimit([{ entries: [{ key: 'remote_address', value: ip }] }]);
 * if (!d.allowed) reply(429, { ...d.responseHeaders, ...rlsRateLimitHeaders(d) });
 * ```
 */
export function createRlsClient(options: RlsClientOptions): RlsClient {
  return new GrpcRlsClient(options);
}
