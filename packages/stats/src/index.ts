// @meshlet/stats: counters, gauges and HDR histograms in scopes with tags; Prometheus and JSON out.
export { createStatsStore } from './stats-store.js';
export { envoyBuckets, escapeLabelValue, sanitizeMetricName } from './prometheus.js';
export { supportedQuantiles } from './admin-format.js';
export type * from './types.js';
// Re-exported so that users of this package alone can catch what it throws.
export { ConfigError, InvalidArgumentError, MeshletError } from '@meshlet/errors';
