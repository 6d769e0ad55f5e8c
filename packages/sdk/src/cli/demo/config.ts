// The embedded config of `meshlet demo`: a plain Envoy v3 bootstrap in YAML. $GATEWAY_PORT,
// $ADMIN_PORT, $V1A_PORT, $V1B_PORT and $V2_PORT are filled in once the demo services listen.

/** The demo's Envoy bootstrap, with `$NAME` placeholders for its ports. */
export const DEMO_CONFIG_TEMPLATE = `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: $ADMIN_PORT } }
static_resources:
  listeners:
    - name: gateway
      address: { socket_address: { address: 127.0.0.1, port_value: $GATEWAY_PORT } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: gateway
                route_config:
                  name: demo
                  virtual_hosts:
                    - name: demo
                      domains: ['*']
                      routes:
                        # The welcome page needs no API key.
                        - match: { path: / }
                          direct_response:
                            status: 200
                            body: { inline_string: "meshlet demo gateway: try /api/catalog\\n" }
                          typed_per_filter_config:
                            demo.api_key:
                              '@type': type.googleapis.com/envoy.config.route.v3.FilterConfig
                              disabled: true
                        # Canary: requests with x-env: canary go to the v2 subset.
                        - match:
                            prefix: /api/
                            headers: [{ name: x-env, string_match: { exact: canary } }]
                          route:
                            cluster: catalog
                            metadata_match: { filter_metadata: { envoy.lb: { version: v2 } } }
                        # Everyone else: v1, retried on a 5xx on another host.
                        - match: { prefix: /api/ }
                          route:
                            cluster: catalog
                            timeout: 2s
                            metadata_match: { filter_metadata: { envoy.lb: { version: v1 } } }
                            retry_policy:
                              retry_on: 5xx,reset,connect-failure
                              num_retries: 2
                              retry_host_predicate: [{ name: envoy.retry_host_predicates.previous_hosts }]
                http_filters:
                  # A user filter written in TypeScript (demo.ts), configured like any Envoy filter.
                  - name: demo.api_key
                    typed_config:
                      '@type': type.googleapis.com/xds.type.v3.TypedStruct
                      type_url: type.googleapis.com/demo.api_key
                      value: { header: x-api-key, keys: [demo-key] }
                  - name: envoy.filters.http.local_ratelimit
                    typed_config:
                      '@type': type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                      stat_prefix: gateway_rl
                      token_bucket: { max_tokens: 10, tokens_per_fill: 10, fill_interval: 1s }
                      filter_enabled: { default_value: { numerator: 100, denominator: HUNDRED } }
                      filter_enforced: { default_value: { numerator: 100, denominator: HUNDRED } }
                      enable_x_ratelimit_headers: DRAFT_VERSION_03
                  # Names the worker process that served the request (a filter the CLI registers).
                  - name: meshlet.served_by
                    typed_config:
                      '@type': type.googleapis.com/xds.type.v3.TypedStruct
                      type_url: type.googleapis.com/meshlet.served_by
                      value: { header: x-served-by }
                  - name: envoy.filters.http.router
                    typed_config:
                      '@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: catalog
      connect_timeout: 1s
      lb_policy: ROUND_ROBIN
      lb_subset_config:
        fallback_policy: DEFAULT_SUBSET
        default_subset: { version: v1 }
        subset_selectors: [{ keys: [version] }]
      circuit_breakers:
        thresholds: [{ max_pending_requests: 64, max_requests: 256, max_retries: 8 }]
      outlier_detection: { consecutive_5xx: 5, interval: 5s, base_ejection_time: 10s }
      load_assignment:
        cluster_name: catalog
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $V1A_PORT } } }
                metadata: { filter_metadata: { envoy.lb: { version: v1 } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $V1B_PORT } } }
                metadata: { filter_metadata: { envoy.lb: { version: v1 } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $V2_PORT } } }
                metadata: { filter_metadata: { envoy.lb: { version: v2 } } }
`;
