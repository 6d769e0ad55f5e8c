export { MeshletError, isMeshletError } from './meshlet-error.js';
export { ConfigError, InvalidArgumentError } from './common-errors.js';
