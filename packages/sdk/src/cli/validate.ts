// `meshlet validate`: every problem of a bootstrap file, with its resource and field path.
import { ConfigError, createProxy, snapshotOfBootstrap, type HttpFilter } from '@meshlet/proxy';
import {
  BootstrapError,
  XdsTranslationError,
  formatIssue,
  loadBootstrap,
  validate,
  type LoadedBootstrap,
} from '@meshlet/xds';
import { CLI_FILTERS } from './filters.js';
import { messageOf } from './log.js';

/** What {@link validateFile} found. */
export interface ValidationReport {
  /** `resource › field.path: message` lines; none when the file is good. */
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
  /** The loaded bootstrap when it could be translated. */
  readonly loaded: LoadedBootstrap | undefined;
}

/**
 * Checks a bootstrap file the way `meshlet run` would load it: reading and translating it
 * (@meshlet/xds), cross-resource checks (`validate`), then compiling it as the proxy would
 * (`createProxy` without starting it: filter configs, route tables, clusters).
 */
export async function validateFile(
  path: string,
  filters: readonly HttpFilter[] = [],
): Promise<ValidationReport> {
  const report = checkFile(path);
  const { errors, loaded } = report;
  if (loaded !== undefined && errors.length === 0) {
    try {
      const proxy = createProxy({
        config: snapshotOfBootstrap(loaded.bootstrap),
        filters: [...CLI_FILTERS, ...filters],
        stats: false,
      });
      await proxy.close();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return { ...report, errors: [messageOf(error)] };
    }
  }
  return report;
}

/**
 * The first steps of {@link validateFile}: reading and translating the file, then the
 * cross-resource checks, without compiling it (a worker of `meshlet run` compiles it when it
 * creates its proxy).
 */
export function checkFile(path: string): ValidationReport {
  let loaded: LoadedBootstrap;
  try {
    loaded = loadBootstrap(path);
  } catch (error) {
    if (error instanceof XdsTranslationError)
      return { errors: error.issues.map(formatIssue), warnings: [], loaded: undefined };
    if (error instanceof BootstrapError) return { errors: [error.message], warnings: [], loaded: undefined };
    throw error;
  }
  const warnings = loaded.warnings.map(formatIssue);
  const errors = validate(loaded.bootstrap).map(formatIssue);
  return { errors, warnings, loaded };
}
