export { TokenBucket, MIN_FILL_INTERVAL_MS } from './token-bucket.js';
export { SlidingWindow } from './sliding-window.js';
export { ConcurrencyLimiter } from './concurrency-limiter.js';
export { createKeyedLimiter } from './keyed-limiter.js';
export { createLocalRateLimiter, durationMs } from './local-rate-limiter.js';
export { CachedClock, systemClock, systemTimers } from './clock.js';
export { createRedisRateLimiter } from './redis/redis-rate-limiter.js';
export { createRlsClient, rlsRateLimitHeaders } from './rls/rls-client.js';
export { loadRlsProto, rlsServiceDefinition, RLS_SERVICE } from './rls/rls-proto.js';
export type {
  Clock,
  Decision,
  DescriptorEntry,
  RateLimitDescriptor,
  RefillStyle,
  Timers,
  TokenBucketOptions,
} from './types.js';
export type { SlidingWindowOptions } from './sliding-window.js';
export type { AcquireResult, ConcurrencyLimiterOptions } from './concurrency-limiter.js';
export type { KeyedLimiter, KeyedLimiterOptions } from './keyed-limiter.js';
export type {
  DurationInput,
  FractionalPercent,
  LocalRateLimitConfig,
  LocalRateLimitDecision,
  LocalRateLimitDescriptorConfig,
  LocalRateLimitOutcome,
  LocalRateLimitStats,
  LocalRateLimiter,
  RuntimeFractionalPercent,
  TokenBucketConfig,
} from './local-rate-limiter.js';
export type {
  FailureMode,
  GlobalDecision,
  GlobalOutcome,
  RedisAlgorithm,
  RedisRateLimiter,
  RedisRateLimiterOptions,
  RedisRateLimiterStats,
  RedisScriptClient,
} from './redis/redis-rate-limiter.js';
export type {
  RlsClient,
  RlsClientOptions,
  RlsCode,
  RlsDecision,
  RlsDescriptorStatus,
  RlsOutcome,
} from './rls/rls-client.js';
// Re-exported so that users of this package alone can catch what it throws.
export { ConfigError, InvalidArgumentError, MeshletError } from '@meshlet/errors';
