// Invariant: a resource gives the same model whichever way it arrives — Envoy JSON in
// snake_case, in camelCase, or encoded as protobuf (as a control plane sends it).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TYPE_URLS, encodeResource, formatIssue, translateResource } from '@meshlet/xds';

const camel = (k: string): string => k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
function camelDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelDeep);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k.startsWith('@') ? k : camel(k), camelDeep(x)]),
  );
}

const duration = fc.integer({ min: 0, max: 3_600_000 }).map((ms) => `${(ms / 1000).toFixed(3)}s`);
const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
const socketAddress = fc.record({
  address: fc.ipV4(),
  port_value: fc.integer({ min: 1, max: 65535 }),
});

const cluster = fc.record(
  {
    name,
    type: fc.constantFrom('STATIC', 'STRICT_DNS', 'EDS'),
    connect_timeout: duration,
    lb_policy: fc.constantFrom('ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV'),
    circuit_breakers: fc.record({
      thresholds: fc.array(
        fc.record(
          {
            priority: fc.constantFrom('DEFAULT', 'HIGH'),
            max_connections: fc.nat(100_000),
            max_pending_requests: fc.nat(100_000),
            max_requests: fc.nat(100_000),
            max_retries: fc.nat(100),
          },
          { requiredKeys: ['priority'] },
        ),
        { maxLength: 2 },
      ),
    }),
    outlier_detection: fc.record(
      {
        consecutive_5xx: fc.nat(100),
        interval: duration,
        base_ejection_time: duration,
        max_ejection_percent: fc.nat(100),
      },
      { requiredKeys: [] },
    ),
    load_assignment: fc.record({
      cluster_name: name,
      endpoints: fc.array(
        fc.record({
          priority: fc.constant(0),
          lb_endpoints: fc.array(
            fc.record({
              endpoint: fc.record({ address: fc.record({ socket_address: socketAddress }) }),
              load_balancing_weight: fc.integer({ min: 1, max: 100 }),
              health_status: fc.constantFrom('UNKNOWN', 'HEALTHY', 'DRAINING'),
            }),
            { maxLength: 4 },
          ),
        }),
        { maxLength: 2 },
      ),
    }),
  },
  { requiredKeys: ['name'] },
);

const headerMatcher = fc.record({
  name: name,
  string_match: fc.oneof(
    fc.record({ exact: fc.string({ maxLength: 10 }) }),
    fc.record({ prefix: fc.string({ maxLength: 10 }), ignore_case: fc.boolean() }),
    fc.record({ safe_regex: fc.record({ regex: fc.constantFrom('^a.*', '[0-9]+', 'x|y') }) }),
  ),
  invert_match: fc.boolean(),
});
const route = fc.record({
  match: fc.record(
    {
      prefix: fc.constantFrom('/', '/api', '/v1/x'),
      headers: fc.array(headerMatcher, { maxLength: 2 }),
      case_sensitive: fc.boolean(),
    },
    { requiredKeys: ['prefix'] },
  ),
  route: fc.record(
    {
      cluster: name,
      timeout: duration,
      prefix_rewrite: fc.constantFrom('/', '/v2'),
      retry_policy: fc.record(
        {
          retry_on: fc.constantFrom('5xx', 'reset,connect-failure'),
          num_retries: fc.nat(5),
          per_try_timeout: duration,
        },
        { requiredKeys: [] },
      ),
      hash_policy: fc.array(fc.record({ header: fc.record({ header_name: name }), terminal: fc.boolean() }), {
        maxLength: 2,
      }),
    },
    { requiredKeys: ['cluster'] },
  ),
});
const routeConfig = fc.record({
  name,
  virtual_hosts: fc.array(
    fc.record({
      name,
      domains: fc.array(fc.constantFrom('*', 'a.example.com', '*.b.com'), { minLength: 1, maxLength: 2 }),
      routes: fc.array(route, { maxLength: 4 }),
    }),
    { maxLength: 3 },
  ),
});

function sameModel(typeUrl: string, json: object): void {
  const snake = translateResource(json, typeUrl);
  expect(snake.ok ? [] : snake.errors.map(formatIssue)).toEqual([]);
  const camelCase = translateResource(camelDeep(json), typeUrl);
  const wire = translateResource(encodeResource(json, typeUrl));
  expect(camelCase).toEqual(snake);
  expect(wire).toEqual(snake);
}

describe('the same model from snake_case, camelCase and protobuf (property)', () => {
  it('clusters', () => {
    fc.assert(
      fc.property(cluster, (c) => {
        sameModel(TYPE_URLS.cluster, c);
      }),
      { numRuns: 300 },
    );
  });
  it('route configurations', () => {
    fc.assert(
      fc.property(routeConfig, (r) => {
        sameModel(TYPE_URLS.routeConfiguration, r);
      }),
      { numRuns: 300 },
    );
  });
});
