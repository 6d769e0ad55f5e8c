// Access loggers (`access_log` of the connection manager, TCP proxy and RPC proxy) and the
// connection manager's `tracing`, to the model.
import { type IssueList, field, index } from '../issues.js';
import { TYPE_URLS } from '../type-urls.js';
import type {
  AccessLog,
  AccessLogComparison,
  AccessLogFilter,
  AccessLogFormat,
  AccessLogSinkRef,
  HttpTracing,
  JsonFormatValue,
} from '../types.js';
import {
  type Json,
  type JsonObject,
  bool,
  has,
  headerMatcher,
  list,
  num,
  obj,
  only,
  str,
  strings,
} from './common.js';

const FILE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const STDOUT = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
const STDERR = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog';
/** meshlet's own logger, carried in a TypedStruct: lines go to a sink the application registered. */
const SINK = 'meshlet.access_loggers.v1.Sink';

/** Envoy's response flags by long name (`response_flag_filter` takes the short ones). */
const RESPONSE_FLAGS = new Set([
  'LH',
  'UH',
  'UT',
  'LR',
  'UR',
  'UF',
  'UC',
  'UO',
  'NR',
  'DI',
  'FI',
  'RL',
  'UAEX',
  'RLSE',
  'DC',
  'URX',
  'SI',
  'IH',
  'DPE',
  'UMSDR',
  'RFCF',
  'NFCF',
  'DT',
  'UPE',
  'NC',
  'OM',
  'DF',
  'DO',
  'DR',
  'UDO',
]);

/** `access_log` entries at `path` (a list field); `undefined` when there are none. */
export function accessLogs(v: Json | undefined, issues: IssueList, path: string): AccessLog[] | undefined {
  const out: AccessLog[] = [];
  list(v).forEach((o, i) => {
    const log = accessLog(o, issues, index(path, i));
    if (log) out.push(log);
  });
  return out.length ? out : undefined;
}

function accessLog(o: JsonObject, issues: IssueList, path: string): AccessLog | undefined {
  only(o, issues, path, ['name', 'typedConfig', 'filter']);
  const name = str(o.name);
  const tc = obj(o.typedConfig);
  const url = str(tc['@type']);
  const here = field(path, 'typed_config');
  let sink: AccessLogSinkRef | undefined;
  let format: AccessLogFormat = { kind: 'default' };
  switch (url) {
    case FILE: {
      only(tc, issues, here, ['path', 'logFormat', 'format', 'jsonFormat']);
      const p = str(tc.path);
      if (!p) issues.error(field(here, 'path'), 'a file access logger needs a path');
      sink = { kind: 'file', path: p };
      if (has(tc, 'logFormat')) format = logFormat(obj(tc.logFormat), issues, field(here, 'log_format'));
      else if (has(tc, 'format')) format = { kind: 'text', text: str(tc.format) };
      else if (has(tc, 'jsonFormat'))
        format = jsonFormat(tc.jsonFormat, false, issues, field(here, 'json_format'));
      break;
    }
    case STDOUT:
    case STDERR:
      only(tc, issues, here, ['logFormat']);
      sink = { kind: url === STDOUT ? 'stdout' : 'stderr' };
      if (has(tc, 'logFormat')) format = logFormat(obj(tc.logFormat), issues, field(here, 'log_format'));
      break;
    case TYPE_URLS.typedStruct:
    case TYPE_URLS.udpaTypedStruct: {
      if (!str(tc.typeUrl).endsWith(SINK)) break;
      // The value is user JSON: its keys are read in either spelling, `json_format` keys kept as written.
      const value = obj(tc.value);
      const at = field(here, 'value');
      only(value, issues, at, ['sink', 'logFormat', 'log_format']);
      const sinkName = str(value.sink);
      if (!sinkName) issues.error(field(at, 'sink'), 'a sink access logger needs the name of a sink');
      sink = { kind: 'sink', name: sinkName };
      const lf = value.logFormat ?? value.log_format;
      if (lf !== undefined) format = logFormat(snakeToCamelTop(obj(lf)), issues, field(at, 'log_format'));
      break;
    }
  }
  if (sink === undefined) {
    issues.error(
      here,
      `access logger "${name}" has a type meshlet does not support: ${url === TYPE_URLS.typedStruct || url === TYPE_URLS.udpaTypedStruct ? str(tc.typeUrl) : url || '(none)'}`,
    );
    return undefined;
  }
  const log: { -readonly [K in keyof AccessLog]: AccessLog[K] } = { name, sink, format };
  if (has(o, 'filter')) {
    const f = accessLogFilter(obj(o.filter), issues, field(path, 'filter'));
    if (f) log.filter = f;
  }
  return log;
}

/** Top-level keys of a user-written `log_format` in camelCase (`json_format` → `jsonFormat`). */
function snakeToCamelTop(o: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(o)) out[k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())] = v;
  return out;
}

/** Envoy's `SubstitutionFormatString`. */
function logFormat(o: JsonObject, issues: IssueList, path: string): AccessLogFormat {
  only(o, issues, path, ['textFormat', 'textFormatSource', 'jsonFormat', 'omitEmptyValues'], ['contentType']);
  if (has(o, 'formatters')) issues.error(field(path, 'formatters'), 'formatter extensions are not supported');
  if (has(o, 'jsonFormat'))
    return jsonFormat(o.jsonFormat, bool(o.omitEmptyValues), issues, field(path, 'json_format'));
  if (has(o, 'textFormat')) return { kind: 'text', text: str(o.textFormat) };
  if (has(o, 'textFormatSource')) {
    const src = obj(o.textFormatSource);
    const at = field(path, 'text_format_source');
    only(src, issues, at, ['inlineString']);
    if (!has(src, 'inlineString')) issues.error(at, 'only inline_string is supported');
    return { kind: 'text', text: str(src.inlineString) };
  }
  return { kind: 'default' };
}

