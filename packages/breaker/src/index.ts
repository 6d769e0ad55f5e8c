export { CircuitBreaker, Permit } from './circuit-breaker.js';
export { createResourceLimits, PriorityResourceLimits, ResourceCounter } from './resource-limits.js';
export { HostMonitor, OutlierDetector } from './outlier-detector.js';
export { sharedTimerWheel, TimerEntry, TimerWheel } from './timer-wheel.js';
export { systemClock, systemScheduler } from './clock.js';
export { BreakerOpenError, BreakerTimeoutError } from './errors.js';
export type {
  BreakerState,
  BreakerWindow,
  CircuitBreakerEvents,
  CircuitBreakerOptions,
  CircuitBreakerSnapshot,
  ErrorClass,
  ExecuteOptions,
  OpenEvent,
  OpenReason,
  RejectReason,
  Rejection,
} from './circuit-breaker.js';
export type {
  ResourceKind,
  ResourceLimits,
  ResourceStats,
  ResourceThresholds,
  RetryBudget,
  RoutingPriority,
} from './resource-limits.js';
export type {
  EjectReason,
  EjectionTarget,
  LocalOriginResult,
  OutlierDetectorEvents,
  OutlierDetectorOptions,
  OutlierDetectorStats,
} from './outlier-detector.js';
export type { TimerWheelOptions } from './timer-wheel.js';
export type { Clock, Scheduler } from './types.js';
// Re-exported so that users of this package alone can catch what it throws.
export { ConfigError, InvalidArgumentError, MeshletError } from '@meshlet/errors';
