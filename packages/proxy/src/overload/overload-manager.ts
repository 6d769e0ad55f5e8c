// Envoy's overload manager: every refresh interval each resource monitor reports its pressure;
// each action takes the highest value its triggers give (threshold: 0 or 1; scaled: linear
// between two pressures) and the data path reads the result from one OverloadState.
import { TimerEntry } from '@meshlet/breaker';
import type { TimerWheel } from '@meshlet/breaker';
import type { Counter, Gauge, Scope } from '@meshlet/stats';
import type * as model from '@meshlet/xds';
import { OverloadState } from './overload-state.js';
import { createResourceMonitor, type ResourceMonitor, type ResourceSources } from './resource-monitors.js';

/** What an overload manager needs from its proxy. */
export interface OverloadManagerEnv {
  readonly wheel: TimerWheel;
  /** Where `overload.*` stats go; null when stats are off. */
  readonly stats: Scope | null;
  readonly sources: ResourceSources;
  /** A monitor failed to update: reported, the last pressure kept. */
  readonly onError: (error: unknown, where: string) => void;
}

interface Monitored {
  readonly monitor: ResourceMonitor;
  pressure: number;
  readonly pressureGauge: Gauge | null;
  readonly failedUpdates: Counter | null;
}

interface Trigger {
  readonly monitor: Monitored;
  /** Pressure at and above which the trigger saturates. */
  readonly saturation: number;
  /** Pressure above which a scaled trigger starts scaling (equal to `saturation` for a threshold). */
  readonly scaling: number;
}

interface Action {
  readonly config: model.OverloadAction;
  readonly triggers: readonly Trigger[];
  value: number;
  readonly active: Gauge | null;
  readonly scalePercent: Gauge | null;
}

/** The value of a trigger at a pressure: 0 below, 1 saturated, linear in between when scaled. */
export function triggerValue(pressure: number, scaling: number, saturation: number): number {
  if (pressure >= saturation) return 1;
  if (pressure <= scaling || scaling >= saturation) return 0;
  return (pressure - scaling) / (saturation - scaling);
}

/**
 * The overload manager of a proxy (the bootstrap's `overload_manager`). `state` is what the data
 * path reads; `refresh()` runs every `refreshIntervalMs` on the proxy's timer wheel.
 */
export class OverloadManager extends TimerEntry {
  /** The actions' current effect, read by listeners and connection managers. */
  readonly state: OverloadState = new OverloadState();
  private readonly config: model.OverloadManager;
  private readonly env: OverloadManagerEnv;
  private readonly monitors: Monitored[] = [];
  private readonly actions: Action[] = [];
  private readonly counters: {
    readonly rejected: Counter;
    readonly overflowed: Counter;
    readonly keepAliveDisabled: Counter;
  } | null;
  private synced = { rejected: 0, overflowed: 0, keepAliveDisabled: 0 };
  private running = false;

  constructor(config: model.OverloadManager, env: OverloadManagerEnv) {
    super();
    this.config = config;
    this.env = env;
    const scope = env.stats?.scope('overload') ?? null;
    const byName = new Map<string, Monitored>();
    for (const c of config.resourceMonitors) {
      const monitor = createResourceMonitor(c, this.state, env.sources);
      const stats = scope?.scope(c.name) ?? null;
      const m: Monitored = {
        monitor,
        pressure: 0,
        pressureGauge: stats?.gauge('pressure') ?? null,
        failedUpdates: stats?.counter('failed_updates') ?? null,
      };
      this.monitors.push(m);
      byName.set(c.name, m);
      if (c.kind === 'global_downstream_max_connections')
        this.state.maxConnections = Math.min(this.state.maxConnections, c.maxActiveDownstreamConnections);
    }
    for (const a of config.actions) {
      const stats = scope?.scope(a.name) ?? null;
      const triggers: Trigger[] = [];
      for (const t of a.triggers) {
        const monitor = byName.get(t.name);
        if (monitor === undefined) continue; // the translator rejects unknown names
        if (t.threshold !== undefined)
          triggers.push({ monitor, saturation: t.threshold.value, scaling: t.threshold.value });
        else if (t.scaled !== undefined)
          triggers.push({
            monitor,
            saturation: t.scaled.saturationThreshold,
            scaling: t.scaled.scalingThreshold,
          });
      }
      this.actions.push({
        config: a,
        triggers,
        value: 0,
        active: stats?.gauge('active') ?? null,
        scalePercent: stats?.gauge('scale_percent') ?? null,
      });
    }
    this.counters =
      scope === null
        ? null
        : {
            rejected: scope.counter('downstream_cx_overload_reject'),
            overflowed: scope.counter('downstream_global_cx_overflow'),
            keepAliveDisabled: scope.counter('downstream_cx_overload_disable_keepalive'),
          };
  }

  /** Samples every monitor now, then every refresh interval until `close()`. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.refresh();
  }

  /** @internal The wheel's callback. */
  override fire(): void {
    this.refresh();
  }

  /** Samples every monitor and updates every action now. */
  refresh(): void {
    for (const m of this.monitors) {
      try {
        const p = m.monitor.pressure();
        if (Number.isFinite(p)) m.pressure = Math.max(0, p);
        else throw new Error(`resource monitor "${m.monitor.name}" reported ${String(p)}`);
      } catch (error) {
        m.failedUpdates?.inc();
        this.env.onError(error, `overload manager: resource monitor "${m.monitor.name}"`);
      }
      m.pressureGauge?.set(Math.round(m.pressure * 100));
    }
    const state = this.state;
    for (const a of this.actions) {
      let value = 0;
      for (const t of a.triggers)
        value = Math.max(value, triggerValue(t.monitor.pressure, t.scaling, t.saturation));
      a.value = value;
      a.active?.set(value >= 1 ? 1 : 0);
      a.scalePercent?.set(Math.floor(value * 100));
      switch (a.config.kind) {
        case 'stop_accepting_requests':
          state.stopAcceptingRequests = value >= 1;
          break;
        case 'disable_http_keepalive':
          state.disableKeepAlive = value;
          break;
        case 'reject_incoming_connections':
          state.rejectConnections = value;
          break;
      }
    }
    this.syncCounters();
    if (this.running) this.env.wheel.schedule(this, this.config.refreshIntervalMs);
  }

  /** An action's current value (0 inactive, 1 saturated, in between scaling), by its Envoy name. */
  actionValue(name: string): number | undefined {
    return this.actions.find((a) => a.config.name === name)?.value;
  }

  /** A resource's last pressure (a fraction of its limit), by the monitor's name. */
  pressure(name: string): number | undefined {
    return this.monitors.find((m) => m.monitor.name === name)?.pressure;
  }

  /** Stops refreshing and releases the monitors (the event-loop sampler's timer). */
  close(): void {
    this.running = false;
    this.env.wheel.cancel(this);
    this.syncCounters();
    for (const m of this.monitors) m.monitor.close();
  }

  private syncCounters(): void {
    const c = this.counters;
    if (c === null) return;
    const s = this.state;
    c.rejected.add(s.rejected - this.synced.rejected);
    c.overflowed.add(s.overflowed - this.synced.overflowed);
    c.keepAliveDisabled.add(s.keepAliveDisabled - this.synced.keepAliveDisabled);
    this.synced = { rejected: s.rejected, overflowed: s.overflowed, keepAliveDisabled: s.keepAliveDisabled };
  }
}
