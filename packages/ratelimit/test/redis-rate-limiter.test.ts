import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, createRedisRateLimiter } from '../src/index.ts';
import type { GlobalDecision, RedisAlgorithm, RedisRateLimiterOptions } from '../src/index.ts';
import { ManualTimers } from './helpers.ts';
import { RedisServer, redisAvailable } from './redis-server.ts';

const HOUR = 3_600_000;
let server: RedisServer;
let client: Redis;
let keyN = 0;
const freshKey = (): string => `k${++keyN}-${process.pid}`;

function limiter(options: Partial<RedisRateLimiterOptions> & { algorithm: RedisAlgorithm }) {
  return createRedisRateLimiter({ client, limit: 5, windowMs: HOUR, timeoutMs: 5000, ...options });
}

async function run(
  times: number,
  consume: () => GlobalDecision | Promise<GlobalDecision>,
): Promise<GlobalDecision[]> {
  const out: GlobalDecision[] = [];
  for (let i = 0; i < times; i++) out.push(await consume());
  return out;
}

describe.skipIf(!redisAvailable())('createRedisRateLimiter on a real redis-server', () => {
  beforeAll(async () => {
    server = await RedisServer.start();
    client = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true });
    await client.connect();
  });
  afterAll(async () => {
    client.disconnect();
    await server.stop();
  });

  for (const algorithm of ['fixed_window', 'sliding_window', 'token_bucket'] as const) {
    it(`${algorithm}: admits the limit, then reports limited with the reset time`, async () => {
      const l = limiter({ algorithm });
      const key = freshKey();
      const decisions = await run(7, () => l.consume(key));
      expect(decisions.map((d) => d.outcome)).toEqual([
        'allowed',
        'allowed',
        'allowed',
        'allowed',
        'allowed',
        'limited',
        'limited',
      ]);
      expect(decisions.map((d) => d.remaining)).toEqual([4, 3, 2, 1, 0, 0, 0]);
      const limited = decisions[6] as GlobalDecision;
      expect(limited).toMatchObject({ allowed: false, limit: 5, fromLease: false, failure: null });
      expect(limited.resetAfterMs).toBeGreaterThan(0);
      expect(limited.resetAfterMs).toBeLessThanOrEqual(HOUR);
      // Another key is another limit.
      expect((await l.consume(freshKey())).allowed).toBe(true);
      expect(l.stats).toMatchObject({ roundTrips: 8, leaseHits: 0, storeErrors: 0 });
    });

    it(`${algorithm}: n tokens are all or nothing`, async () => {
      const l = limiter({ algorithm });
      const key = freshKey();
      expect((await l.consume(key, 4)).allowed).toBe(true);
      expect((await l.consume(key, 2)).outcome).toBe('limited');
      expect((await l.consume(key, 1)).allowed).toBe(true);
    });
  }

  it('shares one limit between limiter instances (the state is in Redis)', async () => {
    const a = limiter({ algorithm: 'sliding_window' });
    const b = limiter({ algorithm: 'sliding_window' });
    const key = freshKey();
    await run(3, () => a.consume(key));
    const rest = await run(3, () => b.consume(key));
    expect(rest.map((d) => d.allowed)).toEqual([true, true, false]);
  });

  it('loads its script again after SCRIPT FLUSH (NOSCRIPT falls back to EVAL)', async () => {
    const l = limiter({ algorithm: 'fixed_window' });
    const key = freshKey();
    expect((await l.consume(key)).allowed).toBe(true);
    await client.script('FLUSH');
    expect(await l.consume(key)).toMatchObject({ outcome: 'allowed', remaining: 3 });
  });

  describe('token leasing', () => {
    it('reserves a batch in one round trip and spends it locally, without passing the limit', async () => {
      const l = limiter({ algorithm: 'token_bucket', limit: 25, lease: { size: 10, ttlMs: 60_000 } });
      const key = freshKey();
      const decisions = await run(40, () => l.consume(key));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(25);
      expect(decisions.slice(25).every((d) => d.outcome === 'limited')).toBe(true);
      // 3 leases (10 + 10 + 5), then one round trip per refused request.
      expect(l.stats.roundTrips).toBe(3 + 15);
      expect(l.stats.leaseHits).toBe(22);
      expect(decisions[1]).toMatchObject({ outcome: 'allowed', fromLease: true, remaining: 8 });
      expect(l.leaseSlack).toBe(10);
    });

    it('a lease returns a value, not a promise; concurrent requests share one refill', async () => {
      const l = limiter({ algorithm: 'sliding_window', limit: 100, lease: { size: 10 } });
      const key = freshKey();
      const first = await Promise.all(Array.from({ length: 15 }, () => Promise.resolve(l.consume(key))));
      expect(first.every((d) => d.allowed)).toBe(true);
      expect(l.stats.roundTrips).toBe(2);
      // The second lease still holds tokens: the next decision is synchronous.
      expect(l.consume(key)).not.toBeInstanceOf(Promise);
    });

    it('requests queued behind a refill are served in order from it; past the limit they are refused', async () => {
      const l = limiter({ algorithm: 'token_bucket', limit: 6, lease: { size: 5 } });
      const key = freshKey();
      const all = await Promise.all(Array.from({ length: 7 }, () => Promise.resolve(l.consume(key))));
      expect(all.map((d) => d.outcome)).toEqual([
        'allowed',
        'allowed',
        'allowed',
        'allowed',
        'allowed',
        'allowed',
        'limited',
      ]);
      expect(all.map((d) => d.fromLease)).toEqual([false, true, true, true, true, false, false]);
      // One round trip leased 5 tokens, the next the 1 left (for the 6th), a third found none.
      expect(l.stats.roundTrips).toBe(3);
    });

    it('a fixed window lease ends with its window', async () => {
      const now = { t: 0, now: () => now.t };
      const l = limiter({
        algorithm: 'fixed_window',
        limit: 50,
        windowMs: 1000,
        lease: { size: 10, ttlMs: 60_000 },
        clock: now,
      });
      const key = freshKey();
      const d = await l.consume(key);
      expect(d.allowed).toBe(true);
      expect(d.resetAfterMs).toBeLessThanOrEqual(1000);
      expect(l.consume(key)).toMatchObject({ fromLease: true });
      // The lease's lifetime is the window's remaining time, not the 60 s TTL.
      now.t += 1000;
      const next = l.consume(key);
      expect(next).toBeInstanceOf(Promise);
      expect(await next).toMatchObject({ outcome: 'allowed', fromLease: false });
      expect(l.stats.roundTrips).toBe(2);
    });
  });

  describe('Redis slow or down: a distinct outcome, never "limited"', () => {
    for (const failureMode of ['open', 'closed'] as const) {
      it(`slow (CLIENT PAUSE), fail-${failureMode}: store_error after timeoutMs`, async () => {
        const admin = new Redis({ port: server.port, host: '127.0.0.1' });
        const timers = new ManualTimers();
        const l = limiter({ algorithm: 'token_bucket', timeoutMs: 20, failureMode, timers });
        const key = freshKey();
        expect((await l.consume(key)).allowed).toBe(true);
        await admin.call('CLIENT', 'PAUSE', '10000', 'WRITE');
        try {
          const pending = l.consume(key);
          timers.advance(19);
          timers.advance(1);
          const d = await pending;
          expect(d).toMatchObject({
            outcome: 'store_error',
            allowed: failureMode === 'open',
            failure: 'timeout',
          });
          expect(l.stats.storeErrors).toBe(1);
        } finally {
          await admin.call('CLIENT', 'UNPAUSE');
          admin.disconnect();
        }
        // Redis answers again: decisions are back, and the late reply changed nothing.
        const after = await l.consume(key);
        expect(after.outcome).toBe('allowed');
      });

      it(`slow, fail-${failureMode}, with leasing: the requests queued behind one refill share its timeout`, async () => {
        const admin = new Redis({ port: server.port, host: '127.0.0.1' });
        const timers = new ManualTimers();
        const l = limiter({
          algorithm: 'sliding_window',
          lease: { size: 2 },
          timeoutMs: 20,
          failureMode,
          timers,
        });
        await admin.call('CLIENT', 'PAUSE', '10000', 'WRITE');
        try {
          const key = freshKey();
          const pending = Array.from({ length: 4 }, () => Promise.resolve(l.consume(key)));
          expect(timers.pending.size).toBe(1);
          timers.advance(20);
          const decisions = await Promise.all(pending);
          for (const d of decisions) {
            expect(d).toMatchObject({
              outcome: 'store_error',
              allowed: failureMode === 'open',
              failure: 'timeout',
            });
          }
          expect(l.stats).toMatchObject({ roundTrips: 1, storeErrors: 1 });
        } finally {
          await admin.call('CLIENT', 'UNPAUSE');
          admin.disconnect();
        }
      });

      it(`down (connection refused), fail-${failureMode}: store_error with the client's error`, async () => {
        const dead = await RedisServer.start();
        const port = dead.port;
        await dead.stop();
        const offline = new Redis({
          port,
          host: '127.0.0.1',
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        offline.on('error', () => undefined);
        const l = createRedisRateLimiter({
          client: offline,
          algorithm: 'fixed_window',
          limit: 1,
          windowMs: HOUR,
          failureMode,
        });
        const decisions = await run(3, () => l.consume('x'));
        for (const d of decisions) {
          expect(d).toMatchObject({
            outcome: 'store_error',
            allowed: failureMode === 'open',
            failure: 'error',
          });
          expect(d.error).toBeInstanceOf(Error);
        }
        offline.disconnect();
      });
    }

    it('goes down while in use: queued commands time out as store_error; leases keep serving', async () => {
      const doomed = await RedisServer.start();
      const c = new Redis({
        port: doomed.port,
        host: '127.0.0.1',
        lazyConnect: true,
        retryStrategy: () => 50,
      });
      c.on('error', () => undefined);
      await c.connect();
      const timers = new ManualTimers();
      const l = createRedisRateLimiter({
        client: c,
        algorithm: 'token_bucket',
        limit: 100,
        windowMs: HOUR,
        lease: { size: 3, ttlMs: 60_000 },
        timeoutMs: 50,
        timers,
      });
      expect((await l.consume('k')).allowed).toBe(true);
      await doomed.stop();
      // Two tokens are leased: decided locally while Redis is gone.
      expect(l.consume('k')).toMatchObject({ outcome: 'allowed', fromLease: true });
      expect(l.consume('k')).toMatchObject({ outcome: 'allowed', fromLease: true });
      const pending = l.consume('k');
      timers.advance(50);
      expect(await pending).toMatchObject({ outcome: 'store_error', allowed: true, failure: 'timeout' });
      c.disconnect();
    });
  });

  describe('two processes sharing one global limit', () => {
    const worker = fileURLToPath(new URL('./fixtures/global-worker.ts', import.meta.url));
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));

    interface Result {
      admitted: number;
      errors: number;
      roundTrips: number;
    }

    /** Starts a worker; resolves `ready` once it is connected, and `done` with its result. */
    function spawnWorker(key: string, attempts: number, lease: number) {
      const child = spawn(
        process.execPath,
        [worker, String(server.port), key, String(attempts), String(lease)],
        {
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      let out = '';
      let signalReady: () => void = () => undefined;
      const ready = new Promise<void>((resolve) => (signalReady = resolve));
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.startsWith('ready\n')) signalReady();
      });
      const done = new Promise<Result>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code) => {
          if (code === 0) resolve(JSON.parse(out.slice('ready\n'.length)) as Result);
          else reject(new Error(`worker exited with ${String(code)}`));
        });
      });
      return { ready, done, go: () => child.stdin.end('go\n') };
    }

    for (const lease of [0, 10]) {
      it(`lease ${lease || 'off'}: the total admitted stays within limit + processes x lease slack`, async () => {
        expect(existsSync(dist), 'the worker runs the built package: run `pnpm run build` first').toBe(true);
        const key = freshKey();
        const workers = [spawnWorker(key, 150, lease), spawnWorker(key, 150, lease)];
        // Both connect first, then start together, so that they really compete.
        await Promise.all(workers.map((w) => w.ready));
        for (const w of workers) w.go();
        const results = await Promise.all(workers.map((w) => w.done));
        const admitted = results.reduce((sum, r) => sum + r.admitted, 0);
        expect(results.every((r) => r.errors === 0)).toBe(true);
        // Both really asked Redis (which of them wins the tokens is up to the scheduler).
        expect(results.every((r) => r.roundTrips > 0)).toBe(true);
        // Without a shared limit they would have admitted 200 between them.
        // limit 100 per hour: at most one more token refills during the test.
        const slack = 2 * lease;
        expect(admitted).toBeLessThanOrEqual(100 + 1 + slack);
        expect(admitted).toBeGreaterThanOrEqual(100 - slack);
      });
    }
  });

  it('rejects bad options', () => {
    expect(() => limiter({ algorithm: 'leaky' as 'fixed_window' })).toThrow(ConfigError);
    expect(() => limiter({ algorithm: 'fixed_window', limit: 0 })).toThrow(ConfigError);
    expect(() => limiter({ algorithm: 'fixed_window', lease: { size: 6 } })).toThrow(/lease.size/);
    expect(() => limiter({ algorithm: 'fixed_window', failureMode: 'maybe' as 'open' })).toThrow(ConfigError);
  });
});
