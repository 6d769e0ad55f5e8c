// Envoy's retry policy (`RetryPolicyImpl` + the decisions of `RetryStateImpl`), compiled once:
// the `retry_on` conditions become bits, so a decision per response is a few comparisons.
import type * as model from '@meshlet/xds';
import type { CompiledRetryPolicy, HeaderMap } from '../types.js';
import type { CompiledHeaderMatcher } from '../matchers/header-matcher.js';
import { joinedHeader } from '../matchers/header-matcher.js';
import { headerMatch } from './matchers.js';
import { at, configError, indexed } from './where.js';

const ON_5XX = 1 << 0;
const ON_GATEWAY_ERROR = 1 << 1;
const ON_RESET = 1 << 2;
const ON_CONNECT_FAILURE = 1 << 3;
const ON_RETRIABLE_4XX = 1 << 4;
const ON_REFUSED_STREAM = 1 << 5;
const ON_RETRIABLE_STATUS_CODES = 1 << 6;
const ON_RETRIABLE_HEADERS = 1 << 7;
const ON_ENVOY_RATE_LIMITED = 1 << 8;
const ON_RESET_BEFORE_REQUEST = 1 << 9;
const ON_GRPC_CANCELLED = 1 << 10;
const ON_GRPC_DEADLINE_EXCEEDED = 1 << 11;
const ON_GRPC_RESOURCE_EXHAUSTED = 1 << 12;
const ON_GRPC_UNAVAILABLE = 1 << 13;
const ON_GRPC_INTERNAL = 1 << 14;
const ON_GRPC =
  ON_GRPC_CANCELLED |
  ON_GRPC_DEADLINE_EXCEEDED |
  ON_GRPC_RESOURCE_EXHAUSTED |
  ON_GRPC_UNAVAILABLE |
  ON_GRPC_INTERNAL;

const CONDITIONS: Readonly<Record<string, number>> = {
  '5xx': ON_5XX,
  'gateway-error': ON_GATEWAY_ERROR,
  reset: ON_RESET,
  'reset-before-request': ON_RESET_BEFORE_REQUEST,
  'connect-failure': ON_CONNECT_FAILURE,
  'retriable-4xx': ON_RETRIABLE_4XX,
  'refused-stream': ON_REFUSED_STREAM,
  'retriable-status-codes': ON_RETRIABLE_STATUS_CODES,
  'retriable-headers': ON_RETRIABLE_HEADERS,
  'envoy-ratelimited': ON_ENVOY_RATE_LIMITED,
  // HTTP/3 is not spoken here: the condition can never happen, but a config naming it is valid.
  'http3-post-connect-failure': 0,
  cancelled: ON_GRPC_CANCELLED,
  'deadline-exceeded': ON_GRPC_DEADLINE_EXCEEDED,
  'resource-exhausted': ON_GRPC_RESOURCE_EXHAUSTED,
  unavailable: ON_GRPC_UNAVAILABLE,
  internal: ON_GRPC_INTERNAL,
};

/** gRPC status codes (grpc/status.h) and the condition that retries each. */
const GRPC_CONDITION: Readonly<Record<number, number>> = {
  1: ON_GRPC_CANCELLED,
  4: ON_GRPC_DEADLINE_EXCEEDED,
  8: ON_GRPC_RESOURCE_EXHAUSTED,
  13: ON_GRPC_INTERNAL,
  14: ON_GRPC_UNAVAILABLE,
};

/** `envoy.retry_host_predicates.previous_hosts` (the only host predicate meshlet applies). */
export const PREVIOUS_HOSTS = 'envoy.retry_host_predicates.previous_hosts';

/** Envoy's default `retry_back_off.base_interval`. */
export const DEFAULT_BASE_INTERVAL_MS = 25;

/** A retry policy compiled from the model. */
export class RetryPolicyImpl implements CompiledRetryPolicy {
  readonly numRetries: number;
  readonly perTryTimeoutMs: number | undefined;
  readonly perTryIdleTimeoutMs: number | undefined;
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly hostSelectionRetryMaxAttempts: number;
  readonly avoidPreviousHosts: boolean;
  /** The `retry_on` conditions as bits. */
  readonly conditions: number;
  readonly statusCodes: ReadonlySet<number>;
  readonly headers: readonly CompiledHeaderMatcher[];

