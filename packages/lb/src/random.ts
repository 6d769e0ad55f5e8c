import type { Host } from './host.js';
import type { ResolvedOptions } from './host-set-balancer.js';
import { equalWeights, SourcePicker } from './source-picker.js';

/**
 * `RANDOM` over one hosts source: uniform when weights are equal, else proportional to weight
 * (binary search over cumulative weights). Envoy's random balancer ignores weights; honouring
 * them is what a user who sets weights expects, and equal weights behave as Envoy's.
 * @internal
 */
export class RandomPicker extends SourcePicker {
  private readonly cumulative: Float64Array | null;
  private readonly random: () => number;

  constructor(hosts: readonly Host[], options: ResolvedOptions) {
    super(hosts, options);
    this.random = options.random;
    if (equalWeights(hosts)) {
      this.cumulative = null;
    } else {
      this.cumulative = new Float64Array(hosts.length);
      let sum = 0;
      for (let i = 0; i < hosts.length; i++) this.cumulative[i] = sum += (hosts[i] as Host).weight;
    }
  }

  pick(): Host {
    const r = this.random();
    const cumulative = this.cumulative;
    if (!cumulative) return this.hosts[Math.floor(r * this.hosts.length)] as Host;
    const target = r * (cumulative[cumulative.length - 1] as number);
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cumulative[mid] as number) <= target) lo = mid + 1;
      else hi = mid;
    }
    return this.hosts[lo] as Host;
  }
}
