// The soak's Envoy bootstrap, as a function of the config version: three listeners (HTTP/1.1,
// HTTP/2 cleartext carrying both plain HTTP/2 and gRPC, Bolt) and three clusters of two instances
// each. Every version changes something a live update must apply without losing a request:
//   - every version: the routes' `x-soak-config` response header (route tables swap);
//   - odd versions: the `web` cluster's load balancer (ROUND_ROBIN ↔ LEAST_REQUEST, a changed
//     cluster whose pools must carry on or drain);
//   - every third version: the `grpc` cluster's endpoints in the other order (an EDS change);
//   - even versions: the Bolt rpc_proxy's request timeout (a changed network filter chain).

/** Loopback ports of the instances of each cluster. */
export interface SoakPorts {
  readonly web: readonly number[];
  readonly grpc: readonly number[];
  readonly bolt: readonly number[];
}

/** The gRPC method every gRPC call of the soak uses (a raw-bytes echo, no .proto needed). */
export const GRPC_ECHO_PATH = '/meshlet.soak.Echo/Echo';
/** The Bolt service signature of the soak's Bolt calls. */
export const BOLT_SERVICE = 'com.meshlet.soak.Echo:1.0';
/** The response header carrying the config version that served a request. */
export const CONFIG_HEADER = 'x-soak-config';

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = {
  name: 'envoy.filters.http.router',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
};

const socketAddress = (port: number): object => ({
  socket_address: { address: '127.0.0.1', port_value: port },
});

/**
 * Retries the proxy owes its clients while one instance of a cluster restarts: a refused
 * connection, a reset before the response head (a kept-alive connection the instance closed), a
 * refused HTTP/2 stream (GOAWAY). Never after the head: that would replay a request whose answer
 * the client has already started to receive.
 */
const RETRY_POLICY = {
  retry_on: 'connect-failure,reset,refused-stream',
  num_retries: 5,
  // A retry goes to another instance (Envoy's advice for retries on connection failures). Under
  // LEAST_REQUEST this matters most: a dead instance fails fast, so it has the fewest requests in
  // flight and wins 3 of 4 power-of-two draws; each rejected draw is drawn again, up to 10 times.
  retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }],
  host_selection_retry_max_attempts: 10,
  retry_back_off: { base_interval: '0.01s', max_interval: '0.1s' },
};

function cluster(name: string, ports: readonly number[], extra: object): object {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    // Envoy's default allows 3 retries in flight per cluster, a guard against retry storms. When
    // one of two instances dies under dozens of concurrent requests, more than 3 need a retry at
    // once: an operator who wants rolling restarts to lose nothing raises it, as here.
    circuit_breakers: { thresholds: [{ max_retries: 256 }] },
    // A dead instance is ejected after a few failures in a row (connect failures count as 5xx),
    // one of the two at most.
    outlier_detection: {
      consecutive_5xx: 5,
      interval: '1s',
      base_ejection_time: '1s',
      max_ejection_percent: 50,
    },
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: socketAddress(p) } })) }],
    },
    ...extra,
  };
}

function hcm(statPrefix: string, codec: 'AUTO' | 'HTTP2', routes: object[]): object {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': HCM,
      stat_prefix: statPrefix,
      codec_type: codec,
      route_config: { name: statPrefix, virtual_hosts: [{ name: 'soak', domains: ['*'], routes }] },
      http_filters: [ROUTER],
    },
  };
}

/**
 * The bootstrap of config version `version` (1, 2, ...). Listeners stay at port 0 in every
 * version: the proxy keeps a listener whose address did not change (and its connections), while
 * naming the port it was given would be a new address, a new listener, and the old one drained.
 */
export function soakBootstrap(ports: SoakPorts, version: number): object {
  const versionHeader = {
    response_headers_to_add: [{ header: { key: CONFIG_HEADER, value: String(version) }, append: false }],
  };
  const webRoute = {
    match: { prefix: '/' },
    route: { cluster: 'web', timeout: '10s', retry_policy: RETRY_POLICY },
    ...versionHeader,
  };
  const grpcRoute = {
    match: { prefix: '/meshlet.soak.Echo/', grpc: {} },
    route: { cluster: 'grpc', timeout: '10s', retry_policy: RETRY_POLICY },
    ...versionHeader,
  };
  const grpcPorts = version % 3 === 0 ? [...ports.grpc].reverse() : ports.grpc;
  return {
    static_resources: {
      listeners: [
        {
          name: 'http1',
          address: socketAddress(0),
          filter_chains: [{ filters: [hcm('http1', 'AUTO', [webRoute])] }],
        },
        {
          name: 'h2',
          address: socketAddress(0),
          filter_chains: [{ filters: [hcm('h2', 'HTTP2', [grpcRoute, webRoute])] }],
        },
        {
          name: 'bolt',
          address: socketAddress(0),
          filter_chains: [
            {
              filters: [
                {
                  name: 'meshlet.rpc_proxy',
                  typed_config: {
                    '@type': 'type.googleapis.com/xds.type.v3.TypedStruct',
                    type_url: 'type.googleapis.com/meshlet.rpc.v1.RpcProxy',
                    value: {
                      protocol: 'bolt',
                      stat_prefix: 'bolt',
                      request_timeout_ms: version % 2 === 0 ? 10_000 : 9_000,
                      routes: [
                        {
                          match: { service: { prefix: 'com.meshlet.soak.' } },
                          cluster: 'bolt',
                          idempotent: true,
                          num_retries: 3,
                        },
                      ],
                    },
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        cluster('web', ports.web, { lb_policy: version % 2 === 1 ? 'LEAST_REQUEST' : 'ROUND_ROBIN' }),
        cluster('grpc', grpcPorts, { lb_policy: 'ROUND_ROBIN', http2_protocol_options: {} }),
        cluster('bolt', ports.bolt, { lb_policy: 'ROUND_ROBIN' }),
      ],
    },
  };
}
