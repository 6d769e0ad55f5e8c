// The gRPC scenario's service: one unary method, `/meshlet.bench.Echo/Unary`, whose messages are
// opaque bytes (grpc-js's generic service definition with identity serializers, as gRPC's own
// benchmarks do with byte-buffer payloads), so neither peer spends its time in protobuf. A
// request carries 100 bytes, a response 100 bytes.
import type { ServiceDefinition } from '@grpc/grpc-js';

/** The gRPC path of the one method (what meshlet's route matches on). */
export const PATH = '/meshlet.bench.Echo/Unary';

const identity = (b: Buffer): Buffer => b;

/** The service definition, for `Server.addService` and `makeGenericClientConstructor`. */
export const ECHO: ServiceDefinition = {
  Unary: {
    path: PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** The request message. */
export const REQUEST: Buffer = Buffer.alloc(100, 'q');
/** The response message. */
export const RESPONSE: Buffer = Buffer.alloc(100, 'r');
