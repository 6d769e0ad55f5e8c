// One walker, guided by the protobuf descriptor, that turns an Envoy message into meshlet's
// canonical JSON whatever its source: a message decoded from the wire, or Envoy's JSON/YAML
// mapping in snake_case or camelCase. The translator then reads one shape only:
//
//   field names     camelCase, unknown ones rejected with their path
//   Duration        a number of milliseconds          ("1.5s", {seconds, nanos}, wire)
//   wrappers        the plain value                   (UInt32Value 5, {value: 5})
//   Struct, Value   plain JSON
//   Any             {'@type': url, ...its fields} when the type is known, {'@type': url} if not
//   enums           their names; int64 as numbers; bytes as base64
//
// It also holds the line against hostile input: nesting depth and node count are bounded, strings
// must be well-formed Unicode (on the wire, protobufjs verifies UTF-8, see decodeMessage).
import protobuf from 'protobufjs/light.js';
import { typeOfUrl } from '../descriptor.js';
import { type IssueList, field as fieldPath, index, key, snake } from '../issues.js';

/** Limits that bound the work spent on one resource. */
export interface CanonicalLimits {
  /** Deepest message nesting accepted. Default 64. */
  readonly maxDepth: number;
  /** Most values (messages, list items, scalars) in one resource. Default 2,000,000. */
  readonly maxNodes: number;
}

export const DEFAULT_LIMITS: CanonicalLimits = { maxDepth: 64, maxNodes: 2_000_000 };

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = Record<string, Json>;

class Budget {
  nodes = 0;
  readonly limits: CanonicalLimits;
  constructor(limits: CanonicalLimits) {
    this.limits = limits;
  }
}

// String.prototype.isWellFormed (ES2024, Node >= 20): no lone surrogates.
function wellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

class TooLarge extends Error {
  readonly path: string;
  constructor(message: string, path: string) {
    super(message);
    this.path = path;
  }
}

/** protobufjs keeps `_` before digits (`consecutive_5xx`); proto3 JSON names drop it. */
export function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** What the walker needs of a field, computed once per field. */
interface FieldInfo {
  readonly field: protobuf.Field;
  /** proto3 JSON name (camelCase), the key in canonical JSON. */
  readonly name: string;
  /** Envoy's snake_case name, for paths. */
  readonly snake: string;
  readonly oneof: string | undefined;
}

/** What the walker needs of a type, computed once per type (protobufjs computes fullName on each read). */
interface TypeInfo {
  readonly fullName: string;
  readonly wellKnown: boolean;
  readonly fields: readonly FieldInfo[];
  /** By protobufjs name, camelCase and snake_case. */
  readonly byKey: ReadonlyMap<string, FieldInfo>;
  readonly hasOneofs: boolean;
}

const typeInfos = new WeakMap<protobuf.Type, TypeInfo>();

function typeInfo(type: protobuf.Type): TypeInfo {
  let info = typeInfos.get(type);
  if (!info) {
    const fields: FieldInfo[] = [];
    const byKey = new Map<string, FieldInfo>();
    for (const f of type.fieldsArray) {
      f.resolve();
      const name = camel(f.name);
      const fi: FieldInfo = { field: f, name, snake: snake(name), oneof: f.partOf?.name };
      fields.push(fi);
      byKey.set(f.name, fi);
      byKey.set(name, fi);
      byKey.set(fi.snake, fi);
    }
    const fullName = type.fullName;
    info = {
      fullName,
      wellKnown: WELL_KNOWN.has(fullName),
      fields,
      byKey,
      hasOneofs: type.oneofsArray.length > 0,
    };
    typeInfos.set(type, info);
  }
  return info;
}

const WELL_KNOWN = new Set([
  '.google.protobuf.Duration',
  '.google.protobuf.BoolValue',
  '.google.protobuf.StringValue',
  '.google.protobuf.UInt32Value',
  '.google.protobuf.Int32Value',
  '.google.protobuf.UInt64Value',
  '.google.protobuf.Int64Value',
  '.google.protobuf.DoubleValue',
  '.google.protobuf.FloatValue',
  '.google.protobuf.BytesValue',
  '.google.protobuf.Struct',
  '.google.protobuf.Value',
  '.google.protobuf.ListValue',
  '.google.protobuf.Any',
  '.google.protobuf.Empty',
  '.google.protobuf.Timestamp',
]);

/**
 * Canonical JSON of `input` (a decoded message or Envoy JSON) as a message of `type`. Problems go
 * to `issues` with their path; the result is undefined when the resource is unusable.
 */
