export { createLoadBalancer, LoadBalancer, MAX_MAGLEV_TABLE_SIZE, MAX_RING_SIZE } from './load-balancer.js';
export { Host } from './host.js';
export { xxHash64 } from './xxhash64.js';
export { createRequestHasher } from './hash-policy.js';
export type { HashableRequest, HashPolicy, RequestHasher } from './hash-policy.js';
export type {
  HostHealth,
  HostInput,
  HostSetChange,
  LeastRequestOptions,
  LoadBalancerEvents,
  LoadBalancerOptions,
  LoadBalancerPolicy,
  LoadBalancerStats,
  Locality,
  MaglevOptions,
  MetadataValue,
  PickContext,
  PriorityStats,
  RingHashOptions,
  SlowStartOptions,
  SubsetFallbackPolicy,
  SubsetOptions,
  TableStats,
} from './types.js';
// Re-exported so that users of this package alone can catch what it throws.
export { ConfigError, InvalidArgumentError, MeshletError } from '@meshlet/errors';
