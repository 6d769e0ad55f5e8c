// The way back: Envoy JSON (snake_case or camelCase) to protobuf bytes, for the test control
// plane and for tests. Canonical JSON (see canonical.ts) is turned into the plain object shape
// protobufjs's fromObject takes, then encoded.
import protobuf from 'protobufjs/light.js';
import { typeOfUrl } from '../descriptor.js';
import { XdsTranslationError } from '../errors.js';
import { IssueList } from '../issues.js';
import { type Json, type JsonObject, camel, canonicalize } from './canonical.js';

/** A protobuf Any: what a DiscoveryResponse carries. */
export interface EncodedAny {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

/**
 * Encodes an Envoy resource given as JSON with `@type` (or with `typeUrl` passed) as a protobuf
 * Any. Throws an XdsTranslationError naming the fields that do not fit the type.
 */
export function encodeResource(resource: object, typeUrl?: string): EncodedAny {
  const input = { ...(resource as Record<string, unknown>) };
  const url = typeUrl ?? (typeof input['@type'] === 'string' ? input['@type'] : '');
  delete input['@type'];
  const type = typeOfUrl(url);
  const issues = new IssueList(
    `resource ${JSON.stringify(input.name ?? input.cluster_name ?? input.clusterName ?? '')}`,
  );
  if (!type) {
    issues.error('', `unknown type ${url || '(none)'}`);
    throw new XdsTranslationError(issues.errors);
  }
  const json = canonicalize(type, input, issues);
  if (!json || issues.errors.length) throw new XdsTranslationError(issues.errors);
  return { typeUrl: url, value: encodeCanonical(type, json) };
}

function encodeCanonical(type: protobuf.Type, json: JsonObject): Uint8Array {
  return type.encode(type.fromObject(toObject(type, json) as Record<string, unknown>)).finish();
}

function toObject(type: protobuf.Type, v: Json): unknown {
  switch (type.fullName) {
    case '.google.protobuf.Duration': {
      const ms = typeof v === 'number' ? v : 0;
      const seconds = Math.trunc(ms / 1000);
      return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
    }
    case '.google.protobuf.BoolValue':
    case '.google.protobuf.StringValue':
    case '.google.protobuf.UInt32Value':
    case '.google.protobuf.Int32Value':
    case '.google.protobuf.UInt64Value':
    case '.google.protobuf.Int64Value':
    case '.google.protobuf.DoubleValue':
    case '.google.protobuf.FloatValue':
    case '.google.protobuf.BytesValue':
      return { value: v };
    case '.google.protobuf.Struct':
      return structOf(v);
    case '.google.protobuf.Value':
      return valueOf(v);
    case '.google.protobuf.ListValue':
      return { values: Array.isArray(v) ? v.map(valueOf) : [] };
    case '.google.protobuf.Any': {
      const o = (v ?? {}) as JsonObject;
      const url = typeof o['@type'] === 'string' ? o['@type'] : '';
      const inner = typeOfUrl(url);
      const rest: JsonObject = {};
      for (const k of Object.keys(o)) if (k !== '@type') rest[k] = o[k] as Json;
      // A type we have no schema for can only travel empty: its fields cannot be encoded.
      if (!inner) {
        if (Object.keys(rest).length)
          throw new Error(`cannot encode the fields of an Any of unknown type ${url}`);
        return { type_url: url, value: new Uint8Array(0) };
      }
      return { type_url: url, value: encodeCanonical(inner, rest) };
    }
    default:
  }
  const o = (v ?? {}) as JsonObject;
  const out: Record<string, unknown> = {};
  for (const f of type.fieldsArray) {
    const value = o[camel(f.name)];
    if (value === undefined) continue;
    const rt = f.resolvedType;
    const one = (x: Json): unknown => (rt instanceof protobuf.Type ? toObject(rt, x) : x);
    if (f.map) {
      const m: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(value as JsonObject)) m[k] = one(x);
      out[f.name] = m;
    } else if (f.repeated) out[f.name] = (value as Json[]).map(one);
    else out[f.name] = one(value);
  }
  return out;
}

function structOf(v: Json): unknown {
  const fields: Record<string, unknown> = {};
  if (v && typeof v === 'object' && !Array.isArray(v))
    for (const [k, x] of Object.entries(v)) fields[k] = valueOf(x);
  return { fields };
}

function valueOf(v: Json): unknown {
  if (v === null) return { nullValue: 0 };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(valueOf) } };
  return { structValue: structOf(v) };
}