export function canonicalize(
  type: protobuf.Type,
  input: unknown,
  issues: IssueList,
  path = '',
  limits: CanonicalLimits = DEFAULT_LIMITS,
): JsonObject | undefined {
  const budget = new Budget(limits);
  try {
    const out = message(type, input, issues, path, budget, 0);
    return out && typeof out === 'object' && !Array.isArray(out) ? out : undefined;
  } catch (err) {
    if (!(err instanceof TooLarge)) throw err;
    issues.error(err.path || path, err.message);
    return undefined;
  }
}

function count(budget: Budget, path: string): void {
  if (++budget.nodes > budget.limits.maxNodes)
    throw new TooLarge(
      `resource too large: more than ${budget.limits.maxNodes} values (at ${path || 'top'})`,
      '',
    );
}

/** Counts one more value and refuses to nest deeper than the budget allows. */
function enter(budget: Budget, path: string, depth: number): void {
  count(budget, path);
  if (depth > budget.limits.maxDepth)
    throw new TooLarge(`nesting deeper than ${budget.limits.maxDepth} levels`, path);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function message(
  type: protobuf.Type,
  input: unknown,
  issues: IssueList,
  path: string,
  budget: Budget,
  depth: number,
): Json | undefined {
  enter(budget, path, depth);
  const info = typeInfo(type);
  if (info.wellKnown) return wellKnown(info.fullName, type, input, issues, path, budget, depth);
  if (!isObject(input)) {
    issues.error(path, `expected an object (${type.name}), got ${describe(input)}`);
    return undefined;
  }
  const out: JsonObject = {};
  const oneofSeen = info.hasOneofs ? new Map<string, string>() : undefined;
  if (input instanceof protobuf.Message) {
    // Decoded from the wire: the fields set are the message's own properties.
    for (const fi of info.fields) {
      const value = input[fi.field.name];
      if (Object.hasOwn(input, fi.field.name))
        visitField(fi, value, out, oneofSeen, issues, path, budget, depth);
    }
    return out;
  }
  for (const k of Object.keys(input)) {
    const fi = info.byKey.get(k);
    if (!fi) {
      issues.error(fieldPath(path, k), `unknown field "${k}" in ${type.name}`);
      continue;
    }
    visitField(fi, input[k], out, oneofSeen, issues, path, budget, depth);
  }
  return out;
}

function visitField(
  fi: FieldInfo,
  value: unknown,
  out: JsonObject,
  oneofSeen: Map<string, string> | undefined,
  issues: IssueList,
  path: string,
  budget: Budget,
  depth: number,
): void {
  if (value === null || value === undefined) return;
  const f = fi.field;
  // An empty list or map is the same as none in proto3 (and protobufjs sets them on every message).
  if (f.repeated && Array.isArray(value) && value.length === 0) return;
  if (f.map && isObject(value) && Object.keys(value).length === 0) return;
  const here = fieldPath(path, fi.snake);
  if (fi.oneof !== undefined && oneofSeen) {
    const other = oneofSeen.get(fi.oneof);
    if (other !== undefined && other !== fi.name) {
      issues.error(here, `only one of ${snake(other)} and ${fi.snake} may be set (oneof ${fi.oneof})`);
      return;
    }
    oneofSeen.set(fi.oneof, fi.name);
  }
  const v = fieldValue(f, value, issues, here, budget, depth);
  if (v !== undefined) out[fi.name] = v;
}

function fieldValue(
  f: protobuf.Field,
  value: unknown,
  issues: IssueList,
  path: string,
  budget: Budget,
  depth: number,
): Json | undefined {
  if (f.map) {
    if (!isObject(value)) {
      issues.error(path, `expected a map, got ${describe(value)}`);
      return undefined;
    }
    const out: JsonObject = {};
    for (const k of Object.keys(value)) {
      const v = single(f, value[k], issues, key(path, k), budget, depth);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  if (f.repeated) {
    if (!Array.isArray(value)) {
      issues.error(path, `expected a list, got ${describe(value)}`);
      return undefined;
    }
    const out: Json[] = [];
    for (let i = 0; i < value.length; i++) {
      const v = single(f, value[i], issues, index(path, i), budget, depth);
      if (v !== undefined) out.push(v);
    }
    return out;
  }
  return single(f, value, issues, path, budget, depth);
}

function single(
  f: protobuf.Field,
  value: unknown,
  issues: IssueList,
  path: string,
  budget: Budget,
  depth: number,
): Json | undefined {
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Type) return message(rt, value, issues, path, budget, depth + 1);
  count(budget, path);
  if (rt instanceof protobuf.Enum) {
    if (typeof value === 'number') {
      const name = rt.valuesById[value];
      if (name !== undefined) return name;
      return value; // an enum value newer than our descriptor: kept, the translator decides
    }
    if (typeof value === 'string' && value in rt.values) return value;
    issues.error(path, `unknown ${rt.name} value ${describe(value)}`);
    return undefined;
  }
  return scalar(f.type, value, issues, path);
}

function scalar(kind: string, value: unknown, issues: IssueList, path: string): Json | undefined {
  switch (kind) {
    case 'string':
      if (typeof value !== 'string') break;
      if (!wellFormed(value)) {
        issues.error(path, 'string is not well-formed Unicode');
        return undefined;
      }
      return value;
    case 'bool':
      if (typeof value === 'boolean') return value;
      break;
    case 'bytes':
      if (value instanceof Uint8Array)
        return Buffer.from(value.buffer, value.byteOffset, value.length).toString('base64');
      if (typeof value === 'string') return value;
      break;
    case 'double':
    case 'float':
      if (typeof value === 'number') return value;
      if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)))
        return Number(value);
      break;
    default: {
      // integers: int32, uint32, sint32, fixed32, sfixed32 and their 64-bit forms
      const n = toInteger(value);
      if (n !== undefined) {
        if (kind.startsWith('u') || kind === 'fixed32' || kind === 'fixed64') {
          if (n < 0) {
            issues.error(path, `expected an unsigned integer, got ${n}`);
            return undefined;
          }
        }
        return n;
      }
    }
  }
  issues.error(path, `expected ${kind}, got ${describe(value)}`);
  return undefined;
}

