// Envoy's HeaderParser: `*_headers_to_remove` then `*_headers_to_add`, with append actions and
// `keep_empty_value`, compiled once. Values may use a few of Envoy's formatter commands; the rest
// are a config error (Envoy rejects unknown commands too).
import type * as model from '@meshlet/xds';
import type { ConnectionInfo, HeaderMap, RequestHead } from '../types.js';
import { headerSource, requestValue } from '../matchers/header-matcher.js';
import { at, configError, indexed } from './where.js';

const APPEND = 0;
const ADD_IF_ABSENT = 1;
const OVERWRITE_OR_ADD = 2;
const OVERWRITE_IF_EXISTS = 3;

const ACTIONS: Readonly<Record<string, number>> = {
  APPEND_IF_EXISTS_OR_ADD: APPEND,
  ADD_IF_ABSENT,
  OVERWRITE_IF_EXISTS_OR_ADD: OVERWRITE_OR_ADD,
  OVERWRITE_IF_EXISTS,
};

// Formatter commands.
const REMOTE_ADDRESS = 0;
const REMOTE_ADDRESS_WITHOUT_PORT = 1;
const REMOTE_PORT = 2;
const LOCAL_ADDRESS = 3;
const LOCAL_ADDRESS_WITHOUT_PORT = 4;
const LOCAL_PORT = 5;
const REQ = 6;

const COMMANDS: Readonly<Record<string, number>> = {
  DOWNSTREAM_REMOTE_ADDRESS: REMOTE_ADDRESS,
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: REMOTE_ADDRESS_WITHOUT_PORT,
  DOWNSTREAM_REMOTE_PORT: REMOTE_PORT,
  DOWNSTREAM_LOCAL_ADDRESS: LOCAL_ADDRESS,
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: LOCAL_ADDRESS_WITHOUT_PORT,
  DOWNSTREAM_LOCAL_PORT: LOCAL_PORT,
};

/** One `%COMMAND%` of a header value. */
class Command {
  readonly kind: number;
  /** `%REQ(a?b)%`: the header names to try, in order, and where each is read. */
  readonly names: readonly string[];
  readonly sources: readonly number[];
  /** `%REQ(x):N%`: at most N characters; -1 for no limit. */
  readonly maxLength: number;

  constructor(kind: number, names: readonly string[], maxLength: number) {
    this.kind = kind;
    this.names = names;
    this.sources = names.map(headerSource);
    this.maxLength = maxLength;
  }

  format(request: RequestHead | undefined, connection: ConnectionInfo | undefined): string {
    if (this.kind === REQ) {
      if (!request) return '';
      for (let i = 0; i < this.names.length; i++) {
        const value = requestValue(request, this.sources[i] as number, this.names[i] as string);
        if (value !== undefined) return this.maxLength >= 0 ? value.slice(0, this.maxLength) : value;
      }
      return '';
    }
    if (!connection) return '';
    switch (this.kind) {
      case REMOTE_ADDRESS:
        return hostPort(connection.remoteAddress, connection.remotePort);
      case REMOTE_ADDRESS_WITHOUT_PORT:
        return connection.remoteAddress;
      case REMOTE_PORT:
        return String(connection.remotePort);
      case LOCAL_ADDRESS:
        return hostPort(connection.localAddress, connection.localPort);
      case LOCAL_ADDRESS_WITHOUT_PORT:
        return connection.localAddress;
      default:
        return String(connection.localPort);
    }
  }
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

const COMMAND = /^([A-Z_]+)(?:\(([^)]*)\))?(?::(\d+))?$/;

/** Splits a header value into literal text and commands; `%%` is a literal `%`. */
function parseValue(value: string, where: string): (string | Command)[] {
  const parts: (string | Command)[] = [];
  let text = '';
  let i = 0;
  while (i < value.length) {
    const pct = value.indexOf('%', i);
    if (pct < 0) {
      text += value.slice(i);
      break;
    }
    text += value.slice(i, pct);
    if (value[pct + 1] === '%') {
      text += '%';
      i = pct + 2;
      continue;
    }
    const end = value.indexOf('%', pct + 1);
    if (end < 0)
      throw configError(
        where,
        `unterminated formatter command in ${JSON.stringify(value)} (write %% for a literal %)`,
      );
    const m = COMMAND.exec(value.slice(pct + 1, end));
    const name = m?.[1] ?? '';
    let command: Command;
    if (name === 'REQ' && m?.[2]) {
      const names = m[2].split('?').map((n) => n.trim().toLowerCase());
      if (names.some((n) => n === ''))
        throw configError(where, `bad %REQ()% command in ${JSON.stringify(value)}`);
      command = new Command(REQ, names, m[3] === undefined ? -1 : Number(m[3]));
    } else if (m && m[2] === undefined && m[3] === undefined && name in COMMANDS) {
      command = new Command(COMMANDS[name] as number, [], -1);
    } else {
      throw configError(
        where,
        `unsupported formatter command %${value.slice(pct + 1, end)}% (supported: %REQ(name)%, %DOWNSTREAM_REMOTE_ADDRESS%, %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%, %DOWNSTREAM_REMOTE_PORT%, %DOWNSTREAM_LOCAL_ADDRESS%, %DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%, %DOWNSTREAM_LOCAL_PORT%)`,
      );
    }
    if (text !== '') parts.push(text);
    text = '';
    parts.push(command);
    i = end + 1;
  }
  if (text !== '') parts.push(text);
  return parts;
}

