import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCidr, parseIp } from '../../src/filters/index.js';

function v4Text(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function v6Text(groups: readonly number[]): string {
  return groups.map((g) => g.toString(16)).join(':');
}

/** The reference: an address as a BigInt, the range as a shift compare. */
function bigOf(groups: readonly number[]): bigint {
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

const v4 = fc.integer({ min: 0, max: 2 ** 32 - 1 });

/** Keeps the first `keep` of `width` bits of `prefix` and takes the rest from `noise`: addresses near the range edge. */
function near(prefix: bigint, noise: bigint, keep: number, width: number): bigint {
  const low = (1n << BigInt(width - keep)) - 1n;
  return (prefix & ~low & ((1n << BigInt(width)) - 1n)) | (noise & low);
}

function groupsOf(n: bigint): number[] {
  const out: number[] = [];
  for (let i = 7; i >= 0; i--) out.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  return out;
}
/** An IPv4 range and an address near its edge, the range compiled. */
const v4Case = fc
  .tuple(v4, v4, fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 32 }))
  .map(([noise, prefix, len, keep]) => {
    const range = compileCidr(v4Text(prefix), len);
    if (typeof range === 'string') throw new Error(range);
    return { prefix, len, range, address: Number(near(BigInt(prefix), BigInt(noise), keep, 32)) };
  });

const group = fc.integer({ min: 0, max: 0xffff });
const v6 = fc
  .array(group, { minLength: 8, maxLength: 8 })
  .filter((g) => !(g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff));

describe('CIDR matching', () => {
  it('IPv4: agrees with a shift compare and with node:net BlockList', () => {
    fc.assert(
      fc.property(v4Case, ({ prefix, len, range, address }) => {
        const shift = BigInt(32 - len);
        const expected = BigInt(address) >> shift === BigInt(prefix) >> shift;
        const list = new BlockList();
        list.addSubnet(v4Text(prefix), len, 'ipv4');
        expect(range.containsAddress(v4Text(address))).toBe(expected);
        expect(list.check(v4Text(address), 'ipv4')).toBe(expected);
      }),
    );
  });

  it('IPv6: agrees with a BigInt shift compare and with node:net BlockList', () => {
    fc.assert(
      fc.property(
        v6,
        v6,
        fc.integer({ min: 0, max: 128 }),
        fc.integer({ min: 0, max: 128 }),
        (noise, prefix, len, keep) => {
          const address = groupsOf(near(bigOf(prefix), bigOf(noise), keep, 128));
          if (address.slice(0, 5).every((x) => x === 0) && address[5] === 0xffff) return;
          const range = compileCidr(v6Text(prefix), len);
          if (typeof range === 'string') throw new Error(range);
          const shift = BigInt(128 - len);
          const expected = bigOf(address) >> shift === bigOf(prefix) >> shift;
          expect(range.containsAddress(v6Text(address))).toBe(expected);
          const list = new BlockList();
          list.addSubnet(v6Text(prefix), len, 'ipv6');
          expect(list.check(v6Text(address), 'ipv6')).toBe(expected);
        },
      ),
    );
  });

  it('an address always lies in its own range at every length, and /0 holds its whole family', () => {
    fc.assert(
      fc.property(v6, fc.integer({ min: 0, max: 128 }), (address, len) => {
        const text = v6Text(address);
        const own = compileCidr(text, len);
        const all = compileCidr('::', 0);
        if (typeof own === 'string' || typeof all === 'string') throw new Error('compile');
        expect(own.containsAddress(text)).toBe(true);
        expect(all.containsAddress(text)).toBe(true);
        expect(all.containsAddress('10.0.0.1')).toBe(false);
      }),
    );
  });

  it('IPv4-mapped IPv6 peers match IPv4 ranges (dual-stack servers report them)', () => {
    fc.assert(
      fc.property(v4Case, ({ range, address }) => {
        const plain = range.containsAddress(v4Text(address));
        expect(range.containsAddress(`::ffff:${v4Text(address)}`)).toBe(plain);
        const hex = `::ffff:${(address >>> 16).toString(16)}:${(address & 0xffff).toString(16)}`;
        expect(range.containsAddress(hex)).toBe(plain);
      }),
    );
    const loopback = compileCidr('127.0.0.0', 8);
    if (typeof loopback === 'string') throw new Error(loopback);
    expect(loopback.containsAddress('::ffff:127.0.0.1')).toBe(true);
    expect(loopback.containsAddress('::1')).toBe(false);
    // A mapped prefix is an IPv4 range, its length less 96.
    const mapped = compileCidr('::ffff:10.0.0.0', 104);
    if (typeof mapped === 'string') throw new Error(mapped);
    expect(mapped.prefixLen).toBe(8);
    expect(mapped.containsAddress('10.9.9.9')).toBe(true);
  });

  it('parses the IPv6 forms Node reports and rejects what is not an address', () => {
    expect(parseIp('::1')).toMatchObject({ family: 6, w0: 0, w1: 0, w2: 0, w3: 1 });
    expect(parseIp('fe80::1%eth0')).toMatchObject({ family: 6, w0: 0xfe800000, w3: 1 });
    expect(parseIp('2001:db8::8a2e:370:7334')).toMatchObject({
      w0: 0x20010db8,
      w1: 0,
      w2: 0x8a2e,
      w3: 0x03707334,
    });
    expect(parseIp('64:ff9b::192.0.2.33')).toMatchObject({ family: 6, w0: 0x0064ff9b, w3: 0xc0000221 });
    for (const bad of [
      '',
      'localhost',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '1::2::3',
      '12345::',
      'unix:/tmp/s',
    ]) {
      expect(parseIp(bad), bad).toBeNull();
    }
  });

  it('rejects bad ranges with the reason', () => {
    expect(compileCidr('10.0.0.0', 33)).toMatch(/prefix length 33/);
    expect(compileCidr('::', 129)).toMatch(/prefix length 129/);
    expect(compileCidr('nope', 8)).toMatch(/not an IP address/);
    expect(compileCidr('::ffff:10.0.0.0', 64)).toMatch(/prefix length 64/);
  });

  it('ignores address bits past the prefix, as Envoy', () => {
    const r = compileCidr('192.168.77.99', 16);
    if (typeof r === 'string') throw new Error(r);
    expect(r.containsAddress('192.168.0.1')).toBe(true);
    expect(r.containsAddress('192.169.0.1')).toBe(false);
  });
});
