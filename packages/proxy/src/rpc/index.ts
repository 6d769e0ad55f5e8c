// The RPC proxy network filter (`rpc_proxy`): Bolt, Dubbo and user protocols. Issue #9 builds it.
import { ConfigError } from '@meshlet/errors';
import type * as model from '@meshlet/xds';
import type { CompileContext } from '../config/compile.js';
import type { ConnectionHandler } from '../types.js';

/** The filter chain an RPC proxy serves, for names in errors and stats. */
export interface RpcChainName {
  readonly listenerName: string;
  readonly chainName: string;
}

/**
 * Compiles an `rpc_proxy` network filter for one config version (its protocol, routes and HTTP
 * filter chain); throws a ConfigError on a bad config.
 */
export function compileRpcProxy(
  filter: model.RpcProxyFilter,
  chain: RpcChainName,
  _ctx: CompileContext,
): ConnectionHandler {
  throw new ConfigError(
    `listener "${chain.listenerName}" filter_chain "${chain.chainName}": rpc_proxy "${filter.name}" is not supported yet`,
  );
}
