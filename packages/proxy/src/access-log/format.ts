// Envoy's access log format strings, compiled once per config into parts: literal text and
// command operators (`%RESPONSE_CODE%`, `%REQ(X?Y):Z%`...). Formatting a line walks the parts.
import { hostname } from 'node:os';
import type * as model from '@meshlet/xds';
import { ConfigError } from '../errors.js';
import { headerSource, joinedHeader, requestValue } from '../matchers/header-matcher.js';
import type { ConnectionInfo, HttpContext, StreamInfo } from '../types.js';

/**
 * What one access log entry is made of: a stream (HTTP, RPC) or, for a TCP proxy, a connection
 * (`ctx` null). The observer fills one object and reuses it: formatting is synchronous.
 */
export interface LogEntry {
  ctx: HttpContext | null;
  connection: ConnectionInfo;
  info: StreamInfo;
}

/** A command operator's value: a string or number, `undefined` when there is none (`-`). */
type Value = string | number | undefined;

/** One command operator, compiled. */
interface Operator {
  value(entry: LogEntry): Value;
}

/** Envoy's default format (without the trailing newline: a line is one entry). */
export const DEFAULT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"';

/** Formats entries into lines (without a newline): text, or one JSON object per line. */
export interface LogFormatter {
  format(entry: LogEntry): string;
}

/** Compiles a model format; a bad command operator throws a ConfigError naming `where`. */
export function compileFormat(format: model.AccessLogFormat, where: string): LogFormatter {
  switch (format.kind) {
    case 'default':
      return new TextFormatter(parse(DEFAULT_FORMAT, where));
    case 'text':
      // Envoy writes the format as is, newline included; meshlet writes one entry per line.
      return new TextFormatter(parse(format.text.replace(/\r?\n$/, ''), where));
    case 'json':
      return new JsonFormatter(compileJson(format.json, where), format.omitEmptyValues);
  }
}

// ── text ─────────────────────────────────────────────────────────────────────────────────────

type Part = string | Operator;

class TextFormatter implements LogFormatter {
  private readonly parts: readonly Part[];

  constructor(parts: readonly Part[]) {
    this.parts = parts;
  }

  format(entry: LogEntry): string {
    let out = '';
    for (const part of this.parts) {
      if (typeof part === 'string') out += part;
      else {
        const v = part.value(entry);
        out += v === undefined || v === '' ? '-' : typeof v === 'number' ? String(v) : v;
      }
    }
    return out;
  }
}

// `%NAME%`, `%NAME(arg)%`, `%NAME(arg):len%`; `%%` is a literal percent sign.
const OPERATOR = /%([A-Z][A-Z0-9_]*)(?:\(([^)]*)\))?(?::(\d+))?%/y;

/** A format string to parts: literal runs and operators. */
export function parse(text: string, where: string): Part[] {
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf('%', i);
    if (at < 0) {
      literal += text.slice(i);
      break;
    }
    literal += text.slice(i, at);
    if (text[at + 1] === '%') {
      literal += '%';
      i = at + 2;
      continue;
    }
    OPERATOR.lastIndex = at;
    const m = OPERATOR.exec(text);
    if (m === null)
      throw new ConfigError(
        `${where}: a "%" at ${at} starts no command operator (write "%%" for a percent sign)`,
      );
    if (literal) parts.push(literal);
    literal = '';
    const len = m[3] === undefined ? undefined : Number(m[3]);
    parts.push(operator(m[1] as string, m[2], len, where));
    i = at + m[0].length;
  }
  if (literal) parts.push(literal);
  return parts;
}

// ── JSON ─────────────────────────────────────────────────────────────────────────────────────

/** A compiled `json_format` value: a constant, an operator (typed), a text template, or an object. */
type JsonTemplate =
  | { readonly kind: 'const'; readonly value: string | number | boolean | null }
  | { readonly kind: 'op'; readonly op: Operator }
  | { readonly kind: 'text'; readonly text: TextFormatter }
  | { readonly kind: 'object'; readonly fields: readonly (readonly [string, JsonTemplate])[] };

function compileJson(json: Readonly<Record<string, model.JsonFormatValue>>, where: string): JsonTemplate {
  const fields: [string, JsonTemplate][] = [];
  for (const [key, v] of Object.entries(json)) fields.push([key, compileJsonValue(v, `${where}.${key}`)]);
  return { kind: 'object', fields };
}

function compileJsonValue(v: model.JsonFormatValue, where: string): JsonTemplate {
  if (v === null || typeof v !== 'object') {
    if (typeof v !== 'string' || !v.includes('%')) return { kind: 'const', value: v };
    const parts = parse(v, where);
    if (parts.length === 1 && typeof parts[0] !== 'string') return { kind: 'op', op: parts[0] as Operator };
    return { kind: 'text', text: new TextFormatter(parts) };
  }
  return compileJson(v, where);
}

