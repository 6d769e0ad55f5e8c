import type { Host } from './host.js';
import type { ResolvedOptions } from './host-set-balancer.js';

/**
 * Picks among one list of hosts (the healthy, degraded or all hosts of one priority level), as
 * Envoy keeps one scheduler per "hosts source". @internal
 */
export abstract class SourcePicker {
  protected readonly hosts: readonly Host[];
  protected readonly options: ResolvedOptions;
  /** Clock time at which the slow-start ramp of every host is over (Infinity: no ramp). */
  readonly expiresAt: number;

  constructor(hosts: readonly Host[], options: ResolvedOptions) {
    this.hosts = hosts;
    this.options = options;
    let end = Number.NEGATIVE_INFINITY;
    if (options.slowStartWindow > 0) {
      const now = options.clock();
      for (const host of hosts) {
        const until = host.healthySince + options.slowStartWindow;
        if (until > now && until > end) end = until;
      }
    }
    this.expiresAt = end === Number.NEGATIVE_INFINITY ? Number.POSITIVE_INFINITY : end;
  }

  /** A host of the list; the list is never empty. */
  abstract pick(): Host;

  /** Whether a host's weight is ramping up now (so weights must be computed per pick). */
  protected get inSlowStart(): boolean {
    return this.expiresAt !== Number.POSITIVE_INFINITY;
  }

  /** `weight` scaled by the slow-start factor of `host` (Envoy's applySlowStartFactor). */
  protected slowStart(host: Host, weight: number): number {
    const window = this.options.slowStartWindow;
    if (window === 0) return weight;
    const elapsed = this.options.clock() - host.healthySince;
    if (elapsed >= window) return weight;
    const timeFactor = Math.max(1, elapsed) / window;
    const aggression = this.options.slowStartAggression;
    const ramp = aggression === 1 ? timeFactor : Math.pow(timeFactor, 1 / aggression);
    return weight * Math.max(ramp, this.options.slowStartMinWeight);
  }
}

/** Whether every host has the same weight. */
export function equalWeights(hosts: readonly Host[]): boolean {
  const first = hosts[0];
  if (!first) return true;
  for (const host of hosts) if (host.weight !== first.weight) return false;
  return true;
}
