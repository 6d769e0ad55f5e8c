import { MeshletError } from './meshlet-error.js';

/**
 * A configuration or option is invalid: thrown at setup, never on the data plane. The message
 * names the offending field and what was expected.
 */
export class ConfigError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_CONFIG';
}

/**
 * An argument passed to a meshlet API is of the wrong type or out of its domain (a negative
 * size, say): a programming mistake in the caller, reported at the call.
 */
export class InvalidArgumentError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_INVALID_ARGUMENT';
}
