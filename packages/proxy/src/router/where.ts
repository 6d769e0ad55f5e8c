// Config errors name the route configuration, virtual host and route, with Envoy's field names,
// the way @meshlet/xds names its issues: `route_config "main" › virtual_hosts[0] ("web") › routes[2]`.
import { ConfigError } from '@meshlet/errors';

/** A `ConfigError` whose message starts with where the problem is. */
export function configError(where: string, message: string, cause?: unknown): ConfigError {
  return new ConfigError(`${where}: ${message}`, cause === undefined ? undefined : { cause });
}

/** `parent › child`. */
export function at(parent: string, child: string): string {
  return `${parent} › ${child}`;
}

/** `name[i]`, with the element's name when it has one. */
export function indexed(field: string, i: number, name?: string): string {
  return name ? `${field}[${i}] (${JSON.stringify(name)})` : `${field}[${i}]`;
}
