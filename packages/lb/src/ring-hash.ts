import type { Host } from './host.js';
import { hashHi, hashLo, xxHash64Parts } from './xxhash64.js';

/**
 * A Ketama ring built as Envoy's (ring_hash_lb.cc): the ring is scaled so that the
 * least-weighted host gets a whole number of entries, at least `minimumRingSize * its share`,
 * at most `maximumRingSize` entries in all; host i contributes `xxHash64("<hashKey>_<n>")` for
 * n = 0, 1, ... while a running total stays below its weighted target; entries are sorted by
 * hash. A request goes to the first entry at or after its hash, wrapping to the first; a retry
 * selection moves `attempt` entries further along the ring.
 *
 * Hashes are kept as two Uint32Arrays (high and low halves) so a lookup compares numbers, not
 * bigints.
 * @internal
 */
export class RingHashTable {
  readonly hosts: readonly Host[];
  private readonly hi: Uint32Array;
  private readonly lo: Uint32Array;
  private readonly owner: Int32Array;
  /** Entries each host got (Envoy's min/max_hashes_per_host stats come from these). */
  readonly hashesPerHost: Int32Array;

  /** Entries per host, in `hosts` order. */
  get perHost(): Int32Array {
    return this.hashesPerHost;
  }

  /** Bytes of the ring's typed arrays (12 per entry). */
  get bytes(): number {
    return this.hi.byteLength + this.lo.byteLength + this.owner.byteLength + this.hashesPerHost.byteLength;
  }

  /** `normalized`: each host's share (Envoy's normalized weights, locality-weighted); default weight / sum. */
  constructor(
    hosts: readonly Host[],
    minimumRingSize: number,
    maximumRingSize: number,
    normalized?: ReadonlyMap<Host, number>,
  ) {
    this.hosts = hosts;
    const n = hosts.length;
    this.hashesPerHost = new Int32Array(n);
    if (n === 0) {
      this.hi = new Uint32Array(0);
      this.lo = new Uint32Array(0);
      this.owner = new Int32Array(0);
      return;
    }
    let sum = 0;
    for (const host of hosts) sum += host.weight;
    let minWeight = 1;
    const share = (host: Host): number => (normalized ? (normalized.get(host) ?? 0) : host.weight / sum);
    for (const host of hosts) minWeight = Math.min(minWeight, share(host));
    const scale = Math.min(Math.ceil(minWeight * minimumRingSize) / minWeight, maximumRingSize);
    const capacity = Math.ceil(scale) + n;
    const hi = new Uint32Array(capacity);
    const lo = new Uint32Array(capacity);
    const owner = new Int32Array(capacity);
    let count = 0;
    let current = 0;
    let target = 0;
    for (let h = 0; h < n; h++) {
      const host = hosts[h] as Host;
      target += scale * share(host);
      const prefix = `${host.hashKey}_`;
      let i = 0;
      while (current < target) {
        xxHash64Parts(prefix + String(i), 0);
        hi[count] = hashHi();
        lo[count] = hashLo();
        owner[count] = h;
        count++;
        i++;
        current++;
      }
      this.hashesPerHost[h] = i;
    }
    const order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    order.sort((a, b) => (hi[a] as number) - (hi[b] as number) || (lo[a] as number) - (lo[b] as number));
    this.hi = new Uint32Array(count);
    this.lo = new Uint32Array(count);
    this.owner = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const from = order[i] as number;
      this.hi[i] = hi[from] as number;
      this.lo[i] = lo[from] as number;
      this.owner[i] = owner[from] as number;
    }
  }

  /** Entries on the ring. */
  get size(): number {
    return this.owner.length;
  }

  /** The host for the hash (hi, lo); selection `attempt` > 0 moves that many entries on. */
  choose(hi: number, lo: number, attempt: number): Host | null {
    const size = this.owner.length;
    if (size === 0) return null;
    // First entry whose hash is >= the request's; past the last one, wrap to entry 0.
    let a = 0;
    let b = size;
    const rh = this.hi;
    const rl = this.lo;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const mh = rh[mid] as number;
      if (mh < hi || (mh === hi && (rl[mid] as number) < lo)) a = mid + 1;
      else b = mid;
    }
    let index = a === size ? 0 : a;
    if (attempt > 0) index = (index + attempt) % size;
    return this.hosts[this.owner[index] as number] as Host;
  }
}
