// @meshlet/stats: counters, gauges and HDR histograms in scopes with tags; Prometheus and JSON out.
export type * from './types.js';
