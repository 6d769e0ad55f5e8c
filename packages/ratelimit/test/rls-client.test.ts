import { Server, ServerCredentials, status as grpcStatus } from '@grpc/grpc-js';
import type { ServerUnaryCall, sendUnaryData, UntypedServiceImplementation } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, createRlsClient, rlsRateLimitHeaders, rlsServiceDefinition } from '../src/index.ts';

// A rate limit service written from Envoy's rls.proto with @grpc/grpc-js: per domain and
// descriptor, a fixed quota of requests per minute; "slow" descriptors are never answered.
interface WireRequest {
  domain: string;
  descriptors: { entries: { key: string; value: string }[] }[];
  hitsAddend: number;
}

const seen: WireRequest[] = [];
const used = new Map<string, number>();
const held: sendUnaryData<unknown>[] = [];
let server: Server;
let port: number;

function quotaFor(entries: { key: string; value: string }[]): number {
  return entries.some((e) => e.key === 'tier' && e.value === 'free') ? 2 : 5;
}

const service: UntypedServiceImplementation = {
  ShouldRateLimit(call: ServerUnaryCall<WireRequest, unknown>, callback: sendUnaryData<unknown>) {
    const req = call.request;
    seen.push(req);
    if (req.descriptors.some((d) => d.entries.some((e) => e.key === 'mode' && e.value === 'slow'))) {
      held.push(callback);
      return;
    }
    if (req.domain === 'broken') {
      callback({ code: grpcStatus.INTERNAL, details: 'boom' });
      return;
    }
    const hits = req.hitsAddend || 1;
    const statuses = req.descriptors.map((d) => {
      const key = `${req.domain}|${JSON.stringify(d.entries)}`;
      const limit = quotaFor(d.entries);
      const count = (used.get(key) ?? 0) + hits;
      used.set(key, count);
      return {
        code: count > limit ? 'OVER_LIMIT' : 'OK',
        currentLimit: { requestsPerUnit: limit, unit: 'MINUTE', name: limit === 2 ? 'free' : '' },
        limitRemaining: Math.max(0, limit - count),
        durationUntilReset: { seconds: 42, nanos: 500_000_000 },
      };
    });
    const over = statuses.some((s) => s.code === 'OVER_LIMIT');
    callback(null, {
      overallCode: over ? 'OVER_LIMIT' : 'OK',
      statuses,
      responseHeadersToAdd: over ? [{ key: 'X-Quota-Reason', value: 'descriptor over limit' }] : [],
      requestHeadersToAdd: [{ key: 'x-rls-checked', value: 'yes' }],
    });
  },
};

beforeAll(async () => {
  server = new Server();
  server.addService(rlsServiceDefinition(), service);
  port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => {
      if (err) reject(err);
      else resolve(p);
    });
  });
});

afterAll(() => {
  for (const cb of held) cb({ code: grpcStatus.CANCELLED });
  server.forceShutdown();
});

const user = (id: string, tier = 'paid') => ({
  entries: [
    { key: 'user', value: id },
    { key: 'tier', value: tier },
  ],
});

describe('createRlsClient against a gRPC RateLimitService built from rls.proto', () => {
  it('sends domain, descriptors and hits_addend, and maps per-descriptor statuses', async () => {
    const rls = createRlsClient({ target: `127.0.0.1:${port}`, domain: 'edge', timeoutMs: 5000 });
    try {
      const ok = await rls.shouldRateLimit([user('a'), user('a', 'free')], 2);
      expect(seen.at(-1)).toMatchObject({
        domain: 'edge',
        hitsAddend: 2,
        descriptors: [user('a'), user('a', 'free')],
      });
      expect(ok).toMatchObject({
        outcome: 'ok',
        allowed: true,
        error: null,
        requestHeaders: { 'x-rls-checked': 'yes' },
      });
      expect(ok.statuses).toEqual([
        {
          code: 'OK',
          currentLimit: { requestsPerUnit: 5, unit: 'MINUTE', name: '' },
          limitRemaining: 3,
          resetAfterMs: 42_500,
        },
        {
          code: 'OK',
          currentLimit: { requestsPerUnit: 2, unit: 'MINUTE', name: 'free' },
          limitRemaining: 0,
          resetAfterMs: 42_500,
        },
      ]);

      const over = await rls.shouldRateLimit([user('a'), user('a', 'free')]);
      expect(over).toMatchObject({ outcome: 'over_limit', allowed: false });
      expect(over.statuses.map((s) => s.code)).toEqual(['OK', 'OVER_LIMIT']);
      expect(over.responseHeaders).toEqual({ 'x-quota-reason': 'descriptor over limit' });
      expect(rlsRateLimitHeaders(over)).toEqual({
        'x-ratelimit-limit': '2, 5;w=60, 2;w=60;name="free"',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': '43',
      });
    } finally {
      rls.close();
    }
  });

  it('fails open by default when the service does not answer within the 20 ms default timeout', async () => {
    const rls = createRlsClient({ target: `127.0.0.1:${port}`, domain: 'edge' });
    try {
      const d = await rls.shouldRateLimit([{ entries: [{ key: 'mode', value: 'slow' }] }]);
      expect(d).toMatchObject({ outcome: 'error', allowed: true, statuses: [] });
      expect(d.error?.code).toBe(grpcStatus.DEADLINE_EXCEEDED);
    } finally {
      rls.close();
    }
  });

  it('with failureModeDeny, an error refuses, and is still reported as an error, not over_limit', async () => {
    const rls = createRlsClient({
      target: `127.0.0.1:${port}`,
      domain: 'broken',
      failureModeDeny: true,
      timeoutMs: 5000,
    });
    try {
      const d = await rls.shouldRateLimit([user('b')]);
      expect(d).toMatchObject({ outcome: 'error', allowed: false });
      expect(d.error?.code).toBe(grpcStatus.INTERNAL);
    } finally {
      rls.close();
    }
  });

  it('a service that is not there is an error outcome (fail open), not an exception', async () => {
    const gone = new Server();
    const deadPort = await new Promise<number>((resolve, reject) => {
      gone.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => {
        if (err) reject(err);
        else resolve(p);
      });
    });
    gone.forceShutdown();
    const rls = createRlsClient({ target: `127.0.0.1:${deadPort}`, domain: 'edge', timeoutMs: 2000 });
    try {
      const d = await rls.shouldRateLimit([user('c')]);
      expect(d).toMatchObject({ outcome: 'error', allowed: true });
      expect(d.error?.code).toBe(grpcStatus.UNAVAILABLE);
    } finally {
      rls.close();
    }
  });

  it('rejects bad options', () => {
    expect(() => createRlsClient({ target: '', domain: 'x' })).toThrow(ConfigError);
    expect(() => createRlsClient({ target: 'localhost:1', domain: '' })).toThrow(ConfigError);
    expect(() => createRlsClient({ target: 'localhost:1', domain: 'x', timeoutMs: 0 })).toThrow(ConfigError);
  });
});
