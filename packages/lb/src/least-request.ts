import { EdfScheduler, type Weigher } from './edf-scheduler.js';
import type { Host } from './host.js';
import type { ResolvedOptions } from './host-set-balancer.js';
import { equalWeights, SourcePicker } from './source-picker.js';

/**
 * `LEAST_REQUEST` over one hosts source, as Envoy's LeastRequestLoadBalancer. Equal weights and
 * no slow start: power of N choices (N = `choiceCount`, default 2): sample N hosts at random and
 * keep the one with the fewest active requests. Unequal weights: the EDF schedule with a dynamic
 * weight `weight / (activeRequests + 1) ^ activeRequestBias`, computed when a host is picked.
 * @internal
 */
export class LeastRequestPicker extends SourcePicker implements Weigher<Host> {
  private readonly edf: EdfScheduler<Host> | null;
  private readonly random: () => number;
  private readonly choiceCount: number;

  constructor(hosts: readonly Host[], options: ResolvedOptions) {
    super(hosts, options);
    this.random = options.random;
    this.choiceCount = options.choiceCount;
    this.edf =
      equalWeights(hosts) && !this.inSlowStart
        ? null
        : new EdfScheduler(hosts, this, Math.floor(options.random() * hosts.length));
  }

  pick(): Host {
    if (this.edf) return this.edf.pick(this);
    const hosts = this.hosts;
    const n = hosts.length;
    let best = hosts[Math.floor(this.random() * n)] as Host;
    for (let k = 1; k < this.choiceCount; k++) {
      const candidate = hosts[Math.floor(this.random() * n)] as Host;
      if (candidate.activeRequests < best.activeRequests) best = candidate;
    }
    return best;
  }

  /** @internal */
  weightOf(host: Host): number {
    const bias = this.options.activeRequestBias;
    let weight = host.weight;
    if (bias !== 0) {
      const active = Math.max(0, host.activeRequests) + 1;
      weight = bias === 1 ? weight / active : weight / Math.pow(active, bias);
    }
    return this.inSlowStart ? this.slowStart(host, weight) : weight;
  }
}