function toInteger(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  if (isObject(value) && typeof value.low === 'number' && typeof value.high === 'number') {
    const unsigned = value.unsigned === true;
    return value.high * 4294967296 + (unsigned || value.low >= 0 ? value.low >>> 0 : value.low >>> 0);
  }
  return undefined;
}

function wellKnown(
  fullName: string,
  type: protobuf.Type,
  input: unknown,
  issues: IssueList,
  path: string,
  budget: Budget,
  depth: number,
): Json | undefined {
  switch (fullName) {
    case '.google.protobuf.Duration':
      return duration(input, issues, path);
    case '.google.protobuf.BoolValue':
    case '.google.protobuf.StringValue':
    case '.google.protobuf.UInt32Value':
    case '.google.protobuf.Int32Value':
    case '.google.protobuf.UInt64Value':
    case '.google.protobuf.Int64Value':
    case '.google.protobuf.DoubleValue':
    case '.google.protobuf.FloatValue':
    case '.google.protobuf.BytesValue': {
      const inner = isObject(input) && 'value' in input ? input.value : input;
      const kind = (type.fields.value as protobuf.Field).type;
      if (isObject(input) && !('value' in input)) return kind === 'string' ? '' : kind === 'bool' ? false : 0;
      return scalar(kind, inner, issues, path);
    }
    case '.google.protobuf.Struct':
      return input instanceof protobuf.Message
        ? structFromWire(input as protobuf.Message, budget, path)
        : plainJson(input, issues, path, budget, depth);
    case '.google.protobuf.Value':
      return input instanceof protobuf.Message
        ? valueFromWire(input as protobuf.Message, budget, path)
        : plainJson(input, issues, path, budget, depth);
    case '.google.protobuf.ListValue':
      return input instanceof protobuf.Message
        ? ((input as unknown as { values?: protobuf.Message[] }).values ?? []).map((v) =>
            valueFromWire(v, budget, path),
          )
        : plainJson(input, issues, path, budget, depth);
    case '.google.protobuf.Any':
      return any(input, issues, path, budget, depth);
    case '.google.protobuf.Empty':
      return {};
    case '.google.protobuf.Timestamp':
      return typeof input === 'string' ? input : '';
    default:
      return {};
  }
}

function duration(input: unknown, issues: IssueList, path: string): number | undefined {
  if (typeof input === 'string') {
    const m = /^(-?\d+)(?:\.(\d{1,9}))?s$/.exec(input);
    if (m) {
      const seconds = Number(m[1]);
      const frac = m[2] ? Number(`0.${m[2]}`) : 0;
      return seconds * 1000 + (seconds < 0 ? -frac : frac) * 1000;
    }
  } else if (isObject(input)) {
    const s = toInteger(input.seconds ?? 0);
    const n = toInteger(input.nanos ?? 0);
    if (s !== undefined && n !== undefined) return s * 1000 + n / 1e6;
  }
  issues.error(path, `expected a duration such as "1.5s", got ${describe(input)}`);
  return undefined;
}

