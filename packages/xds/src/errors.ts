import { MeshletError } from '@meshlet/errors';
import type { Issue } from './types.js';
import { formatIssue } from './issues.js';

/**
 * An Envoy resource could not be translated to the model: an unknown or unsupported field, a
 * required feature meshlet lacks, a wrong type, a malformed or hostile payload. `issues` holds
 * every problem found, each with its resource and field path; the message lists them.
 */
export class XdsTranslationError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_XDS_TRANSLATION';
  /** Every error found, in document order. */
  readonly issues: readonly Issue[];
  constructor(issues: readonly Issue[], options?: ErrorOptions) {
    super(summarize('cannot translate', issues), options);
    this.issues = issues;
  }
}

/**
 * A configuration (hand-written, loaded or received) is inconsistent: {@link assertValid} found
 * errors such as a route naming an unknown cluster. `issues` holds every one of them.
 */
export class XdsValidationError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_XDS_INVALID';
  /** Every error found. */
  readonly issues: readonly Issue[];
  constructor(issues: readonly Issue[], options?: ErrorOptions) {
    super(summarize('invalid configuration', issues), options);
    this.issues = issues;
  }
}

/**
 * A bootstrap file cannot be read or parsed (missing file, YAML/JSON syntax error, not an
 * object). Translation problems inside a readable file are {@link XdsTranslationError}s.
 */
export class BootstrapError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_XDS_BOOTSTRAP';
}

function summarize(what: string, issues: readonly Issue[]): string {
  const shown = issues.slice(0, 20).map((i) => `  ${formatIssue(i)}`);
  if (issues.length > 20) shown.push(`  ... and ${issues.length - 20} more`);
  return `${what}: ${issues.length} error(s)\n${shown.join('\n')}`;
}
