// Header additions and removals (Envoy's HeaderValueOption and its append actions), compiled
// once and applied in order to a header map. Shared by header_mutation and local_rate_limit's
// `responseHeadersToAdd`.
import type { HeaderMap } from '../../types.js';
import type { ConfigReader } from '../config-reader.js';

const REMOVE = 0;
const APPEND_IF_EXISTS_OR_ADD = 1;
const ADD_IF_ABSENT = 2;
const OVERWRITE_IF_EXISTS_OR_ADD = 3;
const OVERWRITE_IF_EXISTS = 4;

const ACTIONS: Readonly<Record<string, number>> = {
  APPEND_IF_EXISTS_OR_ADD,
  ADD_IF_ABSENT,
  OVERWRITE_IF_EXISTS_OR_ADD,
  OVERWRITE_IF_EXISTS,
};

// RFC 9110 token characters; names are kept lower-case as in every HeaderMap.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/**
 * What a header value may hold, as node:http checks it when the head is written (tab, visible
 * ASCII, space, obs-text): anything else would throw there, on the data plane, so it is a config
 * error here.
 */
const SAFE_HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Whether node:http would accept `value` as a header value. */
export function isSafeHeaderValue(value: string): boolean {
  return SAFE_HEADER_VALUE.test(value);
}

/** One compiled header operation. */
export class HeaderOp {
  readonly kind: number;
  readonly name: string;
  readonly value: string;

  constructor(kind: number, name: string, value: string) {
    this.kind = kind;
    this.name = name;
    this.value = value;
  }
}

function headerName(reader: ConfigReader, value: unknown, field: string): string {
  const name = reader.string(value, field).toLowerCase();
  if (name.startsWith(':') || name === 'host') {
    throw reader.error(
      field,
      `cannot change ${JSON.stringify(name)}: pseudo-headers and host are the request head's`,
    );
  }
  if (!TOKEN.test(name)) throw reader.error(field, `is not a valid header name: ${JSON.stringify(name)}`);
  return name;
}

/**
 * Compiles a HeaderValueOption; `null` when it adds nothing (an empty value without
 * `keepEmptyValue`, which Envoy drops).
 */
export function compileHeaderValueOption(
  reader: ConfigReader,
  config: unknown,
  field: string,
): HeaderOp | null {
  const o = reader.object(config, field);
  const header = reader.object(o.header, `${field}.header`);
  const name = headerName(reader, header.key, `${field}.header.key`);
  const value = reader.string(header.value, `${field}.header.value`, '');
  if (!isSafeHeaderValue(value)) {
    throw reader.error(
      `${field}.header.value`,
      'may hold only tab, visible ASCII, space and bytes 0x80-0xff',
    );
  }
  const actionName = reader.string(o.appendAction, `${field}.appendAction`, 'APPEND_IF_EXISTS_OR_ADD');
  const kind = ACTIONS[actionName];
  if (kind === undefined) {
    throw reader.error(
      `${field}.appendAction`,
      `must be one of ${Object.keys(ACTIONS).join(', ')}, got ${JSON.stringify(actionName)}`,
    );
  }
  const keepEmpty = reader.boolean(o.keepEmptyValue, `${field}.keepEmptyValue`, false);
  if (value === '' && !keepEmpty) return null;
  return new HeaderOp(kind, name, value);
}

/** Compiles a header removal. */
export function compileHeaderRemoval(reader: ConfigReader, value: unknown, field: string): HeaderOp {
  return new HeaderOp(REMOVE, headerName(reader, value, field), '');
}

/** Applies operations in order to a header map, in place. */
export function applyHeaderOps(headers: HeaderMap, ops: readonly HeaderOp[]): void {
  for (const op of ops) {
    const current = headers[op.name];
    switch (op.kind) {
      case REMOVE:
        if (current !== undefined) Reflect.deleteProperty(headers, op.name);
        break;
      case APPEND_IF_EXISTS_OR_ADD:
        if (current === undefined) headers[op.name] = op.value;
        else if (typeof current === 'string') headers[op.name] = [current, op.value];
        // A new array: the old one may be shared (a constant a user filter set).
        else headers[op.name] = current.concat(op.value);
        break;
      case ADD_IF_ABSENT:
        if (current === undefined) headers[op.name] = op.value;
        break;
      case OVERWRITE_IF_EXISTS_OR_ADD:
        headers[op.name] = op.value;
        break;
      default:
        if (current !== undefined) headers[op.name] = op.value;
    }
  }
}
