import type { HostInput } from '@meshlet/lb';

/** A seeded uniform generator in [0, 1) (mulberry32), for deterministic balancers and workloads. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random uint64 as a bigint, from a seeded generator. */
export function randomHash(random: () => number): bigint {
  return (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
}

/** `n` hosts 10.0.<i>.1:8080. */
export function hostsOf(n: number, extra: (i: number) => Partial<HostInput> = () => ({})): HostInput[] {
  return Array.from({ length: n }, (_, i) => ({
    address: `10.0.${i >> 8}.${(i & 255) + 1}`,
    port: 8080,
    ...extra(i),
  }));
}
