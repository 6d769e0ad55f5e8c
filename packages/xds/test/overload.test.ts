import { describe, expect, it } from 'vitest';
import { XdsTranslationError, formatIssue, parseBootstrap } from '@meshlet/xds';

const BASE = `
node: { id: n, cluster: c }
static_resources: { listeners: [], clusters: [] }
`;

function errorsOf(yaml: string): string[] {
  try {
    parseBootstrap(BASE + yaml);
  } catch (err) {
    if (err instanceof XdsTranslationError) return err.issues.map(formatIssue);
    throw err;
  }
  return [];
}

describe('overload_manager', () => {
  it('translates resource monitors, triggers and actions with Envoy names', () => {
    const { bootstrap, warnings } = parseBootstrap(`${BASE}
overload_manager:
  refresh_interval: 0.25s
  resource_monitors:
    - name: envoy.resource_monitors.fixed_heap
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig
        max_heap_size_bytes: 2147483648
    - name: envoy.resource_monitors.global_downstream_max_connections
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
        max_active_downstream_connections: 1000
    - name: meshlet.resource_monitors.event_loop_delay
      typed_config:
        "@type": type.googleapis.com/xds.type.v3.TypedStruct
        type_url: meshlet.resource_monitors.v1.EventLoopDelay
        value: { max_delay: 0.2s, percentile: 90 }
  actions:
    - name: envoy.overload_actions.stop_accepting_requests
      triggers:
        - name: envoy.resource_monitors.fixed_heap
          threshold: { value: 0.95 }
        - name: meshlet.resource_monitors.event_loop_delay
          threshold: { value: 1 }
    - name: envoy.overload_actions.disable_http_keepalive
      triggers:
        - name: envoy.resource_monitors.fixed_heap
          scaled: { scaling_threshold: 0.8, saturation_threshold: 0.95 }
    - name: envoy.overload_actions.reject_incoming_connections
      triggers:
        - name: envoy.resource_monitors.global_downstream_max_connections
          threshold: { value: 0.9 }
    - name: envoy.overload_actions.shrink_heap
      triggers:
        - name: envoy.resource_monitors.fixed_heap
          threshold: { value: 0.9 }
`);
    expect(bootstrap.overloadManager).toEqual({
      refreshIntervalMs: 250,
      resourceMonitors: [
        { name: 'envoy.resource_monitors.fixed_heap', kind: 'fixed_heap', maxHeapSizeBytes: 2147483648 },
        {
          name: 'envoy.resource_monitors.global_downstream_max_connections',
          kind: 'global_downstream_max_connections',
          maxActiveDownstreamConnections: 1000,
        },
        {
          name: 'meshlet.resource_monitors.event_loop_delay',
          kind: 'event_loop_delay',
          maxDelayMs: 200,
          percentile: 90,
        },
      ],
      actions: [
        {
          name: 'envoy.overload_actions.stop_accepting_requests',
          kind: 'stop_accepting_requests',
          triggers: [
            { name: 'envoy.resource_monitors.fixed_heap', threshold: { value: 0.95 } },
            { name: 'meshlet.resource_monitors.event_loop_delay', threshold: { value: 1 } },
          ],
        },
        {
          name: 'envoy.overload_actions.disable_http_keepalive',
          kind: 'disable_http_keepalive',
          triggers: [
            {
              name: 'envoy.resource_monitors.fixed_heap',
              scaled: { scalingThreshold: 0.8, saturationThreshold: 0.95 },
            },
          ],
        },
        {
          name: 'envoy.overload_actions.reject_incoming_connections',
          kind: 'reject_incoming_connections',
          triggers: [
            { name: 'envoy.resource_monitors.global_downstream_max_connections', threshold: { value: 0.9 } },
          ],
        },
      ],
    });
    expect(warnings.map(formatIssue)).toEqual([
      expect.stringContaining('"envoy.overload_actions.shrink_heap" has no meaning in a Node.js process'),
    ]);
  });

  it('defaults the refresh interval to Envoy’s 1 s and the event-loop percentile to 99', () => {
    const { bootstrap } = parseBootstrap(`${BASE}
overloadManager:
  resourceMonitors:
    - name: loop
      typedConfig:
        "@type": type.googleapis.com/xds.type.v3.TypedStruct
        typeUrl: meshlet.resource_monitors.v1.EventLoopDelay
        value: { maxDelay: { seconds: 1, nanos: 500000000 } }
`);
    expect(bootstrap.overloadManager).toEqual({
      refreshIntervalMs: 1000,
      resourceMonitors: [{ name: 'loop', kind: 'event_loop_delay', maxDelayMs: 1500, percentile: 99 }],
      actions: [],
    });
  });

  it('rejects what meshlet would not apply, naming the field', () => {
    const heap = `
    - name: heap
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig
        max_heap_size_bytes: 100`;
    expect(
      errorsOf(`
overload_manager:
  resource_monitors:${heap}${heap}
    - name: cgroup
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.resource_monitors.cgroup_memory.v3.CgroupMemoryConfig
  actions:
    - name: envoy.overload_actions.reduce_timeouts
      triggers: [{ name: heap, threshold: { value: 0.9 } }]
    - name: envoy.overload_actions.stop_accepting_requests
      triggers:
        - { name: nope, threshold: { value: 0.9 } }
        - { name: heap, threshold: { value: 1.5 } }
    - name: envoy.overload_actions.disable_http_keepalive
      triggers:
        - { name: heap, scaled: { scaling_threshold: 0.9, saturation_threshold: 0.5 } }
    - name: envoy.overload_actions.reject_incoming_connections
      triggers: []
  loadshed_points:
    - name: envoy.load_shed_points.tcp_listener_accept
      triggers: [{ name: heap, threshold: { value: 0.9 } }]
`),
    ).toEqual([
      expect.stringContaining('overload_manager.loadshed_points: load shed points are not supported'),
      expect.stringContaining('resource_monitors[1]: resource monitor "heap" is configured twice'),
      expect.stringContaining('resource_monitors[2] › typed_config: resource monitor "cgroup" has a type'),
      expect.stringContaining(
        'actions[0] › name: overload action "envoy.overload_actions.reduce_timeouts" is not supported',
      ),
      expect.stringContaining('actions[1] › triggers[0] › name: unknown resource monitor "nope"'),
      expect.stringContaining('actions[1] › triggers[1] › threshold.value: 1.5 is not in [0, 1]'),
      expect.stringContaining('actions[2] › triggers[0] › scaled: scaling_threshold must be below'),
      expect.stringContaining('actions[3] › triggers: an overload action needs a trigger'),
    ]);
    expect(
      errorsOf(`
overload_manager:
  resource_monitors:
    - name: loop
      typed_config:
        "@type": type.googleapis.com/xds.type.v3.TypedStruct
        type_url: meshlet.resource_monitors.v1.EventLoopDelay
        value: { max_delay: 200, window: 3 }
`),
    ).toEqual([
      expect.stringContaining('typed_config.value.window: not supported by meshlet'),
      expect.stringContaining('typed_config.value.max_delay: max_delay must be a duration above 0'),
    ]);
    expect(
      errorsOf(`
overload_manager:
  resource_monitors: []
`),
    ).toEqual([expect.stringContaining('needs at least one resource monitor')]);
  });
});