function plainJson(
  input: unknown,
  issues: IssueList,
  path: string,
  budget: Budget,
  depth: number,
): Json | undefined {
  enter(budget, path, depth);
  if (input === null || typeof input === 'boolean') return input;
  if (typeof input === 'number') return Number.isFinite(input) ? input : null;
  if (typeof input === 'string') {
    if (wellFormed(input)) return input;
    issues.error(path, 'string is not well-formed Unicode');
    return undefined;
  }
  if (Array.isArray(input)) {
    const out: Json[] = [];
    for (let i = 0; i < input.length; i++) {
      const v = plainJson(input[i], issues, index(path, i), budget, depth + 1);
      if (v !== undefined) out.push(v);
    }
    return out;
  }
  if (isObject(input)) {
    const out: JsonObject = {};
    for (const k of Object.keys(input)) {
      const v = plainJson(input[k], issues, key(path, k), budget, depth + 1);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  issues.error(path, `expected JSON, got ${describe(input)}`);
  return undefined;
}

function structFromWire(msg: protobuf.Message, budget: Budget, path: string): Json {
  const out: JsonObject = {};
  const fields = (msg as unknown as { fields?: Record<string, protobuf.Message> }).fields ?? {};
  for (const k of Object.keys(fields)) out[k] = valueFromWire(fields[k] as protobuf.Message, budget, path);
  return out;
}

function valueFromWire(msg: protobuf.Message, budget: Budget, path: string): Json {
  count(budget, path);
  const v = msg as unknown as {
    nullValue?: number;
    numberValue?: number;
    stringValue?: string;
    boolValue?: boolean;
    structValue?: protobuf.Message;
    listValue?: { values?: protobuf.Message[] };
  };
  if (Object.hasOwn(v, 'numberValue')) return v.numberValue ?? 0;
  if (Object.hasOwn(v, 'stringValue')) return v.stringValue ?? '';
  if (Object.hasOwn(v, 'boolValue')) return v.boolValue ?? false;
  if (Object.hasOwn(v, 'structValue') && v.structValue) return structFromWire(v.structValue, budget, path);
  if (Object.hasOwn(v, 'listValue'))
    return (v.listValue?.values ?? []).map((x) => valueFromWire(x, budget, path));
  return null;
}

function any(
  input: unknown,
  issues: IssueList,
  path: string,
  budget: Budget,
  depth: number,
): Json | undefined {
  if (!isObject(input)) {
    issues.error(path, `expected an Any with "@type", got ${describe(input)}`);
    return undefined;
  }
  if (input instanceof protobuf.Message) {
    // protobufjs's bundled Any keeps the proto name `type_url`.
    const { type_url: typeUrl, value } = input as unknown as { type_url?: string; value?: Uint8Array };
    const url = typeUrl ?? '';
    const type = typeOfUrl(url);
    if (!type) return { '@type': url };
    const decoded = decodeMessage(type, value ?? new Uint8Array(0), issues, path);
    if (!decoded) return undefined;
    const inner = message(type, decoded, issues, path, budget, depth + 1);
    return inner && typeof inner === 'object' && !Array.isArray(inner)
      ? { '@type': url, ...inner }
      : undefined;
  }
  const url = input['@type'];
  if (typeof url !== 'string') {
    issues.error(path, 'an Any needs a "@type"');
    return undefined;
  }
  const type = typeOfUrl(url);
  if (!type) return { '@type': url };
  const rest: Record<string, unknown> = {};
  for (const k of Object.keys(input)) if (k !== '@type') rest[k] = input[k];
  // Well-known types in an Any carry their JSON form under "value" (proto3 JSON mapping).
  const body = typeInfo(type).fullName.startsWith('.google.protobuf.') && 'value' in rest ? rest.value : rest;
  const inner = message(type, body, issues, path, budget, depth + 1);
  return inner && typeof inner === 'object' && !Array.isArray(inner) ? { '@type': url, ...inner } : undefined;
}

/** Decodes wire bytes as `type`, rejecting malformed input and invalid UTF-8 with an issue. */
export function decodeMessage(
  type: protobuf.Type,
  bytes: Uint8Array,
  issues: IssueList,
  path: string,
): protobuf.Message | undefined {
  try {
    const buf = Buffer.isBuffer(bytes)
      ? bytes
      : bytes instanceof Uint8Array
        ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
        : Buffer.from(bytes); // protobufjs's default for empty bytes is []
    // protobufjs 8 verifies UTF-8 in proto3 string fields (a fatal TextDecoder).
    return type.decode(buf);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA')
      issues.error(path, `invalid UTF-8 in a string field of ${type.name}`);
    // protobufjs 8 bounds recursion itself ("max depth exceeded"); the stack is the last resort.
    else if (err instanceof Error && /max depth exceeded|call stack/i.test(err.message))
      issues.error(path, `malformed ${type.name}: nested too deeply to decode`);
    else issues.error(path, `malformed ${type.name}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')
    return `${typeof v} ${v.toString()}`;
  return typeof v;
}
