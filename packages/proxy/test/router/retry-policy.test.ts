import { describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { RetryPolicyImpl } from '../../src/router/retry-policy.js';
import { headerMatcher, retryPolicy } from './helpers.js';

const compile = (p: Partial<model.RetryPolicy>) => new RetryPolicyImpl(retryPolicy(p), 'retry_policy');

describe('retry policy', () => {
  it('fills in Envoy defaults: one retry, 25 ms base backoff, max 10× base', () => {
    const p = compile({ retryOn: ['5xx'] });
    expect(p.numRetries).toBe(1);
    expect(p.baseIntervalMs).toBe(25);
    expect(p.maxIntervalMs).toBe(250);
    expect(p.perTryTimeoutMs).toBeUndefined();
    expect(p.perTryIdleTimeoutMs).toBeUndefined();
    expect(p.hostSelectionRetryMaxAttempts).toBe(1);
    expect(p.avoidPreviousHosts).toBe(false);
    const q = compile({
      retryBackOff: { baseIntervalMs: 100 },
      perTryTimeoutMs: 500,
      perTryIdleTimeoutMs: 0,
      numRetries: 3,
    });
    expect([
      q.baseIntervalMs,
      q.maxIntervalMs,
      q.perTryTimeoutMs,
      q.perTryIdleTimeoutMs,
      q.numRetries,
    ]).toEqual([100, 1000, 500, undefined, 3]);
    expect(compile({ retryBackOff: { baseIntervalMs: 10, maxIntervalMs: 30 } }).maxIntervalMs).toBe(30);
  });

  it('avoids previous hosts with envoy.retry_host_predicates.previous_hosts', () => {
    const p = compile({
      retryHostPredicates: ['envoy.retry_host_predicates.previous_hosts'],
      hostSelectionRetryMaxAttempts: 5,
    });
    expect(p.avoidPreviousHosts).toBe(true);
    expect(p.hostSelectionRetryMaxAttempts).toBe(5);
  });

  const statuses = [200, 404, 409, 429, 500, 502, 503, 504, 599];
  const retried = (p: RetryPolicyImpl, headers = {}) =>
    statuses.filter((s) => p.retriableResponse(s, headers));

  it.each<[string, string[], number[]]>([
    ['5xx', ['5xx'], [500, 502, 503, 504, 599]],
    ['gateway-error', ['gateway-error'], [502, 503, 504]],
    ['retriable-4xx', ['retriable-4xx'], [409]],
    ['connect-failure alone retries no response', ['connect-failure', 'refused-stream', 'reset'], []],
    ['nothing', [], []],
  ])('retries responses on %s', (_, retryOn, expected) => {
    expect(retried(compile({ retryOn }))).toEqual(expected);
  });

  it('retries listed status codes only under retriable-status-codes', () => {
    expect(
      retried(compile({ retryOn: ['retriable-status-codes'], retriableStatusCodes: [429, 404] })),
    ).toEqual([404, 429]);
    expect(retried(compile({ retryOn: ['5xx'], retriableStatusCodes: [429] }))).toEqual([
      500, 502, 503, 504, 599,
    ]);
  });

  it('retries responses whose headers match, under retriable-headers', () => {
    const p = compile({
      retryOn: ['retriable-headers'],
      retriableHeaders: [
        headerMatcher({ name: 'X-Upstream-Retry', stringMatch: { exact: 'yes', ignoreCase: false } }),
      ],
    });
    expect(p.retriableResponse(200, { 'x-upstream-retry': 'yes' })).toBe(true);
    expect(p.retriableResponse(200, { 'x-upstream-retry': 'no' })).toBe(false);
    expect(p.retriableResponse(500, {})).toBe(false);
    // `:status` is matched too (Envoy's example: a range of statuses).
    const s = compile({
      retryOn: ['retriable-headers'],
      retriableHeaders: [headerMatcher({ name: ':status', rangeMatch: { start: 502, end: 505 } })],
    });
    expect([500, 502, 504, 505].filter((code) => s.retriableResponse(code, {}))).toEqual([502, 504]);
  });

  it('retries gRPC statuses from grpc-status in the response headers', () => {
    const p = compile({
      retryOn: ['cancelled', 'deadline-exceeded', 'resource-exhausted', 'unavailable', 'internal'],
    });
    const codes = Array.from({ length: 17 }, (_, i) => i).filter((c) =>
      p.retriableResponse(200, { 'grpc-status': String(c) }),
    );
    expect(codes).toEqual([1, 4, 8, 13, 14]);
    expect(compile({ retryOn: ['unavailable'] }).retriableResponse(200, { 'grpc-status': '13' })).toBe(false);
    expect(p.retriableResponse(200, {})).toBe(false);
  });

  it('never retries a response rate limited by an upstream Envoy, unless envoy-ratelimited', () => {
    expect(compile({ retryOn: ['5xx'] }).retriableResponse(503, { 'x-envoy-ratelimited': 'true' })).toBe(
      false,
    );
    expect(
      compile({ retryOn: ['envoy-ratelimited'] }).retriableResponse(429, { 'x-envoy-ratelimited': 'true' }),
    ).toBe(true);
  });

  it.each<[string, string[], string[]]>([
    ['5xx', ['5xx'], ['reset', 'connect-failure', 'refused-stream']],
    ['gateway-error', ['gateway-error'], ['reset', 'connect-failure', 'refused-stream']],
    ['reset', ['reset'], ['reset', 'connect-failure', 'refused-stream']],
    ['connect-failure', ['connect-failure'], ['connect-failure']],
    ['refused-stream', ['refused-stream'], ['refused-stream']],
    ['reset-before-request', ['reset-before-request'], ['connect-failure', 'refused-stream']],
    ['retriable-4xx', ['retriable-4xx'], []],
  ])('retries local failures on %s', (_, retryOn, expected) => {
    const p = compile({ retryOn });
    expect(
      (['reset', 'connect-failure', 'refused-stream'] as const).filter((f) => p.retriableFailure(f)),
    ).toEqual(expected);
  });

  it.each<[string, Partial<model.RetryPolicy>, RegExp]>([
    [
      'unknown condition',
      { retryOn: ['5xx', 'sometimes'] },
      /retry_policy › retry_on: unknown retry condition "sometimes"/,
    ],
    ['negative retries', { numRetries: -1 }, /num_retries: -1 is not a non-negative integer/],
    [
      'max below base',
      { retryBackOff: { baseIntervalMs: 100, maxIntervalMs: 50 } },
      /max_interval: must not be below base_interval/,
    ],
    ['zero base', { retryBackOff: { baseIntervalMs: 0 } }, /base_interval: must be above 0/],
    [
      'unknown host predicate',
      { retryHostPredicates: ['envoy.retry_host_predicates.omit_canary_hosts'] },
      /retry_host_predicate\[0\]: unsupported host predicate/,
    ],
    ['bad status', { retriableStatusCodes: [42] }, /retriable_status_codes: 42 is not an HTTP status/],
    [
      'bad retriable header',
      {
        retriableHeaders: [headerMatcher({ name: 'x', stringMatch: { safeRegex: '(', ignoreCase: false } })],
      },
      /retriable_headers\[0\]\.string_match\.safe_regex: invalid RE2 regex/,
    ],
  ])('rejects %s', (_, p, message) => {
    expect(() => compile(p)).toThrow(message);
  });
});
