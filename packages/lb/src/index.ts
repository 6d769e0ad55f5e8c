export { xxHash64 } from './xxhash64.js';
export { ConfigError, InvalidArgumentError, MeshletError } from '@meshlet/errors';
