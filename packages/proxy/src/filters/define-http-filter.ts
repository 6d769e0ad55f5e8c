import { ConfigError } from '@meshlet/errors';
import type { HttpFilter } from '../types.js';

const HOOKS = ['configure', 'onRequest', 'onResponse', 'onComplete', 'destroy'] as const;

/**
 * Declares an HTTP filter: a config factory (`configure`, validated once per config version) and
 * cheap per-request hooks. Returns the definition checked and frozen; pass it to `createProxy`
 * in `filters`, and name it in config through a TypedStruct whose `type_url` ends in `name`.
 *
 * @example
 * ```ts
 * const tenant = defineHttpFilter({
 *   name: 'acme.tenant',
 *   configure(config) {
 *     const header = (config as { header?: unknown }).header;
 *     if (typeof header !== 'string') throw new ConfigError('acme.tenant: header must be a string');
 *     return { header };
 *   },
 *   onRequest(ctx, cfg) {
 *     if (ctx.request.headers[cfg.header] === undefined) ctx.reply(403, 'no tenant');
 *   },
 * });
 * ```
 */
export function defineHttpFilter<Config>(definition: HttpFilter<Config>): HttpFilter<Config> {
  if (typeof definition !== 'object' || (definition as unknown) === null) {
    throw new ConfigError('defineHttpFilter: the definition must be an object');
  }
  const { name } = definition;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new ConfigError(
      `defineHttpFilter: name must be a non-empty string of letters, digits, '.', '_' or '-' (got ${JSON.stringify(name)})`,
    );
  }
  for (const hook of HOOKS) {
    const value = (definition as unknown as Record<string, unknown>)[hook];
    if (value === undefined && hook !== 'configure') continue;
    if (typeof value !== 'function') {
      throw new ConfigError(`defineHttpFilter "${name}": ${hook} must be a function`);
    }
  }
  const filter: HttpFilter<Config> = {
    name,
    configure: definition.configure.bind(definition),
  };
  // Only the hooks given become properties, so the chain can skip absent ones without a call.
  const out = filter as { -readonly [K in keyof HttpFilter<Config>]: HttpFilter<Config>[K] };
  if (definition.onRequest) out.onRequest = definition.onRequest.bind(definition);
  if (definition.onResponse) out.onResponse = definition.onResponse.bind(definition);
  if (definition.onComplete) out.onComplete = definition.onComplete.bind(definition);
  if (definition.destroy) out.destroy = definition.destroy.bind(definition);
  return Object.freeze(filter);
}