class JsonFormatter implements LogFormatter {
  private readonly template: JsonTemplate;
  private readonly omitEmpty: boolean;

  constructor(template: JsonTemplate, omitEmpty: boolean) {
    this.template = template;
    this.omitEmpty = omitEmpty;
  }

  format(entry: LogEntry): string {
    return JSON.stringify(this.build(this.template, entry));
  }

  private build(t: JsonTemplate, entry: LogEntry): unknown {
    switch (t.kind) {
      case 'const':
        return t.value;
      case 'op': {
        // Typed as Envoy does: numbers stay numbers; a missing value is null.
        const v = t.op.value(entry);
        return v === undefined || v === '' ? null : v;
      }
      case 'text':
        return t.text.format(entry);
      case 'object': {
        const out: Record<string, unknown> = {};
        for (const [key, inner] of t.fields) {
          const v = this.build(inner, entry);
          if (this.omitEmpty && (v === null || v === '')) continue;
          out[key] = v;
        }
        return out;
      }
    }
  }
}

// ── command operators ────────────────────────────────────────────────────────────────────────

function operator(name: string, arg: string | undefined, len: number | undefined, where: string): Operator {
  const simple = SIMPLE[name];
  if (simple !== undefined) {
    if (arg !== undefined) throw new ConfigError(`${where}: %${name}% takes no argument`);
    return simple;
  }
  switch (name) {
    case 'START_TIME':
      return new StartTime(arg === undefined || arg === '' ? null : compileStrftime(arg, where));
    case 'REQ':
    case 'REQUEST_HEADER':
      return new RequestHeaderOp(headerArg(name, arg, where), len);
    case 'RESP':
    case 'RESPONSE_HEADER':
      return new ResponseHeaderOp(headerArg(name, arg, where), len);
    default:
      throw new ConfigError(`${where}: command operator %${name}% is not supported`);
  }
}

function headerArg(name: string, arg: string | undefined, where: string): [string, string | undefined] {
  if (arg === undefined || arg === '') throw new ConfigError(`${where}: %${name}(...)% needs a header name`);
  const q = arg.indexOf('?');
  const main = (q < 0 ? arg : arg.slice(0, q)).toLowerCase();
  const alt = q < 0 ? undefined : arg.slice(q + 1).toLowerCase();
  return [main, alt];
}

function op(value: (entry: LogEntry) => Value): Operator {
  return { value };
}

/** Milliseconds from the stream's start to `time`, or missing (`-`) when that moment never came. */
function sinceStart(info: StreamInfo, time: number | undefined): number | undefined {
  return time === undefined ? undefined : Math.round(time - info.startTime);
}

function withPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

const HOSTNAME = hostname();

/** Operators without arguments, by name. */
const SIMPLE: Record<string, Operator | undefined> = {
  RESPONSE_CODE: op((e) => e.ctx?.response?.status ?? 0),
  RESPONSE_FLAGS: op((e) => {
    const flags = e.info.responseFlags;
    if (flags.size === 0) return undefined;
    let out = '';
    for (const f of flags) out = out === '' ? f : `${out},${f}`;
    return out;
  }),
  RESPONSE_CODE_DETAILS: op((e) => e.info.responseCodeDetails),
  DURATION: op((e) => (e.info.endTime > 0 ? Math.round(e.info.endTime - e.info.startTime) : undefined)),
  REQUEST_DURATION: op((e) => sinceStart(e.info, e.info.requestCompleteTime)),
  RESPONSE_DURATION: op((e) => sinceStart(e.info, e.info.firstUpstreamByteTime)),
  RESPONSE_TX_DURATION: op((e) => {
    const first = e.info.firstUpstreamByteTime;
    return first === undefined || e.info.endTime === 0 ? undefined : Math.round(e.info.endTime - first);
  }),
  BYTES_RECEIVED: op((e) => e.info.bytesReceived),
  BYTES_SENT: op((e) => e.info.bytesSent),
  PROTOCOL: op((e) => e.ctx?.protocol),
  UPSTREAM_HOST: op((e) => e.info.upstreamHost),
  UPSTREAM_CLUSTER: op((e) => e.info.upstreamCluster),
  UPSTREAM_REQUEST_ATTEMPT_COUNT: op((e) => e.info.attempts),
  DOWNSTREAM_REMOTE_ADDRESS: op((e) => {
    const c = e.connection;
    const trusted = e.info.downstreamRemoteAddress;
    // An address taken from x-forwarded-for has no port: Envoy prints 0.
    if (trusted !== undefined && trusted !== c.remoteAddress) return withPort(trusted, 0);
    return withPort(c.remoteAddress, c.remotePort);
  }),
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: op(
    (e) => e.info.downstreamRemoteAddress ?? e.connection.remoteAddress,
  ),
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: op((e) => withPort(e.connection.remoteAddress, e.connection.remotePort)),
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: op((e) => e.connection.remoteAddress),
  DOWNSTREAM_LOCAL_ADDRESS: op((e) => withPort(e.connection.localAddress, e.connection.localPort)),
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: op((e) => e.connection.localAddress),
  REQUESTED_SERVER_NAME: op((e) => e.connection.serverName),
  ROUTE_NAME: op((e) => e.ctx?.route?.name),
  CONNECTION_ID: op((e) => e.connection.id),
  STREAM_ID: op((e) => e.ctx?.requestId),
  TRACE_ID: op((e) => traceIdOf(e.ctx)),
  HOSTNAME: op(() => HOSTNAME),
};

