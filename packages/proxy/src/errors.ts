// The errors the proxy throws. Configuration mistakes are `ConfigError`s (MESHLET_ERR_CONFIG)
// naming the listener, filter or route at fault; data-plane outcomes are local replies, never
// exceptions.
export { ConfigError, InvalidArgumentError, MeshletError } from '@meshlet/errors';
