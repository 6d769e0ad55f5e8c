// The Envoy v3 types meshlet decodes, loaded once from the descriptor that the package build
// compiles from @grpc/grpc-js-xds's protos (scripts/build-descriptor.ts). This file sits at the
// top of src/ so that the relative URL is the same from src/ (tests) and from dist/ (published).
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs/light.js';

let root: protobuf.Root | undefined;

/** The descriptor's location: `generated/envoy.json` in the package. */
export const DESCRIPTOR_URL: URL = new URL('../generated/envoy.json', import.meta.url);

/** The protobufjs root of every Envoy type meshlet knows, loaded on first use. */
export function envoyRoot(): protobuf.Root {
  if (root) return root;
  let text: string;
  try {
    text = readFileSync(DESCRIPTOR_URL, 'utf8');
  } catch (err) {
    // Only in a source checkout that was never built: the published package ships the file.
    throw new Error(
      `@meshlet/xds: ${DESCRIPTOR_URL.pathname} is missing; build the package (pnpm --filter @meshlet/xds build) to generate it`,
      { cause: err },
    );
  }
  root = protobuf.Root.fromJSON(JSON.parse(text) as protobuf.INamespace);
  return root;
}

const byUrl = new Map<string, protobuf.Type | undefined>();

/** The message type of a type URL (`type.googleapis.com/envoy.config.cluster.v3.Cluster`), if known. */
export function typeOfUrl(typeUrl: string): protobuf.Type | undefined {
  if (byUrl.has(typeUrl)) return byUrl.get(typeUrl);
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  const found = name ? envoyRoot().lookup(name) : null;
  const type = found instanceof protobuf.Type ? found : undefined;
  // Bounded: a hostile stream of made-up type URLs must not grow the cache without end.
  if (byUrl.size < 4096) byUrl.set(typeUrl, type);
  return type;
}

/** The message type of a fully qualified name; throws if the descriptor lacks it (a build bug). */
export function messageType(name: string): protobuf.Type {
  return envoyRoot().lookupType(name);
}
