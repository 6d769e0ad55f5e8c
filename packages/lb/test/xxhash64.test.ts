import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, xxHash64 } from '@meshlet/lb';

// The sanity buffer of xxHash's own self-test (cli/xsum_sanity_check.c): byte i is the top byte
// of PRIME32 * PRIME64^i mod 2^64.
function sanityBuffer(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let gen = 2654435761n;
  for (let i = 0; i < size; i++) {
    out[i] = Number(gen >> 56n);
    gen = (gen * 11400714785074694797n) & 0xffffffffffffffffn;
  }
  return out;
}

/** A plain BigInt transcription of the XXH64 specification, to cross-check the fast one. */
function referenceXXH64(b: Uint8Array, seed: bigint): bigint {
  const M = 0xffffffffffffffffn;
  const P1 = 0x9e3779b185ebca87n;
  const P2 = 0xc2b2ae3d27d4eb4fn;
  const P3 = 0x165667b19e3779f9n;
  const P4 = 0x85ebca77c2b2ae63n;
  const P5 = 0x27d4eb2f165667c5n;
  const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M;
  const read = (i: number, n: number): bigint => {
    let v = 0n;
    for (let k = n - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[i + k] as number);
    return v;
  };
  const round = (acc: bigint, input: bigint): bigint => (rotl((acc + input * P2) & M, 31n) * P1) & M;
  const merge = (acc: bigint, val: bigint): bigint => ((acc ^ round(0n, val)) * P1 + P4) & M;
  let i = 0;
  let h: bigint;
  if (b.length >= 32) {
    let v1 = (seed + P1 + P2) & M;
    let v2 = (seed + P2) & M;
    let v3 = seed;
    let v4 = (seed - P1) & M;
    for (; i + 32 <= b.length; i += 32) {
      v1 = round(v1, read(i, 8));
      v2 = round(v2, read(i + 8, 8));
      v3 = round(v3, read(i + 16, 8));
      v4 = round(v4, read(i + 24, 8));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M;
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = (seed + P5) & M;
  }
  h = (h + BigInt(b.length)) & M;
  for (; i + 8 <= b.length; i += 8) h = (rotl(h ^ round(0n, read(i, 8)), 27n) * P1 + P4) & M;
  if (i + 4 <= b.length) {
    h = (rotl(h ^ ((read(i, 4) * P1) & M), 23n) * P2 + P3) & M;
    i += 4;
  }
  for (; i < b.length; i++) h = (rotl(h ^ ((BigInt(b[i] as number) * P5) & M), 11n) * P1) & M;
  h ^= h >> 33n;
  h = (h * P2) & M;
  h ^= h >> 29n;
  h = (h * P3) & M;
  return h ^ (h >> 32n);
}

describe('xxHash64', () => {
  const buffer = sanityBuffer(222);
  const PRIME32 = 2654435761;

  it('matches the published XXH64 sanity vectors of the xxHash repository', () => {
    const cases: [number, number, bigint][] = [
      [0, 0, 0xef46db3751d8e999n],
      [0, PRIME32, 0xac75fda2929b17efn],
      [1, 0, 0xe934a84adb052768n],
      [1, PRIME32, 0x5014607643a9b4c3n],
      [4, 0, 0x9136a0dca57457een],
      [14, 0, 0x8282dcc4994e35c8n],
      [14, PRIME32, 0xc3bd6bf63deb6df0n],
      [222, 0, 0xb641ae8cb691c174n],
      [222, PRIME32, 0x20cb8ab7ae10c14an],
    ];
    for (const [len, seed, expected] of cases) {
      expect(xxHash64(buffer.subarray(0, len), seed), `len ${len} seed ${seed}`).toBe(expected);
      expect(xxHash64(buffer.subarray(0, len), BigInt(seed))).toBe(expected);
    }
  });

  it('hashes strings as their UTF-8 bytes', () => {
    expect(xxHash64('')).toBe(0xef46db3751d8e999n);
    expect(xxHash64('héllo ✓')).toBe(xxHash64(new TextEncoder().encode('héllo ✓')));
    expect(xxHash64('x'.repeat(1000))).toBe(referenceXXH64(new TextEncoder().encode('x'.repeat(1000)), 0n));
  });

  it('agrees with Envoy: the ring positions of Envoy ring_hash_lb_test "Basic"', () => {
    // Envoy's test lists the 12 ring positions of hosts 127.0.0.1:90..95 (two per host).
    expect(
      xxHash64('127.0.0.1:94_0') === 833437586790550860n ||
        xxHash64('127.0.0.1:94_1') === 833437586790550860n,
    ).toBe(true);
    const positions = new Set<bigint>();
    for (let port = 90; port <= 95; port++)
      for (const i of [0, 1]) positions.add(xxHash64(`127.0.0.1:${port}_${i}`));
    for (const p of [
      833437586790550860n,
      3551244743356806947n,
      16117243373044804889n,
      5583722120771150861n,
    ]) {
      expect(positions.has(p)).toBe(true);
    }
  });

  it('equals a BigInt transcription of the specification for any bytes and seed', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (bytes, seed) => {
          expect(xxHash64(bytes, seed)).toBe(referenceXXH64(bytes, seed));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('rejects a seed that is not a uint64', () => {
    expect(() => xxHash64('a', -1)).toThrow(InvalidArgumentError);
    expect(() => xxHash64('a', 1n << 64n)).toThrow(InvalidArgumentError);
    expect(() => xxHash64('a', 0.5)).toThrow(InvalidArgumentError);
  });
});
