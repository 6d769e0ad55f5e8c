// Filter plugins the CLI registers with every proxy it runs, for configs to name (TypedStruct
// `type_url: type.googleapis.com/meshlet.served_by`).
import { ConfigError, defineHttpFilter, type HttpFilter } from '@meshlet/proxy';

/**
 * `meshlet.served_by`: adds a response header (default `x-served-by`) naming the process that
 * served the request, `<hostname-free> pid`, so that `--workers N` and restarts can be seen from
 * outside.
 */
export const servedBy: HttpFilter<{ header: string; value: string }> = defineHttpFilter<{
  header: string;
  value: string;
}>({
  name: 'meshlet.served_by',
  configure(config) {
    const { header } = (config ?? {}) as { header?: unknown };
    if (header !== undefined && (typeof header !== 'string' || header === ''))
      throw new ConfigError('meshlet.served_by: header must be a header name');
    return { header: (header ?? 'x-served-by').toLowerCase(), value: String(process.pid) };
  },
  onResponse(ctx, cfg) {
    if (ctx.response !== null) ctx.response.headers[cfg.header] = cfg.value;
  },
});

/** The filters every proxy of the CLI knows besides the built-ins. */
export const CLI_FILTERS: readonly HttpFilter[] = [servedBy];
