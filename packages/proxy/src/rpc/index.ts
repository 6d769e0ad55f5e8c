// The RPC proxy network filter (`rpc_proxy`): Bolt, Dubbo and user protocols.
import { ConfigError } from '@meshlet/errors';
import type * as model from '@meshlet/xds';
import type { CompileContext } from '../config/compile.js';
import { FilterChainPlan } from '../filters/chain.js';
import type { ConnectionHandler } from '../types.js';
import { RpcProxyHandler } from './handler.js';
import { RpcRouteTable } from './routes.js';
import { StatusMap } from './status.js';

export { RpcRequestHead } from './stream.js';
export type * from './types.js';

/** The filter chain an RPC proxy serves, for names in errors and stats. */
export interface RpcChainName {
  readonly listenerName: string;
  readonly chainName: string;
}

/** Upstream timeout of a request when its route, its frame and the proxy config give none (Envoy's route default). */
export const DEFAULT_RPC_REQUEST_TIMEOUT_MS = 15_000;
/**
 * How long a frame a client has begun may take to arrive whole (`frame_timeout_ms`): as the HTTP
 * headers timeout, it stops a client from holding a connection and up to `max_frame_size` of
 * buffer with a frame it never finishes.
 */
export const DEFAULT_RPC_FRAME_TIMEOUT_MS = 60_000;

/** The router of an RPC proxy: implicit, last, never listed in its `httpFilters`. */
const IMPLICIT_ROUTER: model.HttpFilter = {
  name: 'envoy.filters.http.router',
  isOptional: false,
  disabled: false,
  config: { type: 'router', suppressEnvoyHeaders: false },
};

/**
 * Compiles an `rpc_proxy` network filter for one config version (its protocol, routes and HTTP
 * filter chain); throws a ConfigError on a bad config.
 *
 * Each request frame becomes a stream the HTTP filters see as a request whose `authority` is the
 * RPC service, `method` the RPC method, `path` `/service/method` and `headers` the frame's
 * header map; `ctx.reply(status)` answers with the protocol's error reply (429 → rate-limited,
 * 404 → not-found, 503 → unavailable, 504 → timeout, other 4xx → bad-request, else internal).
 *
 * @example
 * ```ts
 * const handler = compileRpcProxy(filter, { listenerName: 'rpc', chainName: 'bolt' }, ctx);
 * server.on('connection', (socket) => handler.handle(socket, networkConnectionOf(socket)));
 * ```
 */
export function compileRpcProxy(
  filter: model.RpcProxyFilter,
  chain: RpcChainName,
  ctx: CompileContext,
): ConnectionHandler {
  const where = `listener "${chain.listenerName}" filter_chain "${chain.chainName}" rpc_proxy "${filter.name}"`;
  const config = filter.config;
  const protocol = ctx.protocols.get(config.protocol);
  if (protocol === undefined) {
    const known = [...ctx.protocols.keys()].join(', ');
    throw new ConfigError(
      `${where}: protocol "${config.protocol}" is not known (known: ${known}; pass user protocols in createProxy({ protocols }))`,
    );
  }
  const maxFrameSize = config.maxFrameSize ?? protocol.maxFrameSize;
  if (!(Number.isInteger(maxFrameSize) && maxFrameSize > 0 && maxFrameSize < 2 ** 31))
    throw new ConfigError(`${where}: max_frame_size must be a positive integer below 2**31`);
  const requestTimeoutMs = config.requestTimeoutMs ?? DEFAULT_RPC_REQUEST_TIMEOUT_MS;
  if (!(Number.isInteger(requestTimeoutMs) && requestTimeoutMs >= 0))
    throw new ConfigError(`${where}: request_timeout_ms must be a non-negative integer`);
  const frameTimeoutMs = config.frameTimeoutMs ?? DEFAULT_RPC_FRAME_TIMEOUT_MS;
  if (!(Number.isInteger(frameTimeoutMs) && frameTimeoutMs >= 0))
    throw new ConfigError(`${where}: frame_timeout_ms must be a non-negative integer`);
  const filters = config.httpFilters ?? [];
  for (const f of filters) {
    if (f.config.type === 'router')
      throw new ConfigError(`${where}: http filter "${f.name}": the router is implicit in an RPC proxy`);
  }
  const plan = FilterChainPlan.compile([...filters, IMPLICIT_ROUTER], ctx.registry, [], ctx.filters, where);
  const routes = new RpcRouteTable(config.routes, where);
  for (const route of routes.routes) {
    if (route.timeoutMs !== undefined && !(Number.isInteger(route.timeoutMs) && route.timeoutMs >= 0))
      throw new ConfigError(`${where}: ${route.name}.timeout_ms must be a non-negative integer`);
    const retries = route.source.numRetries;
    if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0))
      throw new ConfigError(`${where}: ${route.name}.num_retries must be a non-negative integer`);
  }
  return new RpcProxyHandler({
    where,
    protocol,
    maxFrameSize,
    plan,
    routes,
    statuses: new StatusMap(protocol),
    clusters: ctx.clusters,
    upstreams: ctx.rpcUpstreams,
    env: ctx.env,
    observer: ctx.observer({
      listenerName: chain.listenerName,
      chainName: chain.chainName,
      kind: 'rpc',
      statPrefix: config.statPrefix,
      filter,
    }),
    requestTimeoutMs,
    frameTimeoutMs,
  });
}
