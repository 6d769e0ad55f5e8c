// Hostile resources: what a broken or malicious control plane (or file) can send. Each must end
// in a clear error or a bounded amount of work, never a crash, a hang or unbounded memory.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TYPE_URLS,
  compileRegex,
  encodeResource,
  formatIssue,
  parseBootstrap,
  translate,
  translateResource,
} from '@meshlet/xds';

const errorsOf = (out: ReturnType<typeof translateResource>): string[] =>
  out.ok ? [] : out.errors.map(formatIssue);

describe('hostile resources', () => {
  it('translates huge counts in one pass (20,000 routes, 5,000 clusters)', () => {
    const routes = Array.from({ length: 20_000 }, (_, i) => ({
      match: { prefix: `/r${i}` },
      route: { cluster: `c${i % 5000}` },
    }));
    const rc = translateResource({
      '@type': TYPE_URLS.routeConfiguration,
      name: 'big',
      virtual_hosts: [{ name: 'v', domains: ['*'], routes }],
    });
    expect(
      rc.ok && rc.resource.kind === 'route_config' ? rc.resource.value.virtualHosts[0]?.routes.length : 0,
    ).toBe(20_000);
    const clusters = Array.from({ length: 5000 }, (_, i) => ({
      name: `c${i}`,
      type: 'EDS',
      eds_cluster_config: { eds_config: { ads: {} } },
    }));
    expect(translate({ clusters }).clusters).toHaveLength(5000);
  });

  it('rejects a resource larger than the node budget, with a clear error', () => {
    const endpoints = [
      {
        lb_endpoints: Array.from({ length: 5000 }, (_, i) => ({
          endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: 1000 + i } } },
        })),
      },
    ];
    const out = translateResource(
      { '@type': TYPE_URLS.clusterLoadAssignment, cluster_name: 'c', endpoints },
      undefined,
      { limits: { maxNodes: 10_000 } },
    );
    expect(errorsOf(out)).toEqual([
      expect.stringMatching(/^cluster_load_assignment "c": resource too large: more than 10000 values/),
    ]);
  });

  it('rejects nesting deeper than the limit, from JSON and from the wire, without overflowing the stack', () => {
    let permission: Record<string, unknown> = { any: true };
    for (let i = 0; i < 100_000; i++) permission = { not_rule: permission };
    const rbac = {
      '@type': TYPE_URLS.rbac,
      rules: {
        action: 'DENY',
        policies: { deep: { permissions: [permission], principals: [{ any: true }] } },
      },
    };
    const listener = (typedConfig: unknown): unknown => ({
      '@type': TYPE_URLS.listener,
      name: 'l',
      address: { socket_address: { address: '::', port_value: 80 } },
      filter_chains: [
        {
          filters: [
            {
              name: 'hcm',
              typed_config: {
                '@type': TYPE_URLS.httpConnectionManager,
                stat_prefix: 's',
                rds: { route_config_name: 'r' },
                http_filters: [{ name: 'rbac', typed_config: typedConfig }],
              },
            },
          ],
        },
      ],
    });
    expect(errorsOf(translateResource(listener(rbac)))).toEqual([
      expect.stringMatching(
        /^listener "l" › filter_chains\[0\] › .* › permissions\[0\] › not_rule(\.not_rule)+: nesting deeper than 64 levels$/,
      ),
    ]);

    // The same depth on the wire: a hand-made protobuf of 100,000 nested not_rule fields.
    const bytes = nested(100_000, Buffer.from([0x42]), Buffer.from([0x18, 0x01])); // not_rule (8) … { any: true (3) }
    const wire = translateResource({
      typeUrl: 'type.googleapis.com/envoy.config.rbac.v3.Permission',
      value: bytes,
    });
    expect(wire.ok).toBe(false); // not a resource type: refused before decoding
    const ld = (tag: number, body: Buffer): Buffer =>
      Buffer.concat([Buffer.from([tag]), varint(body.length), body]);
    const policy = ld(0x0a, bytes); // Policy.permissions (1)
    const entry = Buffer.concat([ld(0x0a, Buffer.from('deep')), ld(0x12, policy)]); // map entry: key 1, value 2
    const rbacBytes = ld(0x0a, ld(0x12, entry)); // http RBAC.rules (1) { config RBAC.policies (2) }
    const out = translateResource({
      typeUrl: TYPE_URLS.listener,
      value: listenerWithFilter(TYPE_URLS.rbac, rbacBytes),
    });
    expect(errorsOf(out)).toEqual([
      'listener "l" › filter_chains[0] › filters[0] › typed_config.http_filters[0] › typed_config: malformed RBAC: nested too deeply to decode',
    ]);
  });

  it('matches regexes that would backtrack catastrophically in linear time (RE2 semantics)', () => {
    const evil = compileRegex('^(a+)+$');
    if (typeof evil === 'string') throw new Error(evil);
    const input = `${'a'.repeat(100_000)}!`;
    expect(evil.matches(input)).toBe(false); // a backtracking engine would never return
    expect(compileRegex('(a)\\1')).toMatch(/invalid RE2 regex/);
    expect(compileRegex('(?=a)')).toMatch(/invalid RE2 regex/);
    expect(compileRegex('a{1000}{1000}')).toMatch(/invalid RE2 regex|program size/);
    expect(compileRegex('x'.repeat(5000))).toBe('regex longer than 4096 characters');
    const out = translateResource({
      '@type': TYPE_URLS.routeConfiguration,
      name: 'r',
      virtual_hosts: [
        {
          name: 'v',
          domains: ['*'],
          routes: [{ match: { safe_regex: { regex: '(?<=x)y' } }, route: { cluster: 'c' } }],
        },
      ],
    });
    expect(errorsOf(out)).toEqual([
      expect.stringMatching(
        /^route_config "r" › virtual_hosts\[0\] › routes\[0\] › match\.safe_regex\.regex: invalid RE2 regex/,
      ),
    ]);
  });

  it('rejects invalid UTF-8 on the wire and lone surrogates in JSON', () => {
    const good = encodeResource({ name: 'caf\u00e9', type: 'STATIC' }, TYPE_URLS.cluster);
    const bytes = Buffer.from(good.value);
    const at = bytes.indexOf(Buffer.from('caf\u00e9'));
    bytes[at + 3] = 0xff; // a byte that starts no UTF-8 sequence
    bytes[at + 4] = 0xfe;
    expect(errorsOf(translateResource({ typeUrl: TYPE_URLS.cluster, value: bytes }))).toEqual([
      'cluster (undecodable): invalid UTF-8 in a string field of Cluster',
    ]);
    expect(
      errorsOf(translateResource({ '@type': TYPE_URLS.cluster, name: 'x', alt_stat_name: 'a\ud800b' })),
    ).toEqual(['cluster "x" › alt_stat_name: string is not well-formed Unicode']);
  });

  it('never throws on random bytes, whatever the resource type (property)', () => {
    const urls = [
      TYPE_URLS.listener,
      TYPE_URLS.routeConfiguration,
      TYPE_URLS.cluster,
      TYPE_URLS.clusterLoadAssignment,
    ];
    fc.assert(
      fc.property(fc.constantFrom(...urls), fc.uint8Array({ maxLength: 512 }), (typeUrl, value) => {
        const out = translateResource({ typeUrl, value });
        expect(typeof out.ok).toBe('boolean');
        if (!out.ok) for (const e of out.errors) expect(e.message.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on random JSON, whatever the resource type (property)', () => {
    const urls = [
      TYPE_URLS.listener,
      TYPE_URLS.routeConfiguration,
      TYPE_URLS.cluster,
      TYPE_URLS.clusterLoadAssignment,
    ];
    fc.assert(
      fc.property(fc.constantFrom(...urls), fc.jsonValue({ maxDepth: 6 }), (url, body) => {
        const input =
          body !== null && typeof body === 'object' && !Array.isArray(body)
            ? { ...body, '@type': url }
            : body;
        expect(typeof translateResource(input).ok).toBe('boolean');
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses YAML alias bombs in bootstrap files', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      ...Array.from(
        { length: 12 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(', ')}]`,
      ),
    ].join('\n');
    expect(() => parseBootstrap(bomb)).toThrow(/not valid YAML or JSON/);
  });
});

/** `depth` levels of `tag` (a length-delimited field) around `core`, written in one buffer. */
function nested(depth: number, tag: Buffer, core: Buffer): Buffer {
  const sizes = [core.length];
  for (let i = 0; i < depth; i++) {
    const inner = sizes[i] ?? 0;
    sizes.push(tag.length + varint(inner).length + inner);
  }
  const out = Buffer.alloc(sizes[depth] ?? 0);
  let at = 0;
  for (let level = depth; level > 0; level--) {
    at += tag.copy(out, at);
    at += varint(sizes[level - 1] ?? 0).copy(out, at);
  }
  core.copy(out, at);
  return out;
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** A Listener with one HCM whose first HTTP filter is an Any of `url` holding `value`, then the router, encoded by hand. */
function listenerWithFilter(url: string, value: Buffer): Buffer {
  const field = (tag: number, body: Buffer): Buffer =>
    Buffer.concat([Buffer.from([tag]), varint(body.length), body]);
  const any = (u: string, v: Buffer): Buffer => Buffer.concat([field(0x0a, Buffer.from(u)), field(0x12, v)]);
  const httpFilter = (name: string, a: Buffer): Buffer =>
    Buffer.concat([field(0x0a, Buffer.from(name)), field(0x22, a)]); // name 1, typed_config 4
  const hcm = Buffer.concat([
    field(0x12, Buffer.from('s')), // stat_prefix 2
    field(0x2a, httpFilter('rbac', any(url, value))), // http_filters 5
    field(0x2a, httpFilter('router', any(TYPE_URLS.router, Buffer.alloc(0)))),
  ]);
  const filter = Buffer.concat([
    field(0x0a, Buffer.from('hcm')),
    field(0x22, any(TYPE_URLS.httpConnectionManager, hcm)),
  ]); // name 1, typed_config 4
  return Buffer.concat([field(0x0a, Buffer.from('l')), field(0x1a, field(0x1a, filter))]); // name 1, filter_chains 3 { filters 3 }
}
