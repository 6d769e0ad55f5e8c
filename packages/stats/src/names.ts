// Names and tags: validated once, when a stat or scope is created, never on record.
import { InvalidArgumentError } from '@meshlet/errors';
import type { Tags } from './types.js';

// Prometheus label names; `__` is reserved for Prometheus' own labels.
const kLabelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Labels the exposition adds itself: a user tag of that name would collide with them.
const kReservedLabels = new Set(['le', 'quantile']);
// A flat name segment: anything printable but whitespace and `.` (the joiner) — Envoy names
// carry cluster names, route names and host:port pairs as they are.
const kSegment = /^[^\s.]+$/u;

const kNoTags: Tags = Object.freeze({});

/** The shared empty tag set. */
export const noTags: Tags = kNoTags;

/** Checks a stat name or scope prefix: `.`-separated, non-empty segments without whitespace. */
export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError(`${what} must be a non-empty string, got ${describe(name)}`);
  }
  for (const segment of name.split('.')) {
    if (!kSegment.test(segment)) {
      throw new InvalidArgumentError(
        `${what} ${JSON.stringify(name)} is not a stat name: its '.'-separated parts must be non-empty and contain no whitespace`,
      );
    }
  }
  return name;
}

/** Checks a tag set and returns a frozen copy sorted by tag name (the order of every output). */
export function checkTags(tags: unknown): Tags {
  if (tags === undefined) return kNoTags;
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) {
    throw new InvalidArgumentError(`tags must be an object of string values, got ${describe(tags)}`);
  }
  const names = Object.keys(tags).sort();
  if (names.length === 0) return kNoTags;
  const out: Record<string, string> = {};
  for (const name of names) {
    if (!kLabelName.test(name) || name.startsWith('__') || kReservedLabels.has(name)) {
      throw new InvalidArgumentError(
        `tag name ${JSON.stringify(name)} is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __, not le or quantile)`,
      );
    }
    const value = (tags as Record<string, unknown>)[name];
    if (typeof value !== 'string' || value.length === 0) {
      throw new InvalidArgumentError(
        `tag ${name} must have a non-empty string value, got ${describe(value)}`,
      );
    }
    out[name] = value;
  }
  return Object.freeze(out);
}

/** `a` and `b` merged (b wins), sorted by tag name. */
export function mergeTags(a: Tags, b: Tags): Tags {
  if (b === kNoTags) return a;
  if (a === kNoTags) return b;
  const merged: Record<string, string> = { ...a, ...b };
  const out: Record<string, string> = {};
  for (const name of Object.keys(merged).sort()) out[name] = merged[name] as string;
  return Object.freeze(out);
}

/** Joins two `.` names, either of which may be empty. */
export function joinName(prefix: string, name: string): string {
  if (prefix === '') return name;
  if (name === '') return prefix;
  return `${prefix}.${name}`;
}

/** The identity of a stat or scope in the store: a flat name plus its (sorted) tags. */
export function keyOf(name: string, tags: Tags): string {
  let key = name;
  for (const tag in tags) key += `\u0000${tag}\u0001${tags[tag] as string}`;
  return key;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
