export { createRpcUpstreams, RpcConnectionPools } from './rpc-upstreams.js';
export { MAX_REQUEST_ID } from './request-ids.js';
export type { RpcUpstreamsOptions } from './types.js';
