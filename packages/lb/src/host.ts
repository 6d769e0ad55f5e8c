import { ConfigError } from '@meshlet/errors';
import type { HostHealth, HostInput, Locality, MetadataValue } from './types.js';

const HEALTH: ReadonlySet<string> = new Set<HostHealth>(['healthy', 'degraded', 'unhealthy', 'ejected']);
const EMPTY_METADATA: Readonly<Record<string, MetadataValue>> = Object.freeze({});
const MAX_WEIGHT = 0xffffffff;

/**
 * One upstream endpoint as a balancer knows it. The same object is returned by every `pick()`
 * and kept across `update()` calls for as long as its `address:port` stays in the set, so the
 * caller can hang state on it (a connection pool, say) and count `activeRequests` on it.
 */
export class Host {
  /** IP address or host name. */
  readonly address: string;
  readonly port: number;
  /** The host's name (endpoint hostname or DNS name), if given; an update may change it. */
  hostname: string | undefined;
  /** `address:port`: the identity of the host across updates. */
  readonly key: string;
  /** What `RING_HASH` and `MAGLEV` hash: `hashKey` if given, else `key`. */
  hashKey: string;
  weight: number;
  /**
   * Effective health: the worst of `declaredHealth` (from `update()`, as EDS says),
   * `observedHealth` (from `setHealth()`, as active health checks say) and `ejected` (from
   * `eject()`, as outlier detection says), as Envoy combines its health flags.
   */
  health: HostHealth;
  /** Health given by the host set (`update()` or creation). */
  declaredHealth: HostHealth;
  /** Health set by `setHealth()` (active health checking). Default healthy. */
  observedHealth: HostHealth;
  /** Set by `eject()`, cleared by `uneject()` (outlier detection), apart from `observedHealth`. */
  ejected: boolean;
  metadata: Readonly<Record<string, MetadataValue>>;
  locality: Locality | undefined;
  /** Weight of the host's locality (locality-weighted balancing). */
  localityWeight: number;
  priority: number;
  /**
   * Requests in flight to this host. The caller increments it when it sends a request and
   * decrements it when the request ends; `LEAST_REQUEST` reads it.
   */
  activeRequests: number;
  /** Clock time at which the host last joined the set healthy or turned healthy (slow start). */
  healthySince: number;

  /** @internal Built by the balancer from a validated {@link HostInput}. */
  constructor(input: HostInput, now: number) {
    this.address = input.address;
    this.port = input.port;
    this.hostname = input.hostname;
    this.key = `${input.address}:${input.port}`;
    this.hashKey = input.hashKey ?? this.key;
    this.weight = input.weight ?? 1;
    this.declaredHealth = input.health ?? 'healthy';
    this.observedHealth = 'healthy';
    this.ejected = false;
    this.health = this.declaredHealth;
    this.metadata = input.metadata ?? EMPTY_METADATA;
    this.locality = input.locality;
    this.localityWeight = input.localityWeight ?? 1;
    this.priority = input.priority ?? 0;
    this.activeRequests = 0;
    this.healthySince = now;
  }
}

const RANK: Readonly<Record<HostHealth, number>> = { healthy: 0, degraded: 1, unhealthy: 2, ejected: 2 };

/** The worse of the two healths; on a tie between unhealthy and ejected, the observed one. */
function combinedHealth(declared: HostHealth, observed: HostHealth): HostHealth {
  return RANK[observed] >= RANK[declared] ? observed : declared;
}

/**
 * A host's effective health from its three sources, each kept apart so that one source clearing
 * its verdict (a passing health check, an un-ejection) never clears another's.
 */
export function effectiveHealth(declared: HostHealth, observed: HostHealth, ejected: boolean): HostHealth {
  const health = combinedHealth(declared, observed);
  return ejected ? combinedHealth(health, 'ejected') : health;
}

/** Throws a {@link ConfigError} naming the field when `input` is not a valid host. */
export function validateHostInput(input: HostInput, where: string): void {
  if (typeof input !== 'object' || (input as unknown) === null)
    throw new ConfigError(`${where}: a host must be an object`);
  if (typeof input.address !== 'string' || input.address === '') {
    throw new ConfigError(`${where}.address: must be a non-empty string`);
  }
  if (!Number.isInteger(input.port) || input.port < 0 || input.port > 65535) {
    throw new ConfigError(`${where}.port: must be an integer in [0, 65535], got ${String(input.port)}`);
  }
  if (
    input.weight !== undefined &&
    (!Number.isInteger(input.weight) || input.weight < 1 || input.weight > MAX_WEIGHT)
  ) {
    throw new ConfigError(
      `${where}.weight: must be an integer in [1, ${MAX_WEIGHT}], got ${String(input.weight)}`,
    );
  }
  if (input.hostname !== undefined && (typeof input.hostname !== 'string' || input.hostname === '')) {
    throw new ConfigError(`${where}.hostname: must be a non-empty string`);
  }
  if (input.hashKey !== undefined && (typeof input.hashKey !== 'string' || input.hashKey === '')) {
    throw new ConfigError(`${where}.hashKey: must be a non-empty string`);
  }
  if (input.health !== undefined && !HEALTH.has(input.health)) {
    throw new ConfigError(
      `${where}.health: must be one of ${[...HEALTH].join(', ')}, got ${JSON.stringify(input.health)}`,
    );
  }
  if (
    input.localityWeight !== undefined &&
    (!Number.isInteger(input.localityWeight) || input.localityWeight < 0 || input.localityWeight > MAX_WEIGHT)
  ) {
    throw new ConfigError(
      `${where}.localityWeight: must be an integer in [0, ${MAX_WEIGHT}], got ${String(input.localityWeight)}`,
    );
  }
  if (
    input.locality !== undefined &&
    (typeof input.locality !== 'object' || (input.locality as unknown) === null)
  ) {
    throw new ConfigError(`${where}.locality: must be an object { region?, zone?, subZone? }`);
  }
  if (
    input.priority !== undefined &&
    (!Number.isInteger(input.priority) || input.priority < 0 || input.priority > 127)
  ) {
    throw new ConfigError(`${where}.priority: must be an integer in [0, 127], got ${String(input.priority)}`);
  }
  if (input.metadata !== undefined) {
    if (typeof input.metadata !== 'object' || (input.metadata as unknown) === null) {
      throw new ConfigError(`${where}.metadata: must be an object`);
    }
    for (const [k, v] of Object.entries(input.metadata)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        throw new ConfigError(`${where}.metadata.${k}: must be a string, number or boolean`);
      }
    }
  }
}

/** Whether the two metadata objects hold the same keys and values. */
export function sameMetadata(
  a: Readonly<Record<string, MetadataValue>>,
  b: Readonly<Record<string, MetadataValue>>,
): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

/** A string naming a locality, equal for equal localities. */
export function localityKey(locality: Locality | undefined): string {
  return locality
    ? `${locality.region ?? ''}\u0000${locality.zone ?? ''}\u0000${locality.subZone ?? ''}`
    : '';
}

/** Whether the two localities are equal. */
export function sameLocality(a: Locality | undefined, b: Locality | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.region === b.region && a.zone === b.zone && a.subZone === b.subZone;
}
