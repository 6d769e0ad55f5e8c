export { Egress } from './egress.js';
export type { EgressResolver } from './egress.js';
