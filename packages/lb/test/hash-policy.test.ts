import { describe, expect, it } from 'vitest';
import { ConfigError, createLoadBalancer, createRequestHasher, xxHash64, type HashPolicy } from '@meshlet/lb';
import { hostsOf, seeded } from './helpers.ts';

const rotl1 = (h: bigint): bigint => ((h << 1n) | (h >> 63n)) & ((1n << 64n) - 1n);

describe('createRequestHasher', () => {
  it('header: xxHash64 of the value; several values hash the same in any order', () => {
    const hashOf = createRequestHasher([{ header: { headerName: 'X-User' } }]);
    expect(hashOf({ headers: { 'x-user': 'alice' } })).toBe(xxHash64('alice'));
    expect(hashOf({ headers: { 'x-user': ['b', 'a'] } })).toBe(hashOf({ headers: { 'x-user': ['a', 'b'] } }));
    // Envoy feeds the sorted values to one streaming XXH64: the hash of their concatenation.
    expect(hashOf({ headers: { 'x-user': ['b', 'a'] } })).toBe(xxHash64('ab'));
    expect(hashOf({ headers: {} })).toBeNull();
  });

  it('cookie: the named cookie, quotes removed', () => {
    const hashOf = createRequestHasher([{ cookie: { name: 'session' } }]);
    expect(hashOf({ headers: { cookie: 'a=1; session="s-42"; b=2' } })).toBe(xxHash64('s-42'));
    expect(hashOf({ headers: { cookie: 'sessionx=1' } })).toBeNull();
  });

  it('source IP and query parameter', () => {
    expect(
      createRequestHasher([{ connectionProperties: { sourceIp: true } }])({ sourceIp: '10.1.2.3' }),
    ).toBe(xxHash64('10.1.2.3'));
    const byQuery = createRequestHasher([{ queryParameter: { name: 'user' } }]);
    expect(byQuery({ path: '/cart?x=1&user=42#top' })).toBe(xxHash64('42'));
    expect(byQuery({ path: '/cart?user' })).toBe(xxHash64(''));
    expect(byQuery({ path: '/cart' })).toBeNull();
  });

  it('combines policies as Envoy (rotate then xor), and stops at a terminal one that hashed', () => {
    const policies: HashPolicy[] = [{ header: { headerName: 'a' } }, { header: { headerName: 'b' } }];
    const both = createRequestHasher(policies)({ headers: { a: '1', b: '2' } });
    expect(both).toBe(rotl1(xxHash64('1')) ^ xxHash64('2'));
    // Two identical rules do not cancel each other out.
    expect(
      createRequestHasher([policies[0] as HashPolicy, policies[0] as HashPolicy])({ headers: { a: '1' } }),
    ).not.toBe(0n);
    const terminal = createRequestHasher([
      { header: { headerName: 'a' }, terminal: true },
      { header: { headerName: 'b' } },
    ]);
    expect(terminal({ headers: { a: '1', b: '2' } })).toBe(xxHash64('1'));
    expect(terminal({ headers: { b: '2' } })).toBe(xxHash64('2'));
  });

  it('rejects malformed policies with a ConfigError', () => {
    expect(() => createRequestHasher([{} as HashPolicy])).toThrow(ConfigError);
    expect(() => createRequestHasher([{ header: { headerName: '' } }])).toThrow(ConfigError);
    expect(() => createRequestHasher([{ connectionProperties: { sourceIp: false } }])).toThrow(ConfigError);
  });

  it('sticky sessions end to end: same cookie, same Maglev host; requests without one spread out', () => {
    const lb = createLoadBalancer('MAGLEV', hostsOf(10), { random: seeded(1) });
    const hashOf = createRequestHasher([{ cookie: { name: 'sid' } }]);
    for (let user = 0; user < 50; user++) {
      const request = { headers: { cookie: `sid=user-${user}` } };
      const first = lb.pick({ hash: hashOf(request) });
      for (let i = 0; i < 5; i++) expect(lb.pick({ hash: hashOf(request) })).toBe(first);
    }
    // No hash input: a random hash per request (MOSN hashes these to 0 and sends them all to one host).
    const seen = new Set(Array.from({ length: 200 }, () => lb.pick({ hash: hashOf({ headers: {} }) })?.key));
    expect(seen.size).toBe(10);
  });
});
