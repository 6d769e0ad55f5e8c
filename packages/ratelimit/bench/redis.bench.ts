// The global limiter on a real redis-server (started here, on loopback): decisions per second
// and Redis round trips per 1000 decisions, without leasing and with leases of 10 and 100
// tokens; sequential (one decision at a time) and with 64 in flight. Loopback hides network
// latency: on a real network every round trip saved by leasing saves a network RTT too.
//
// In smoke mode without a redis-server the benchmark is skipped, loudly; otherwise it fails.
import { Redis } from 'ioredis';
import { createRedisRateLimiter } from '@meshlet/ratelimit';
import type { GlobalDecision, RedisAlgorithm } from '@meshlet/ratelimit';
import { fmt, rate, smoke, table } from '../../../bench/harness.ts';
import { RedisServer, redisAvailable } from '../test/redis-server.ts';

if (!redisAvailable('the Redis benchmark')) {
  if (!smoke) throw new Error('the Redis benchmark needs redis-server (apt-get install -y redis-server)');
  process.exit(0);
}

const DECISIONS = smoke ? 320 : 40_000; // a multiple of 64, the lanes
const server = await RedisServer.start();
const client = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true });
await client.connect();

interface Row {
  algorithm: RedisAlgorithm;
  lease: number;
  inFlight: number;
}

let keyN = 0;
async function run({ algorithm, lease, inFlight }: Row): Promise<Record<string, string>> {
  // A limit that is never reached: every decision is a real admission.
  const limiter = createRedisRateLimiter({
    client,
    algorithm,
    limit: 1e9,
    windowMs: 3_600_000,
    timeoutMs: 5000,
    ...(lease > 1 ? { lease: { size: lease, ttlMs: 60_000 } } : {}),
  });
  const key = `bench-${++keyN}`;
  let errors = 0;
  const check = (d: GlobalDecision): void => {
    if (!d.allowed || d.outcome !== 'allowed') errors++;
  };
  const started = performance.now();
  if (inFlight === 1) {
    for (let i = 0; i < DECISIONS; i++) {
      const d = limiter.consume(key);
      check(d instanceof Promise ? await d : d);
    }
  } else {
    const lane = async (): Promise<void> => {
      for (let i = 0; i < DECISIONS / inFlight; i++) {
        const d = limiter.consume(key);
        check(d instanceof Promise ? await d : d);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
  }
  const seconds = (performance.now() - started) / 1000;
  if (errors) throw new Error(`${errors} decisions were not admissions`);
  return {
    algorithm,
    lease: lease > 1 ? String(lease) : 'off',
    'in flight': String(inFlight),
    'decisions/s': rate(DECISIONS / seconds),
    'round trips / 1000 decisions': fmt((limiter.stats.roundTrips / DECISIONS) * 1000, 1),
  };
}

const rows: Record<string, string>[] = [];
try {
  for (const algorithm of ['token_bucket', 'sliding_window', 'fixed_window'] as const) {
    for (const inFlight of [1, 64]) {
      for (const lease of [1, 10, 100]) rows.push(await run({ algorithm, lease, inFlight }));
    }
  }
} finally {
  client.disconnect();
  await server.stop();
}
table(`Global limiter on Redis, ${fmt(DECISIONS)} decisions per row (higher is better)`, rows);
