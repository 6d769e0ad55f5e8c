// @meshlet/sdk: createMesh() (egress fetch and dispatcher, ingress listeners, plugins) and the `meshlet` CLI.
export { createMesh, defaultEgress, Mesh } from './mesh.js';
export { MeshDispatcher } from './dispatcher.js';
export type { DispatchTarget } from './dispatcher.js';
export { CLUSTER_ROUTES, clusterRoutes } from './cluster-routes.js';
export type { MeshEvents, MeshOptions, MeshXdsOptions } from './types.js';
export { apiKey, servedBy, startDemo, tour, type Demo } from './cli/index.js';