function jsonFormat(
  v: Json | undefined,
  omitEmptyValues: boolean,
  issues: IssueList,
  path: string,
): AccessLogFormat {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    issues.error(path, 'json_format must be an object');
    return { kind: 'default' };
  }
  return { kind: 'json', json: jsonValues(v, issues, path), omitEmptyValues };
}

function jsonValues(o: JsonObject, issues: IssueList, path: string): Record<string, JsonFormatValue> {
  const out: Record<string, JsonFormatValue> = {};
  for (const [k, v] of Object.entries(o)) {
    if (Array.isArray(v)) {
      issues.error(field(path, k), 'lists are not supported in json_format');
      continue;
    }
    out[k] = v !== null && typeof v === 'object' ? jsonValues(v, issues, field(path, k)) : (v ?? null);
  }
  return out;
}

/** Envoy's `AccessLogFilter`: the common kinds, and `and`/`or` of them. */
function accessLogFilter(o: JsonObject, issues: IssueList, path: string): AccessLogFilter | undefined {
  const kinds = Object.keys(o).filter((k) => k !== '@type');
  if (kinds.length !== 1) {
    issues.error(path, 'an access log filter needs exactly one kind');
    return undefined;
  }
  const kind = kinds[0] as string;
  const f = obj(o[kind]);
  switch (kind) {
    case 'statusCodeFilter':
      return {
        kind: 'status_code',
        comparison: comparison(f, issues, field(path, 'status_code_filter')),
      };
    case 'durationFilter':
      return { kind: 'duration', comparison: comparison(f, issues, field(path, 'duration_filter')) };
    case 'responseFlagFilter': {
      const at = field(path, 'response_flag_filter');
      only(f, issues, at, ['flags']);
      const flags = strings(f.flags);
      flags.forEach((flag, i) => {
        if (!RESPONSE_FLAGS.has(flag))
          issues.error(index(field(at, 'flags'), i), `unknown response flag "${flag}"`);
      });
      return { kind: 'response_flag', flags };
    }
    case 'notHealthCheckFilter':
      return { kind: 'not_health_check' };
    case 'headerFilter': {
      const at = field(path, 'header_filter');
      only(f, issues, at, ['header']);
      const header = headerMatcher(obj(f.header), issues, field(at, 'header'));
      return header ? { kind: 'header', header } : undefined;
    }
    case 'andFilter':
    case 'orFilter': {
      const at = field(path, kind === 'andFilter' ? 'and_filter' : 'or_filter');
      only(f, issues, at, ['filters']);
      const filters: AccessLogFilter[] = [];
      list(f.filters).forEach((x, i) => {
        const inner = accessLogFilter(x, issues, index(field(at, 'filters'), i));
        if (inner) filters.push(inner);
      });
      return { kind: kind === 'andFilter' ? 'and' : 'or', filters };
    }
    default:
      issues.error(
        field(
          path,
          kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
        ),
        'this access log filter is not supported',
      );
      return undefined;
  }
}

/** A `ComparisonFilter`: `op` (default EQ) and `value.default_value` (runtime keys are not read). */
function comparison(f: JsonObject, issues: IssueList, path: string): AccessLogComparison {
  only(f, issues, path, ['comparison']);
  const c = obj(f.comparison);
  only(c, issues, field(path, 'comparison'), ['op', 'value']);
  const op = str(c.op, 'EQ');
  if (op !== 'EQ' && op !== 'GE' && op !== 'LE')
    issues.error(field(field(path, 'comparison'), 'op'), `comparison ${op} is not supported`);
  const value = obj(c.value);
  only(value, issues, field(field(path, 'comparison'), 'value'), ['defaultValue'], ['runtimeKey']);
  return { op: op === 'GE' || op === 'LE' ? op : 'EQ', value: num(value.defaultValue, 0) };
}

/** The connection manager's `tracing`: the three sampling percentages. */
export function httpTracing(o: JsonObject, issues: IssueList, path: string): HttpTracing {
  only(
    o,
    issues,
    path,
    ['clientSampling', 'randomSampling', 'overallSampling'],
    ['verbose', 'maxPathTagLength', 'customTags', 'spawnUpstreamSpan', 'provider'],
  );
  if (has(o, 'provider'))
    issues.warn(
      field(path, 'provider'),
      "the tracing provider is the application's OpenTelemetry setup; meshlet ignores this one",
    );
  return {
    clientSampling: percent(o.clientSampling, issues, field(path, 'client_sampling')),
    randomSampling: percent(o.randomSampling, issues, field(path, 'random_sampling')),
    overallSampling: percent(o.overallSampling, issues, field(path, 'overall_sampling')),
  };
}

/** An `envoy.type.v3.Percent` (`{value}`), 100 when absent. */
function percent(v: Json | undefined, issues: IssueList, path: string): number {
  if (v === undefined) return 100;
  const value = num(obj(v).value, 0);
  if (!(value >= 0 && value <= 100)) {
    issues.error(field(path, 'value'), 'a percentage must be in [0, 100]');
    return 100;
  }
  return value;
}
