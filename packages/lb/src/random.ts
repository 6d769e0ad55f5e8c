import type { Host } from './host.js';
import type { ResolvedOptions } from './host-set-balancer.js';
import { equalWeights, SourcePicker } from './source-picker.js';

/**
 * `RANDOM` over one hosts source: uniform when weights are equal, else proportional to weight in
 * O(1) per pick with Vose's alias method (one uniform draw picks a column, the same draw's
 * fraction chooses between the column's host and its alias). Envoy's random balancer ignores
 * weights; honouring them is what a user who sets weights expects, and equal weights behave as
 * Envoy's.
 * @internal
 */
export class RandomPicker extends SourcePicker {
  private readonly random: () => number;
  /** Per column: probability of keeping the column's own host (else its alias); null for equal weights. */
  private readonly keep: Float64Array | null;
  private readonly alias: Int32Array | null;

  constructor(hosts: readonly Host[], options: ResolvedOptions) {
    super(hosts, options);
    this.random = options.random;
    if (equalWeights(hosts)) {
      this.keep = null;
      this.alias = null;
      return;
    }
    const n = hosts.length;
    let total = 0;
    for (const host of hosts) total += host.weight;
    const keep = new Float64Array(n);
    const alias = new Int32Array(n);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) {
      keep[i] = ((hosts[i] as Host).weight * n) / total;
      alias[i] = i;
      ((keep[i] as number) < 1 ? small : large).push(i);
    }
    while (small.length > 0 && large.length > 0) {
      const s = small.pop() as number;
      const l = large.pop() as number;
      alias[s] = l;
      keep[l] = (keep[l] as number) + (keep[s] as number) - 1;
      (keep[l] < 1 ? small : large).push(l);
    }
    // Leftovers are 1 up to rounding.
    for (const i of large) keep[i] = 1;
    for (const i of small) keep[i] = 1;
    this.keep = keep;
    this.alias = alias;
  }

  pick(): Host {
    const n = this.hosts.length;
    const x = this.random() * n;
    const column = Math.floor(x);
    const keep = this.keep;
    if (keep === null) return this.hosts[column] as Host;
    const chosen =
      x - column < (keep[column] as number) ? column : ((this.alias as Int32Array)[column] as number);
    return this.hosts[chosen] as Host;
  }
}
