// The TCP proxy network filter (`envoy.filters.network.tcp_proxy`). Issue #9 builds it.
import { ConfigError } from '@meshlet/errors';
import type * as model from '@meshlet/xds';
import type { CompileContext } from '../config/compile.js';
import type { RpcChainName } from '../rpc/index.js';
import type { ConnectionHandler } from '../types.js';

/** Compiles a `tcp_proxy` network filter for one config version; throws a ConfigError on a bad config. */
export function compileTcpProxy(
  filter: model.TcpProxyFilter,
  chain: RpcChainName,
  _ctx: CompileContext,
): ConnectionHandler {
  throw new ConfigError(
    `listener "${chain.listenerName}" filter_chain "${chain.chainName}": tcp_proxy "${filter.name}" is not supported yet`,
  );
}
