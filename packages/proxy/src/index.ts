// @meshlet/proxy: listeners → connection manager → filter chain → router → clusters → upstreams.
export type * from './types.js';
export { createProxy, HttpProxy } from './proxy.js';
export type { ProxyEvents, ProxyOptions } from './proxy.js';
export { snapshotOfBootstrap } from './config/snapshot.js';
export { defineHttpFilter } from './filters/define-http-filter.js';
export { httpToGrpcStatus } from './http/local-reply.js';
export { ConfigError, InvalidArgumentError, MeshletError } from './errors.js';
export * from './filters/index.js';
export { CompiledStringMatcher, compileStringMatcher } from './matchers/string-matcher.js';
export { CompiledHeaderMatcher, compileHeaderMatchers, matchAllHeaders } from './matchers/header-matcher.js';
export * from './router/index.js';
export * from './router-filter/index.js';
export * from './cluster/index.js';
export { NOOP_STREAM_OBSERVER, NOOP_UPSTREAM_STATS } from './observe/noop.js';
export * from './rpc/upstream/index.js';
