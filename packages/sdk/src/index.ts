// @meshlet/sdk: createMesh() (egress fetch and dispatcher, ingress listeners, plugins) and the `meshlet` CLI.
export {};
