import { type Host, localityKey } from './host.js';
import { HostSetBalancer, type Level } from './host-set-balancer.js';
import { MaglevTable, mod64 } from './maglev.js';
import { choosePriority } from './priority-load.js';
import { RingHashTable } from './ring-hash.js';
import type { PickContext, TableStats } from './types.js';

const TWO32 = 4294967296;
const MAX_U64 = (1n << 64n) - 1n;

// A bigint hash is split into its 32-bit halves through a BigUint64Array aliased by a
// Uint32Array: no BigInt is allocated (`h >> 32n` and `h & mask` allocate two, several times
// slower). Which half comes first depends on the platform's byte order.
const SPLIT = new BigUint64Array(1);
const HALVES = new Uint32Array(SPLIT.buffer);
SPLIT[0] = 1n;
const LO = HALVES[0] === 1 ? 0 : 1;
const HI = 1 - LO;

/** What RING_HASH and MAGLEV build per priority level. @internal */
export interface HashTable {
  readonly hosts: readonly Host[];
  /** Entries (slots) each host owns, in `hosts` order. */
  readonly perHost: Int32Array;
  /** Entries in all. */
  readonly size: number;
  /** Bytes of the typed arrays. */
  readonly bytes: number;
  choose(hi: number, lo: number, attempt: number): Host | null;
}

/**
 * `RING_HASH` and `MAGLEV`, as Envoy's ThreadAwareLoadBalancerBase: one table per priority level,
 * built from its healthy hosts (all of them when the level is in panic); the request's hash
 * chooses the level (`hash % 100 + 1` against the priority load) and then the host. A request
 * without a hash gets a random one. With a retry predicate, each new selection rehashes.
 * @internal
 */
export class HashingBalancer extends HostSetBalancer {
  private tables: (HashTable | null)[] = [];

  pick(ctx: PickContext | undefined): Host | null {
    if (this.size === 0) return null;
    // The request hash as two uint32 halves, in locals (no object, no BigInt allocated).
    let hi: number;
    let lo: number;
    const h = ctx?.hash;
    if (typeof h === 'number' && h >= 0 && h <= Number.MAX_SAFE_INTEGER && Math.floor(h) === h) {
      hi = Math.floor(h / TWO32);
      lo = h >>> 0;
    } else if (typeof h === 'bigint' && h >= 0n && h <= MAX_U64) {
      SPLIT[0] = h;
      hi = HALVES[HI] as number;
      lo = HALVES[LO] as number;
    } else {
      // No usable hash: a random one (never a constant, which would send all such requests to one host).
      const random = this.options.random;
      hi = Math.floor(random() * TWO32) >>> 0;
      lo = Math.floor(random() * TWO32) >>> 0;
    }
    let level = this.only;
    if (level < 0) level = choosePriority(mod64(hi, lo, 100, 96) + 1, this.load) >> 1;
    const table = this.tables[level];
    if (!table) return null;
    const first = table.choose(hi, lo, 0);
    const reject = ctx?.shouldSelectAnotherHost;
    if (first === null || typeof reject !== 'function') return first;
    const retries = HostSetBalancer.retries(ctx as PickContext);
    let host: Host = first;
    // The table is not empty, so every selection finds a host.
    for (let attempt = 1; attempt <= retries && reject(host); attempt++)
      host = table.choose(hi, lo, attempt) ?? host;
    return host;
  }

  /** The table of a priority level (tests, stats). */
  tableOf(priority: number): HashTable | null {
    return this.tables[priority] ?? null;
  }

  protected override tableStats(priority: number): TableStats | undefined {
    const table = this.tables[priority];
    if (!table) return undefined;
    let min = table.perHost.length > 0 ? Number.MAX_SAFE_INTEGER : 0;
    let max = 0;
    for (const n of table.perHost) {
      min = Math.min(min, n);
      max = Math.max(max, n);
    }
    return {
      entries: table.hosts.length > 0 ? table.size : 0,
      minEntriesPerHost: min,
      maxEntriesPerHost: max,
      bytes: table.bytes,
    };
  }

  protected signatureOf(level: Level, panic: boolean): string {
    const hosts = panic ? level.all : level.healthy;
    const localities = this.options.localityWeighted;
    const parts = hosts.map(
      (h) =>
        `${h.hashKey}\u0000${h.key}\u0000${h.weight}` +
        (localities ? `\u0000${localityKey(h.locality)}\u0000${h.localityWeight}` : ''),
    );
    parts.sort();
    return `${panic ? 'P' : 'H'}|${parts.join('|')}`;
  }

  protected levelChanged(priority: number, level: Level | undefined, panic: boolean): void {
    if (!level) {
      this.tables[priority] = null;
      return;
    }
    const o = this.options;
    let hosts = panic ? level.all : level.healthy;
    let normalized: Map<Host, number> | undefined;
    if (o.localityWeighted) {
      // Envoy's normalizeLocalityWeights: a host's share is its weight within its locality times
      // its locality's share of all locality weights; zero-weight localities are left out.
      normalized = new Map();
      let localitySum = 0;
      for (const group of level.localities) localitySum += group.weight;
      hosts = [];
      for (const group of level.localities) {
        if (group.weight === 0) continue;
        const members = panic ? group.all : group.healthy;
        const localityShare = group.weight / localitySum;
        let sum = 0;
        for (const host of members) sum += host.weight;
        for (const host of members) {
          normalized.set(host, (host.weight * localityShare) / sum);
          hosts.push(host);
        }
      }
    }
    this.tables[priority] =
      o.policy === 'MAGLEV'
        ? new MaglevTable(hosts, o.tableSize, normalized)
        : new RingHashTable(hosts, o.minimumRingSize, o.maximumRingSize, normalized);
  }
}
