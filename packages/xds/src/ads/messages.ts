// DiscoveryRequest / DiscoveryResponse on the wire, for the ADS client and the test control plane.
import type protobuf from 'protobufjs/light.js';
import { messageType } from '../descriptor.js';
import type { Node } from '../types.js';

/** The ADS method path. */
export const ADS_METHOD = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

/** A DiscoveryRequest, in the shape meshlet uses. */
export interface DiscoveryRequest {
  readonly versionInfo: string;
  /** Only on the first request of a stream. */
  readonly node?: Node;
  readonly resourceNames: readonly string[];
  readonly typeUrl: string;
  readonly responseNonce: string;
  readonly errorDetail?: { readonly code: number; readonly message: string };
}

/** A resource of a DiscoveryResponse: a protobuf Any. */
export interface WireResource {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

/** A DiscoveryResponse, in the shape meshlet uses. */
export interface DiscoveryResponse {
  readonly versionInfo: string;
  readonly resources: readonly WireResource[];
  readonly typeUrl: string;
  readonly nonce: string;
}

let requestType: protobuf.Type | undefined;
let responseType: protobuf.Type | undefined;
function types(): { req: protobuf.Type; res: protobuf.Type } {
  requestType ??= messageType('envoy.service.discovery.v3.DiscoveryRequest');
  responseType ??= messageType('envoy.service.discovery.v3.DiscoveryResponse');
  return { req: requestType, res: responseType };
}

function structOf(v: unknown): unknown {
  const fields: Record<string, unknown> = {};
  if (v && typeof v === 'object' && !Array.isArray(v))
    for (const [k, x] of Object.entries(v)) fields[k] = valueOf(x);
  return { fields };
}
function valueOf(v: unknown): unknown {
  if (v === null || v === undefined) return { nullValue: 0 };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(valueOf) } };
  return { structValue: structOf(v) };
}

/** Encodes a DiscoveryRequest. */
export function encodeRequest(r: DiscoveryRequest): Buffer {
  const { req } = types();
  const obj: Record<string, unknown> = {
    versionInfo: r.versionInfo,
    resourceNames: r.resourceNames,
    typeUrl: r.typeUrl,
    responseNonce: r.responseNonce,
  };
  if (r.node) {
    obj.node = {
      id: r.node.id,
      cluster: r.node.cluster,
      metadata: structOf(r.node.metadata),
      locality: r.node.locality,
      userAgentName: r.node.userAgentName,
      clientFeatures: ['envoy.lb.does_not_support_overprovisioning'],
    };
  }
  if (r.errorDetail) obj.errorDetail = { code: r.errorDetail.code, message: r.errorDetail.message };
  return Buffer.from(req.encode(req.fromObject(obj)).finish());
}

/** Decodes a DiscoveryRequest (for the test control plane). */
export function decodeRequest(bytes: Buffer): DiscoveryRequest & { readonly nodeId?: string } {
  const { req } = types();
  const m = req.toObject(req.decode(bytes), { defaults: true, arrays: true }) as {
    versionInfo: string;
    node?: { id?: string; cluster?: string };
    resourceNames: string[];
    typeUrl: string;
    responseNonce: string;
    errorDetail?: { code?: number; message?: string };
  };
  const out: {
    -readonly [K in keyof (DiscoveryRequest & { nodeId?: string })]: (DiscoveryRequest & {
      nodeId?: string;
    })[K];
  } = {
    versionInfo: m.versionInfo,
    resourceNames: m.resourceNames,
    typeUrl: m.typeUrl,
    responseNonce: m.responseNonce,
  };
  if (m.node) out.nodeId = m.node.id ?? '';
  if (m.errorDetail)
    out.errorDetail = { code: m.errorDetail.code ?? 0, message: m.errorDetail.message ?? '' };
  return out;
}

/** Encodes a DiscoveryResponse (for the test control plane). */
export function encodeResponse(r: DiscoveryResponse): Buffer {
  const { res } = types();
  return Buffer.from(
    res
      .encode(
        res.fromObject({
          versionInfo: r.versionInfo,
          // protobufjs's bundled Any keeps the proto field name type_url.
          resources: r.resources.map((x) => ({ type_url: x.typeUrl, value: x.value })),
          typeUrl: r.typeUrl,
          nonce: r.nonce,
        }),
      )
      .finish(),
  );
}

/** Decodes a DiscoveryResponse; resource bodies stay bytes until translated. */
export function decodeResponse(bytes: Buffer): DiscoveryResponse {
  const { res } = types();
  const m = res.decode(bytes) as unknown as {
    versionInfo?: string;
    resources?: { type_url?: string; value?: Uint8Array }[];
    typeUrl?: string;
    nonce?: string;
  };
  return {
    versionInfo: m.versionInfo ?? '',
    resources: (m.resources ?? []).map((r) => ({
      typeUrl: r.type_url ?? '',
      value: r.value ?? new Uint8Array(0),
    })),
    typeUrl: m.typeUrl ?? '',
    nonce: m.nonce ?? '',
  };
}
