// The bootstrap's `overload_manager` (envoy.config.overload.v3.OverloadManager) to the model.
import { type IssueList, field, index } from '../issues.js';
import { TYPE_URLS } from '../type-urls.js';
import type {
  OverloadAction,
  OverloadActionKind,
  OverloadManager,
  OverloadTrigger,
  ResourceMonitor,
} from '../types.js';
import { type Json, type JsonObject, camelKeys, has, list, num, obj, only, optNum, str } from './common.js';

/** Envoy's default `refresh_interval`. */
const DEFAULT_REFRESH_MS = 1000;

const ACTIONS: Record<string, OverloadActionKind> = {
  'envoy.overload_actions.stop_accepting_requests': 'stop_accepting_requests',
  'envoy.overload_actions.disable_http_keepalive': 'disable_http_keepalive',
  'envoy.overload_actions.reject_incoming_connections': 'reject_incoming_connections',
};

/** Envoy actions that have no meaning in a V8 process: skipped with a warning. */
const MEANINGLESS = new Set(['envoy.overload_actions.shrink_heap']);

const EVENT_LOOP_DELAY = 'meshlet.resource_monitors.v1.EventLoopDelay';

export function overloadManager(o: JsonObject, issues: IssueList, path: string): OverloadManager {
  only(o, issues, path, ['refreshInterval', 'resourceMonitors', 'actions'], ['bufferFactoryConfig']);
  if (list(o.loadshedPoints).length)
    issues.error(field(path, 'loadshed_points'), 'load shed points are not supported by meshlet');
  const refreshIntervalMs = optNum(o.refreshInterval) ?? DEFAULT_REFRESH_MS;
  if (refreshIntervalMs <= 0)
    issues.error(field(path, 'refresh_interval'), 'the refresh interval must be more than 0');
  const monitors: ResourceMonitor[] = [];
  const names = new Set<string>();
  list(o.resourceMonitors).forEach((m, i) => {
    const here = index(field(path, 'resource_monitors'), i);
    const monitor = resourceMonitor(m, issues, here);
    if (monitor === undefined) return;
    if (names.has(monitor.name)) {
      issues.error(here, `resource monitor "${monitor.name}" is configured twice`);
      return;
    }
    names.add(monitor.name);
    monitors.push(monitor);
  });
  if (!monitors.length && !issues.errors.length)
    issues.error(field(path, 'resource_monitors'), 'an overload manager needs at least one resource monitor');
  const actions: OverloadAction[] = [];
  const seen = new Set<string>();
  list(o.actions).forEach((a, i) => {
    const here = index(field(path, 'actions'), i);
    only(a, issues, here, ['name', 'triggers'], []);
    const name = str(a.name);
    if (has(a, 'typedConfig'))
      issues.error(field(here, 'typed_config'), `overload action "${name}" takes no typed_config in meshlet`);
    if (MEANINGLESS.has(name)) {
      issues.warn(here, `overload action "${name}" has no meaning in a Node.js process; meshlet skips it`);
      return;
    }
    const kind = ACTIONS[name];
    if (kind === undefined) {
      issues.error(
        field(here, 'name'),
        `overload action "${name}" is not supported (meshlet: ${Object.keys(ACTIONS).join(', ')})`,
      );
      return;
    }
    if (seen.has(name)) {
      issues.error(field(here, 'name'), `overload action "${name}" is configured twice`);
      return;
    }
    seen.add(name);
    const triggers: OverloadTrigger[] = [];
    const triggerNames = new Set<string>();
    list(a.triggers).forEach((t, j) => {
      const tp = index(field(here, 'triggers'), j);
      const trigger = overloadTrigger(t, issues, tp);
      if (trigger === undefined) return;
      if (!names.has(trigger.name)) {
        issues.error(field(tp, 'name'), `unknown resource monitor "${trigger.name}"`);
        return;
      }
      if (triggerNames.has(trigger.name)) {
        issues.error(field(tp, 'name'), `resource monitor "${trigger.name}" triggers this action twice`);
        return;
      }
      triggerNames.add(trigger.name);
      triggers.push(trigger);
    });
    if (!list(a.triggers).length) issues.error(field(here, 'triggers'), 'an overload action needs a trigger');
    actions.push({ name, kind, triggers });
  });
  return { refreshIntervalMs, resourceMonitors: monitors, actions };
}

