import type { Host } from './host.js';
import { hashHi, hashLo, xxHash64Parts } from './xxhash64.js';

const TWO32 = 4294967296;

/**
 * x mod m for integers 0 <= x < 2^53, 0 < m < 2^26. `%` on numbers beyond int32 compiles to a
 * call to fmod (tens of ns); a float division and a floor, corrected by one step, are exact here
 * and several times faster.
 */
export function modFloor(x: number, m: number): number {
  const r = x - Math.floor(x / m) * m;
  return r < 0 ? r + m : r >= m ? r - m : r;
}

/** (hi * 2^32 + lo) mod m, exactly, for m < 2^26 (intermediates stay below 2^53); `t` is 2^32 mod m. */
export function mod64(hi: number, lo: number, m: number, t: number = TWO32 % m): number {
  return modFloor(modFloor(hi, m) * t + lo, m);
}

/**
 * A Maglev lookup table built exactly as Envoy's (maglev_lb.cc, "original" table): hosts sorted
 * by hash key (bytewise), `offset = xxHash64(key, 0) % M`, `skip = xxHash64(key, 1) % (M - 1) + 1`,
 * and the weighted fill of the Maglev paper's listing 1: on each pass a host claims its next
 * free preferred slot only when `pass * weight >= target`, `target` growing by the largest
 * normalized weight per claim. So the same hosts and weights give Envoy's table, slot for slot.
 *
 *   slot:   0    1    2    3    4    5    6        (M = 7, hosts :90..:95, Envoy's own test)
 *   host:  :92  :94  :90  :91  :95  :90  :93
 *
 * A request lands on `table[hash % M]`; a retry selection XORs the hash with `2^64 - attempt`.
 * @internal
 */
export class MaglevTable {
  /** The hosts, sorted by hash key; the table holds indexes into it. */
  readonly hosts: readonly Host[];
  readonly size: number;
  private readonly table: Int32Array;
  /** 2^32 mod size. */
  private readonly t32: number;
  /** Slots each host owns, in `hosts` order (Envoy's min/max_entries_per_host come from these). */
  readonly perHost: Int32Array;

  /** `normalized`: each host's share (Envoy's normalized weights, locality-weighted); default weight / sum. */
  constructor(hosts: readonly Host[], size: number, normalized?: ReadonlyMap<Host, number>) {
    this.size = size;
    this.t32 = TWO32 % size;
    this.table = new Int32Array(size).fill(-1);
    const sorted = sortByHashKey(hosts);
    this.hosts = sorted;
    const n = sorted.length;
    this.perHost = new Int32Array(n);
    if (n === 0) return;

    let sum = 0;
    for (const host of sorted) sum += host.weight;
    const weight = new Float64Array(n);
    const target = new Float64Array(n);
    // Slots fit in int32 (M <= 5,000,011): integer arithmetic in the probe loop.
    const position = new Int32Array(n);
    const skip = new Int32Array(n);
    let maxWeight = 0;
    for (let i = 0; i < n; i++) {
      const host = sorted[i] as Host;
      weight[i] = normalized ? (normalized.get(host) ?? 0) : host.weight / sum;
      if ((weight[i] as number) > maxWeight) maxWeight = weight[i] as number;
      xxHash64Parts(host.hashKey, 0);
      position[i] = mod64(hashHi(), hashLo(), size);
      xxHash64Parts(host.hashKey, 1);
      skip[i] = mod64(hashHi(), hashLo(), size - 1) + 1;
    }

    const table = this.table;
    let filled = 0;
    for (let pass = 1; filled < size; pass++) {
      for (let i = 0; i < n && filled < size; i++) {
        if (pass * (weight[i] as number) < (target[i] as number)) continue;
        target[i] = (target[i] as number) + maxWeight;
        // `position` walks offset + skip * next (mod M), one step per slot tried.
        let c = position[i] as number;
        const s = skip[i] as number;
        while ((table[c] as number) !== -1) {
          c = (c + s) | 0;
          if (c >= size) c = (c - size) | 0;
        }
        table[c] = i;
        this.perHost[i] = (this.perHost[i] as number) + 1;
        c += s;
        position[i] = c >= size ? c - size : c;
        filled++;
      }
    }
  }

  /** The host for the hash (hi, lo), rehashed for selection `attempt` > 0 as Envoy does. */
  choose(hi: number, lo: number, attempt: number): Host | null {
    if (this.hosts.length === 0) return null;
    if (attempt > 0) {
      // hash ^= 2^64 - attempt (Envoy: "~0ULL - attempt + 1": many bits flip, retries spread).
      hi = (hi ^ 0xffffffff) >>> 0;
      lo = (lo ^ (TWO32 - attempt)) >>> 0;
    }
    return this.hosts[this.table[mod64(hi, lo, this.size, this.t32)] as number] as Host;
  }

  /** Bytes of the table's typed arrays. */
  get bytes(): number {
    return this.table.byteLength + this.perHost.byteLength;
  }

  /** The host at a slot, for `hash % M === slot` (fast path and tests). */
  at(slot: number): Host | null {
    const i = this.table[slot];
    return i === undefined || i < 0 ? null : (this.hosts[i] as Host);
  }

  /** How many slots each host owns, by host key. */
  entriesPerHost(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const host of this.hosts) counts.set(host.key, 0);
    for (let s = 0; s < this.size; s++) {
      const host = this.hosts[this.table[s] as number] as Host;
      counts.set(host.key, (counts.get(host.key) ?? 0) + 1);
    }
    return counts;
  }
}

/** Hosts ordered by the UTF-8 bytes of their hash key (as std::sort on string_view), ties by address:port. */
function sortByHashKey(hosts: readonly Host[]): Host[] {
  const keyed = hosts.map((host) => ({ host, bytes: Buffer.from(host.hashKey, 'utf8') }));
  keyed.sort(
    (a, b) =>
      Buffer.compare(a.bytes, b.bytes) || (a.host.key < b.host.key ? -1 : a.host.key > b.host.key ? 1 : 0),
  );
  return keyed.map((k) => k.host);
}
