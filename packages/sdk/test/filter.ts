// A small filter plugin for the SDK's tests: sets `x-tenant` from its config.
import { ConfigError, defineHttpFilter, type HttpFilter } from '@meshlet/proxy';

export { createMesh } from '../src/index.js';

/** `acme.tenant`: `{ tenant }` in config, sent upstream as `x-tenant`. */
export function defineHttpFilterForTest(): HttpFilter {
  return defineHttpFilter<{ tenant: string }>({
    name: 'acme.tenant',
    configure(config) {
      const { tenant } = config as { tenant?: unknown };
      if (typeof tenant !== 'string') throw new ConfigError('acme.tenant: tenant must be a string');
      return { tenant };
    },
    onRequest(ctx, cfg) {
      ctx.request.headers['x-tenant'] = cfg.tenant;
    },
  });
}