function resourceMonitor(m: JsonObject, issues: IssueList, path: string): ResourceMonitor | undefined {
  only(m, issues, path, ['name', 'typedConfig']);
  const name = str(m.name);
  if (name === '') {
    issues.error(field(path, 'name'), 'a resource monitor needs a name');
    return undefined;
  }
  const tc = obj(m.typedConfig);
  const url = str(tc['@type']);
  const here = field(path, 'typed_config');
  if (url === TYPE_URLS.fixedHeap) {
    only(tc, issues, here, ['maxHeapSizeBytes']);
    const max = positive(tc.maxHeapSizeBytes, issues, field(here, 'max_heap_size_bytes'));
    return max === undefined ? undefined : { name, kind: 'fixed_heap', maxHeapSizeBytes: max };
  }
  if (url === TYPE_URLS.downstreamConnections) {
    only(tc, issues, here, ['maxActiveDownstreamConnections']);
    const max = positive(
      tc.maxActiveDownstreamConnections,
      issues,
      field(here, 'max_active_downstream_connections'),
    );
    return max === undefined
      ? undefined
      : { name, kind: 'global_downstream_max_connections', maxActiveDownstreamConnections: max };
  }
  if (
    (url === TYPE_URLS.typedStruct || url === TYPE_URLS.udpaTypedStruct) &&
    str(tc.typeUrl).endsWith(EVENT_LOOP_DELAY)
  ) {
    const value = obj(camelKeys(tc.value));
    const vp = field(here, 'value');
    only(value, issues, vp, ['maxDelay', 'percentile']);
    const maxDelayMs = durationMs(value.maxDelay);
    if (maxDelayMs === undefined || maxDelayMs <= 0) {
      issues.error(field(vp, 'max_delay'), 'max_delay must be a duration above 0, e.g. "0.2s"');
      return undefined;
    }
    const percentile = num(value.percentile, 99);
    if (!(percentile > 0 && percentile <= 100)) {
      issues.error(field(vp, 'percentile'), 'percentile must be in (0, 100]');
      return undefined;
    }
    return { name, kind: 'event_loop_delay', maxDelayMs, percentile };
  }
  issues.error(
    here,
    `resource monitor "${name}" has a type meshlet does not support: ${url || '(none)'} (meshlet: FixedHeapConfig, DownstreamConnectionsConfig, TypedStruct ${EVENT_LOOP_DELAY})`,
  );
  return undefined;
}

function overloadTrigger(t: JsonObject, issues: IssueList, path: string): OverloadTrigger | undefined {
  only(t, issues, path, ['name', 'threshold', 'scaled']);
  const name = str(t.name);
  if (has(t, 'threshold')) {
    const value = num(obj(t.threshold).value, 0);
    if (!fraction(value, issues, field(path, 'threshold.value'))) return undefined;
    return { name, threshold: { value } };
  }
  if (has(t, 'scaled')) {
    const s = obj(t.scaled);
    const scalingThreshold = num(s.scalingThreshold, 0);
    const saturationThreshold = num(s.saturationThreshold, 0);
    if (
      !fraction(scalingThreshold, issues, field(path, 'scaled.scaling_threshold')) ||
      !fraction(saturationThreshold, issues, field(path, 'scaled.saturation_threshold'))
    )
      return undefined;
    if (scalingThreshold >= saturationThreshold) {
      issues.error(field(path, 'scaled'), 'scaling_threshold must be below saturation_threshold');
      return undefined;
    }
    return { name, scaled: { scalingThreshold, saturationThreshold } };
  }
  issues.error(path, 'a trigger needs threshold or scaled');
  return undefined;
}

function fraction(v: number, issues: IssueList, path: string): boolean {
  if (v >= 0 && v <= 1) return true;
  issues.error(path, `${String(v)} is not in [0, 1]`);
  return false;
}

function positive(v: Json | undefined, issues: IssueList, path: string): number | undefined {
  // uint64/int64 arrive as strings in proto3 JSON.
  const n = typeof v === 'string' ? Number(v) : typeof v === 'number' ? v : NaN;
  if (Number.isSafeInteger(n) && n > 0) return n;
  issues.error(path, 'must be an integer above 0');
  return undefined;
}

/** A Struct-carried duration: proto3 JSON (`"0.2s"`) or `{ seconds, nanos }`, to milliseconds. */
function durationMs(v: Json | undefined): number | undefined {
  if (typeof v === 'string') {
    const m = /^(\d+(?:\.\d+)?)s$/.exec(v);
    return m === null ? undefined : Number(m[1]) * 1000;
  }
  const o = obj(v);
  if (!has(o, 'seconds') && !has(o, 'nanos')) return undefined;
  const seconds = Number(o.seconds ?? 0);
  const nanos = Number(o.nanos ?? 0);
  return Number.isFinite(seconds) && Number.isFinite(nanos) ? seconds * 1000 + nanos / 1e6 : undefined;
}
