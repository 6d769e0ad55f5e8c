import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as ProtoLoader from '@grpc/proto-loader';
import type { PackageDefinition } from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/grpc-js';

/** The fully qualified name of Envoy's rate limit service. */
export const RLS_SERVICE = 'envoy.service.ratelimit.v3.RateLimitService';

let cached: PackageDefinition | undefined;

/**
 * Envoy's `envoy/service/ratelimit/v3/rls.proto` and its imports, loaded with
 * `@grpc/proto-loader` from the copy of Envoy's data-plane API that `@grpc/grpc-js-xds` ships
 * (`deps/`). Loaded once, at first use. Fields are camelCase, enums strings, 64-bit numbers numbers.
 */
export function loadRlsProto(): PackageDefinition {
  if (cached !== undefined) return cached;
  const require = createRequire(import.meta.url);
  // Loaded here, not at import: a process that never talks to a rate limit service does not pay
  // for proto-loader and protobufjs (both CommonJS, so `require` keeps this synchronous).
  const { loadSync } = require('@grpc/proto-loader') as typeof ProtoLoader;
  const deps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  cached = loadSync('envoy/service/ratelimit/v3/rls.proto', {
    includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(deps, d)),
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return cached;
}

/** The `RateLimitService` definition, for a gRPC server (`server.addService`) or a client. */
export function rlsServiceDefinition(): ServiceDefinition {
  return loadRlsProto()[RLS_SERVICE] as ServiceDefinition;
}