  constructor(policy: model.RetryPolicy, where: string) {
    let conditions = 0;
    for (const name of policy.retryOn) {
      const bit = CONDITIONS[name.trim()];
      if (bit === undefined)
        throw configError(
          at(where, 'retry_on'),
          `unknown retry condition ${JSON.stringify(name)} (known: ${Object.keys(CONDITIONS).join(', ')})`,
        );
      conditions |= bit;
    }
    this.conditions = conditions;
    if (!Number.isInteger(policy.numRetries) || policy.numRetries < 0)
      throw configError(at(where, 'num_retries'), `${policy.numRetries} is not a non-negative integer`);
    this.numRetries = policy.numRetries;
    this.perTryTimeoutMs = nonNegative(policy.perTryTimeoutMs, at(where, 'per_try_timeout'));
    this.perTryIdleTimeoutMs = nonNegative(policy.perTryIdleTimeoutMs, at(where, 'per_try_idle_timeout'));
    const base = policy.retryBackOff?.baseIntervalMs ?? DEFAULT_BASE_INTERVAL_MS;
    if (!(base > 0)) throw configError(at(where, 'retry_back_off.base_interval'), 'must be above 0');
    // Envoy: max_interval defaults to 10 times base_interval and may not be below it.
    const max = policy.retryBackOff?.maxIntervalMs ?? base * 10;
    if (!(max >= base))
      throw configError(at(where, 'retry_back_off.max_interval'), 'must not be below base_interval');
    this.baseIntervalMs = base;
    this.maxIntervalMs = max;
    if (!Number.isInteger(policy.hostSelectionRetryMaxAttempts) || policy.hostSelectionRetryMaxAttempts < 1)
      throw configError(at(where, 'host_selection_retry_max_attempts'), 'must be a positive integer');
    this.hostSelectionRetryMaxAttempts = policy.hostSelectionRetryMaxAttempts;
    let avoid = false;
    policy.retryHostPredicates.forEach((name, i) => {
      if (name !== PREVIOUS_HOSTS)
        throw configError(
          indexed(at(where, 'retry_host_predicate'), i),
          `unsupported host predicate ${JSON.stringify(name)} (supported: ${PREVIOUS_HOSTS})`,
        );
      avoid = true;
    });
    this.avoidPreviousHosts = avoid;
    for (const code of policy.retriableStatusCodes)
      if (!Number.isInteger(code) || code < 100 || code > 599)
        throw configError(at(where, 'retriable_status_codes'), `${code} is not an HTTP status`);
    this.statusCodes = new Set(policy.retriableStatusCodes);
    this.headers = policy.retriableHeaders.map((h, i) =>
      headerMatch(h, indexed(at(where, 'retriable_headers'), i)),
    );
  }

  retriableResponse(status: number, headers: HeaderMap): boolean {
    const c = this.conditions;
    // A response rate limited by an upstream Envoy is retried only under `envoy-ratelimited`.
    if (headers['x-envoy-ratelimited'] !== undefined) return (c & ON_ENVOY_RATE_LIMITED) !== 0;
    if (c & ON_5XX && status >= 500 && status <= 599) return true;
    if (c & ON_GATEWAY_ERROR && (status === 502 || status === 503 || status === 504)) return true;
    if (c & ON_RETRIABLE_4XX && status === 409) return true;
    if (c & ON_RETRIABLE_STATUS_CODES && this.statusCodes.has(status)) return true;
    if (c & ON_RETRIABLE_HEADERS)
      for (const h of this.headers) if (h.matchResponse(headers, status)) return true;
    if (c & ON_GRPC) {
      const value = joinedHeader(headers, 'grpc-status');
      if (value !== undefined) {
        const bit = GRPC_CONDITION[Number(value)];
        if (bit !== undefined && c & bit) return true;
      }
    }
    return false;
  }

  retriableFailure(failure: 'reset' | 'connect-failure' | 'refused-stream'): boolean {
    const c = this.conditions;
    // Envoy counts any upstream reset (a connect failure and a refused stream included) as a
    // 5xx: it will become one.
    if (c & (ON_5XX | ON_GATEWAY_ERROR | ON_RESET)) return true;
    if (failure === 'connect-failure') return (c & (ON_CONNECT_FAILURE | ON_RESET_BEFORE_REQUEST)) !== 0;
    if (failure === 'refused-stream') return (c & (ON_REFUSED_STREAM | ON_RESET_BEFORE_REQUEST)) !== 0;
    return false;
  }
}

/** A timeout: 0 (Envoy's "disabled") becomes `undefined`. */
function nonNegative(value: number | undefined, where: string): number | undefined {
  if (value !== undefined && !(value >= 0)) throw configError(where, `${value} must not be negative`);
  return value === 0 ? undefined : value;
}
