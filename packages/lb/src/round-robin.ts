import { EdfScheduler, type Weigher } from './edf-scheduler.js';
import type { Host } from './host.js';
import type { ResolvedOptions } from './host-set-balancer.js';
import { equalWeights, SourcePicker } from './source-picker.js';

/**
 * `ROUND_ROBIN` over one hosts source. Equal weights and no slow start: a plain rotation from a
 * random starting point. Otherwise Envoy's earliest-deadline-first schedule with the host weight
 * (scaled by slow start), which interleaves hosts instead of sending bursts to one.
 * @internal
 */
export class RoundRobinPicker extends SourcePicker implements Weigher<Host> {
  private next: number;
  private readonly edf: EdfScheduler<Host> | null;

  constructor(hosts: readonly Host[], options: ResolvedOptions) {
    super(hosts, options);
    const start = Math.floor(options.random() * hosts.length);
    if (equalWeights(hosts) && !this.inSlowStart) {
      this.next = start;
      this.edf = null;
    } else {
      this.next = 0;
      this.edf = new EdfScheduler(hosts, this, start);
    }
  }

  pick(): Host {
    if (this.edf) return this.edf.pick(this);
    const host = this.hosts[this.next] as Host;
    if (++this.next === this.hosts.length) this.next = 0;
    return host;
  }

  /** @internal */
  weightOf(host: Host): number {
    return this.inSlowStart ? this.slowStart(host, host.weight) : host.weight;
  }
}
