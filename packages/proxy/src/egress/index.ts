export { Egress, failDispatch } from './egress.js';
export type { EgressResolver } from './egress.js';
