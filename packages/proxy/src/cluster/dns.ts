// STRICT_DNS (and LOGICAL_DNS) discovery: every name of the load assignment resolved now and
// every `dns_refresh_rate`; a name that fails to resolve keeps its last good addresses.
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { TimerEntry } from '@meshlet/breaker';
import type { TimerWheel } from '@meshlet/breaker';
import type * as model from '@meshlet/xds';
import { namesToResolve } from './endpoints.js';

/** One address of a DNS answer. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}

/**
 * Resolves host names: node:dns `lookup` (the system resolver, as Envoy's default getaddrinfo
 * resolver) unless injected. Tests inject one answering loopback addresses.
 */
export interface DnsResolver {
  lookup(hostname: string, options: { all: true; family: 0 | 4 | 6 }): Promise<readonly ResolvedAddress[]>;
}

/** The system resolver. */
export const systemResolver: DnsResolver = {
  lookup: (hostname, options) => dns.lookup(hostname, options),
};

/** Keeps the addresses of the family Envoy's `dns_lookup_family` asks for. */
export function pickFamily(
  answer: readonly ResolvedAddress[],
  family: model.Cluster['dnsLookupFamily'],
): string[] {
  const v4 = answer.filter((a) => a.family === 4).map((a) => a.address);
  const v6 = answer.filter((a) => a.family === 6).map((a) => a.address);
  switch (family) {
    case 'V4_ONLY':
      return v4;
    case 'V6_ONLY':
      return v6;
    case 'V4_PREFERRED':
      return v4.length > 0 ? v4 : v6;
    case 'ALL':
      return [...v4, ...v6];
    default:
      // AUTO: IPv6 when there is any, else IPv4.
      return v6.length > 0 ? v6 : v4;
  }
}

/** What the discovery reports to its cluster. */
export interface DnsOwner {
  onResolved(
    assignment: model.ClusterLoadAssignment | undefined,
    resolve: (name: string) => readonly string[],
  ): void;
}

/** The DNS discovery of one cluster; its own refresh timer on the wheel. */
export class DnsDiscovery extends TimerEntry {
  readonly #owner: DnsOwner;
  readonly #resolver: DnsResolver;
  readonly #wheel: TimerWheel;
  readonly #refreshMs: number;
  readonly #family: model.Cluster['dnsLookupFamily'];
  readonly #firstOnly: boolean;
  #assignment: model.ClusterLoadAssignment | undefined = undefined;
  /** Last good addresses per name. */
  readonly #answers = new Map<string, readonly string[]>();
  #generation = 0;
  #closed = false;

  constructor(owner: DnsOwner, config: model.Cluster, resolver: DnsResolver, wheel: TimerWheel) {
    super();
    this.#owner = owner;
    this.#resolver = resolver;
    this.#wheel = wheel;
    this.#refreshMs = config.dnsRefreshRateMs;
    this.#family = config.dnsLookupFamily;
    this.#firstOnly = config.type === 'LOGICAL_DNS';
  }

  /** The addresses of `name` now: itself if an IP, else its last good answer (none before the first). */
  readonly resolveName = (name: string): readonly string[] => {
    if (isIP(name) !== 0) return [name];
    return this.#answers.get(name) ?? [];
  };

  /** A new load assignment: hosts of IP literals now, names once resolved. */
  setAssignment(assignment: model.ClusterLoadAssignment | undefined): void {
    this.#assignment = assignment;
    this.#owner.onResolved(assignment, this.resolveName);
    void this.refresh();
  }

  override fire(): void {
    void this.refresh();
  }

  /** Resolves every name now, applies the answers, and plans the next refresh. */
  async refresh(): Promise<void> {
    if (this.#closed) return;
    const generation = ++this.#generation;
    this.#wheel.cancel(this);
    const names = namesToResolve(this.#assignment);
    const results = await Promise.all(
      names.map((name) =>
        this.#resolver.lookup(name, { all: true, family: familyOf(this.#family) }).then(
          (answer) => pickFamily(answer, this.#family),
          () => null,
        ),
      ),
    );
    if (generation !== this.#generation || this.closed) return;
    names.forEach((name, i) => {
      const addresses = results[i];
      // A failed lookup keeps the last good answer (Envoy keeps its hosts on a DNS failure).
      if (addresses === null || addresses === undefined) return;
      this.#answers.set(name, this.#firstOnly ? addresses.slice(0, 1) : addresses);
    });
    for (const name of this.#answers.keys()) if (!names.includes(name)) this.#answers.delete(name);
    this.#owner.onResolved(this.#assignment, this.resolveName);
    this.#wheel.schedule(this, this.#refreshMs);
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
    this.#wheel.cancel(this);
  }
}

function familyOf(family: model.Cluster['dnsLookupFamily']): 0 | 4 | 6 {
  return family === 'V4_ONLY' ? 4 : family === 'V6_ONLY' ? 6 : 0;
}