/** One header to add. */
class HeaderAdd {
  readonly name: string;
  /** The value when it has no command (the common case): no formatting per request. */
  readonly literal: string | null;
  readonly parts: readonly (string | Command)[];
  readonly action: number;
  readonly keepEmpty: boolean;

  constructor(option: model.HeaderValueOption, where: string, request: boolean) {
    const name = option.header.key.toLowerCase();
    checkName(name, where, request);
    this.name = name;
    this.parts = parseValue(option.header.value, where);
    const only = this.parts[0];
    this.literal =
      this.parts.length === 0 ? '' : this.parts.length === 1 && typeof only === 'string' ? only : null;
    const action = ACTIONS[option.appendAction];
    if (action === undefined)
      throw configError(where, `unknown append_action ${JSON.stringify(option.appendAction)}`);
    this.action = action;
    this.keepEmpty = option.keepEmptyValue;
  }

  value(request: RequestHead | undefined, connection: ConnectionInfo | undefined): string {
    if (this.literal !== null) return this.literal;
    let out = '';
    for (const part of this.parts) out += typeof part === 'string' ? part : part.format(request, connection);
    return out;
  }

  apply(headers: HeaderMap, request: RequestHead | undefined, connection: ConnectionInfo | undefined): void {
    const value = this.value(request, connection);
    if (value === '' && !this.keepEmpty) return;
    const existing = headers[this.name];
    switch (this.action) {
      case APPEND:
        if (existing === undefined) headers[this.name] = value;
        else if (typeof existing === 'string') headers[this.name] = [existing, value];
        else headers[this.name] = [...existing, value];
        return;
      case ADD_IF_ABSENT:
        if (existing === undefined) headers[this.name] = value;
        return;
      case OVERWRITE_OR_ADD:
        headers[this.name] = value;
        return;
      default:
        if (existing !== undefined) headers[this.name] = value;
    }
  }
}

function checkName(name: string, where: string, request: boolean): void {
  if (name === '') throw configError(where, 'a header name must not be empty');
  // Envoy refuses to let route config touch pseudo-headers and Host: routing depends on them.
  if (name.startsWith(':') || (request && name === 'host'))
    throw configError(where, `header ${JSON.stringify(name)} cannot be added or removed by route config`);
}

/** The request or response half of one level's header changes. */
export class HeaderOps {
  readonly remove: readonly string[];
  readonly add: readonly HeaderAdd[];

  constructor(
    toAdd: readonly model.HeaderValueOption[],
    toRemove: readonly string[],
    where: string,
    request: boolean,
  ) {
    const kind = request ? 'request' : 'response';
    this.remove = toRemove.map((name, i) => {
      const lower = name.toLowerCase();
      checkName(lower, indexed(at(where, `${kind}_headers_to_remove`), i), request);
      return lower;
    });
    this.add = toAdd.map(
      (option, i) => new HeaderAdd(option, indexed(at(where, `${kind}_headers_to_add`), i), request),
    );
  }

  get empty(): boolean {
    return this.remove.length === 0 && this.add.length === 0;
  }

  /** Removes, then adds, as Envoy's HeaderParser::evaluateHeaders. */
  apply(headers: HeaderMap, request: RequestHead | undefined, connection: ConnectionInfo | undefined): void {
    for (const name of this.remove) if (headers[name] !== undefined) Reflect.deleteProperty(headers, name);
    for (const add of this.add) add.apply(headers, request, connection);
  }
}

/** One level's request and response header changes (route configuration, virtual host, route, weighted cluster). */
export class CompiledHeaderChanges {
  readonly request: HeaderOps;
  readonly response: HeaderOps;

  constructor(changes: model.HeaderChanges, where: string) {
    this.request = new HeaderOps(changes.requestHeadersToAdd, changes.requestHeadersToRemove, where, true);
    this.response = new HeaderOps(
      changes.responseHeadersToAdd,
      changes.responseHeadersToRemove,
      where,
      false,
    );
  }
}
