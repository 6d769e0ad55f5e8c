import type { Issue, IssueSeverity } from './types.js';

/**
 * Formats an issue the way meshlet prints them:
 * `route_config "main" › virtual_hosts[0] › routes[3] › route.cluster: unknown cluster "carts"`.
 */
export function formatIssue(issue: Issue): string {
  const where = issue.path ? `${issue.resource} › ${issue.path}` : issue.resource;
  return `${where}: ${issue.message}`;
}

/** `path` extended by a field: `a.b`, or `a[0] › b` after an element of a list or map. */
export function field(path: string, name: string): string {
  if (path === '') return name;
  return path.endsWith(']') ? `${path} › ${name}` : `${path}.${name}`;
}

/** `path` extended by a list index. */
export function index(path: string, i: number): string {
  return `${path}[${i}]`;
}

/** `path` extended by a map key. */
export function key(path: string, k: string): string {
  return `${path}[${JSON.stringify(k)}]`;
}

/** The message of a field meshlet does not apply, when no more specific reason is given. */
export const GENERIC = 'not supported by meshlet';

/** Collects errors and warnings for one resource. */
export class IssueList {
  readonly errors: Issue[] = [];
  readonly warnings: Issue[] = [];
  resource: string;
  constructor(resource: string) {
    this.resource = resource;
  }
  /** Where each path's error is in `errors`: a lookup, not a scan per error (quadratic on 20,000 bad routes). */
  readonly #errorAt = new Map<string, number>();
  error(path: string, message: string): void {
    // A specific reason replaces the generic one a field check gave the same field first.
    const i = this.#errorAt.get(path);
    const prior = i === undefined ? undefined : this.errors[i];
    if (i !== undefined && prior !== undefined) {
      if (prior.message === GENERIC && message !== GENERIC) this.errors[i] = { ...prior, message };
      return;
    }
    this.#errorAt.set(path, this.errors.length);
    this.add('error', path, message);
  }
  warn(path: string, message: string): void {
    this.add('warning', path, message);
  }
  private add(severity: IssueSeverity, path: string, message: string): void {
    const issue: Issue = { severity, resource: this.resource, path, message };
    (severity === 'error' ? this.errors : this.warnings).push(issue);
  }
}

/** snake_case of a camelCase field name, for paths in Envoy's own spelling. */
export function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
