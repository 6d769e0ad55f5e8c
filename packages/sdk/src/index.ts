// @meshlet/sdk: createMesh() (egress fetch and dispatcher, ingress listeners, plugins) and the `meshlet` CLI.

export { apiKey, servedBy, startDemo, tour, type Demo } from './cli/index.js';
