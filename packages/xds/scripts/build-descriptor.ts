// Compiles the Envoy v3 API types meshlet reads into one compact protobufjs JSON descriptor,
// `generated/envoy.json`, at build time. The .proto files come from the dependency
// @grpc/grpc-js-xds (its `deps/` folder ships Envoy's data-plane-api, cncf/xds, googleapis and
// protoc-gen-validate); nothing of them is copied into this repository. Only the types reachable
// from the roots below are kept, without comments or options, so that loading the descriptor at
// start-up is one JSON.parse and one Root.fromJSON.
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const deps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const includes = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(deps, d));

/** The files whose types meshlet decodes: resources, the extensions it understands, ADS. */
const files = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/dubbo_proxy/v3/dubbo_proxy.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/header_mutation/v3/header_mutation.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/load_balancing_policies/least_request/v3/least_request.proto',
  'envoy/extensions/load_balancing_policies/random/v3/random.proto',
  'envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.proto',
  'envoy/extensions/load_balancing_policies/maglev/v3/maglev.proto',
  'envoy/extensions/resource_monitors/fixed_heap/v3/fixed_heap.proto',
  'envoy/extensions/resource_monitors/downstream_connections/v3/downstream_connections.proto',
  'xds/type/v3/typed_struct.proto',
  'udpa/type/v1/typed_struct.proto',
  'google/rpc/status.proto',
];

const root = new protobuf.Root();
root.resolvePath = (_origin: string, target: string): string | null => {
  if (target.startsWith('google/protobuf/')) {
    // protobufjs bundles the well-known types; descriptor.proto ships with it too.
    const bundled = join(dirname(require.resolve('protobufjs/package.json')), target);
    if (existsSync(bundled)) return bundled;
  }
  for (const dir of includes) {
    const path = join(dir, target);
    if (existsSync(path)) return path;
  }
  return existsSync(target) ? target : null;
};
root.loadSync(files, { keepCase: false, alternateCommentMode: false });
root.resolveAll();

// Walk the types reachable from the roots: message fields, map values, oneofs, service methods.
const keep = new Set<protobuf.ReflectionObject>();
function visit(obj: protobuf.ReflectionObject | null): void {
  if (!obj || keep.has(obj)) return;
  keep.add(obj);
  if (obj instanceof protobuf.Type) {
    for (const field of obj.fieldsArray) visit(field.resolvedType);
    for (const nested of obj.nestedArray) if (nested instanceof protobuf.Enum) visit(nested);
  } else if (obj instanceof protobuf.Service) {
    for (const method of obj.methodsArray) {
      visit(method.resolvedRequestType);
      visit(method.resolvedResponseType);
    }
  }
}
const roots = [
  'envoy.service.discovery.v3.AggregatedDiscoveryService',
  'envoy.config.bootstrap.v3.Bootstrap',
  'envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig',
  'envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig',
  'envoy.config.listener.v3.Listener',
  'envoy.config.route.v3.RouteConfiguration',
  'envoy.config.cluster.v3.Cluster',
  'envoy.config.endpoint.v3.ClusterLoadAssignment',
  'envoy.config.route.v3.FilterConfig',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  'envoy.extensions.filters.network.dubbo_proxy.v3.DubboProxy',
  'envoy.extensions.access_loggers.file.v3.FileAccessLog',
  'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
  'envoy.extensions.access_loggers.stream.v3.StderrAccessLog',
  'envoy.extensions.filters.http.router.v3.Router',
  'envoy.extensions.filters.http.fault.v3.HTTPFault',
  'envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  'envoy.extensions.filters.http.rbac.v3.RBAC',
  'envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
  'envoy.extensions.filters.http.cors.v3.Cors',
  'envoy.extensions.filters.http.cors.v3.CorsPolicy',
  'envoy.extensions.filters.http.header_mutation.v3.HeaderMutation',
  'envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute',
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  'envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin',
  'envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest',
  'envoy.extensions.load_balancing_policies.random.v3.Random',
  'envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash',
  'envoy.extensions.load_balancing_policies.maglev.v3.Maglev',
  'xds.type.v3.TypedStruct',
  'udpa.type.v1.TypedStruct',
  'google.rpc.Status',
  'google.protobuf.Struct',
  'google.protobuf.Empty',
];
for (const name of roots) visit(root.lookup(name));

// Rebuild a namespace tree holding only what was kept, stripped of options and comments.
type Json = Record<string, unknown>;
function prune(ns: protobuf.NamespaceBase): Json | undefined {
  const nested: Json = {};
  for (const child of ns.nestedArray) {
    if (child instanceof protobuf.Type) {
      const inner = prune(child);
      if (!keep.has(child)) {
        if (inner) nested[child.name] = { nested: inner.nested };
        continue;
      }
      const fields: Json = {};
      for (const f of child.fieldsArray) {
        const out: Json = { type: f.type, id: f.id };
        if (f.repeated) out.rule = 'repeated';
        if (f instanceof protobuf.MapField) out.keyType = f.keyType;
        fields[f.name] = out;
      }
      const oneofs: Json = {};
      for (const o of child.oneofsArray) oneofs[o.name] = { oneof: o.oneof };
      const type: Json = { fields };
      if (child.oneofsArray.length) type.oneofs = oneofs;
      if (inner) type.nested = inner.nested;
      nested[child.name] = type;
    } else if (child instanceof protobuf.Enum) {
      if (keep.has(child)) nested[child.name] = { values: child.values };
    } else if (child instanceof protobuf.Service) {
      if (!keep.has(child)) continue;
      const methods: Json = {};
      for (const m of child.methodsArray)
        methods[m.name] = {
          requestType: m.requestType,
          responseType: m.responseType,
          requestStream: m.requestStream,
          responseStream: m.responseStream,
        };
      nested[child.name] = { methods };
    } else if (child instanceof protobuf.Namespace) {
      const inner = prune(child);
      if (inner) nested[child.name] = inner;
    }
  }
  return Object.keys(nested).length ? { nested } : undefined;
}

const json = prune(root) ?? {};
const outDir = join(here, '..', 'generated');
mkdirSync(outDir, { recursive: true });
const text = JSON.stringify(json);
writeFileSync(join(outDir, 'envoy.json'), text);
console.log(`@meshlet/xds: generated/envoy.json, ${keep.size} types, ${(text.length / 1024).toFixed(0)} KiB`);