/** The trace id of the request's `traceparent` (set by the tracing observer), if valid. */
function traceIdOf(ctx: HttpContext | null): string | undefined {
  const tp = ctx?.request.headers.traceparent;
  if (typeof tp !== 'string' || tp.length < 55 || tp[2] !== '-') return undefined;
  const id = tp.slice(3, 35);
  return id === '00000000000000000000000000000000' ? undefined : id;
}

function truncate(v: string | undefined, len: number | undefined): string | undefined {
  return v !== undefined && len !== undefined && v.length > len ? v.slice(0, len) : v;
}

class RequestHeaderOp implements Operator {
  private readonly name: string;
  private readonly source: number;
  private readonly alt: string | undefined;
  private readonly altSource: number;
  private readonly len: number | undefined;

  constructor([name, alt]: [string, string | undefined], len: number | undefined) {
    this.name = name;
    this.source = headerSource(name);
    this.alt = alt;
    this.altSource = alt === undefined ? 0 : headerSource(alt);
    this.len = len;
  }

  value(entry: LogEntry): Value {
    const ctx = entry.ctx;
    if (ctx === null) return undefined;
    let v = requestValue(ctx.request, this.source, this.name);
    if (v === undefined && this.alt !== undefined) v = requestValue(ctx.request, this.altSource, this.alt);
    return truncate(v, this.len);
  }
}

class ResponseHeaderOp implements Operator {
  private readonly name: string;
  private readonly alt: string | undefined;
  private readonly len: number | undefined;

  constructor([name, alt]: [string, string | undefined], len: number | undefined) {
    this.name = name;
    this.alt = alt;
    this.len = len;
  }

  value(entry: LogEntry): Value {
    const response = entry.ctx?.response;
    if (response == null) return undefined;
    if (this.name === ':status') return response.status;
    let v = joinedHeader(response.headers, this.name);
    if (v === undefined && this.alt !== undefined) v = joinedHeader(response.headers, this.alt);
    return truncate(v, this.len);
  }
}

class StartTime implements Operator {
  private readonly strftime: ((date: Date, ms: number) => string) | null;

  constructor(strftime: ((date: Date, ms: number) => string) | null) {
    this.strftime = strftime;
  }

  value(entry: LogEntry): Value {
    const ms = entry.info.startTimeUnixMs;
    const date = new Date(ms);
    return this.strftime === null ? date.toISOString() : this.strftime(date, ms);
  }
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** The strftime specifiers meshlet knows (UTC), and Envoy's `%f`/`%Nf` fractions of a second. */
const SPECIFIERS: Record<string, (d: Date, ms: number) => string> = {
  Y: (d) => String(d.getUTCFullYear()),
  m: (d) => pad(d.getUTCMonth() + 1, 2),
  d: (d) => pad(d.getUTCDate(), 2),
  H: (d) => pad(d.getUTCHours(), 2),
  M: (d) => pad(d.getUTCMinutes(), 2),
  S: (d) => pad(d.getUTCSeconds(), 2),
  j: (d) => pad(Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1, 3),
  s: (_d, ms) => String(Math.floor(ms / 1000)),
  z: () => '+0000',
  Z: () => 'UTC',
  F: (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`,
  T: (d) => `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`,
  f: (_d, ms) => pad(Math.floor(ms % 1000), 3) + '000000',
  '%': () => '%',
};

/** Compiles a `START_TIME(...)` format into pieces. */
function compileStrftime(fmt: string, where: string): (date: Date, ms: number) => string {
  const pieces: (string | ((d: Date, ms: number) => string))[] = [];
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i] as string;
    if (c !== '%') {
      pieces.push(c);
      continue;
    }
    let spec = fmt[++i];
    let digits = 0;
    if (spec !== undefined && spec >= '1' && spec <= '9' && fmt[i + 1] === 'f') {
      digits = Number(spec);
      spec = fmt[++i];
    }
    const fn = spec === undefined ? undefined : SPECIFIERS[spec];
    if (fn === undefined)
      throw new ConfigError(`${where}: START_TIME specifier %${spec ?? ''} is not supported`);
    pieces.push(digits === 0 ? fn : (d, ms) => fn(d, ms).slice(0, digits));
  }
  return (date, ms) => {
    let out = '';
    for (const p of pieces) out += typeof p === 'string' ? p : p(date, ms);
    return out;
  };
}
