export { TokenBucket, MIN_FILL_INTERVAL_MS } from './token-bucket.js';
export { SlidingWindow } from './sliding-window.js';
export { ConcurrencyLimiter } from './concurrency-limiter.js';
export { createKeyedLimiter } from './keyed-limiter.js';
export { createLocalRateLimiter, durationMs } from './local-rate-limiter.js';
export { systemClock, systemTimers } from './clock.js';
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
// Re-exported so that users of this package alone can catch what it throws.
export { ConfigError, InvalidArgumentError, MeshletError } from '@meshlet/errors';
