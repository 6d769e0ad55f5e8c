/** gRPC status codes (https://github.com/grpc/grpc/blob/master/doc/statuscodes.md). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A gRPC status code, 0 to 16. */
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

const kNames: readonly string[] = Object.keys(GrpcStatus);

/** The name of a status code (`'UNAVAILABLE'` for 14), or `'UNKNOWN'` for a code outside 0-16. */
export function grpcStatusName(code: number): string {
  return Number.isInteger(code) && code >= 0 && code < kNames.length ? (kNames[code] as string) : 'UNKNOWN';
}

/**
 * The gRPC status a client derives from the HTTP status of a response that carries no
 * `grpc-status` (gRPC's doc/http-grpc-status-mapping.md): 400 INTERNAL, 401 UNAUTHENTICATED,
 * 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 429/502/503/504 UNAVAILABLE, anything else UNKNOWN.
 * A 200 without grpc-status is also UNKNOWN (the trailers are missing).
 */
export function grpcStatusFromHttp(httpStatus: number): GrpcStatusCode {
  switch (httpStatus) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

const kHttpOf: readonly number[] = [
  200, // OK
  499, // CANCELLED (client closed request)
  500, // UNKNOWN
  400, // INVALID_ARGUMENT
  504, // DEADLINE_EXCEEDED
  404, // NOT_FOUND
  409, // ALREADY_EXISTS
  403, // PERMISSION_DENIED
  429, // RESOURCE_EXHAUSTED
  400, // FAILED_PRECONDITION
  409, // ABORTED
  400, // OUT_OF_RANGE
  501, // UNIMPLEMENTED
  500, // INTERNAL
  503, // UNAVAILABLE
  500, // DATA_LOSS
  401, // UNAUTHENTICATED
];

/**
 * The HTTP status that stands for a gRPC status when a gRPC call is answered to an HTTP (not
 * gRPC) client, as in google/rpc/code.proto and Envoy's gRPC-JSON transcoder: NOT_FOUND 404,
 * UNAVAILABLE 503, DEADLINE_EXCEEDED 504... A code outside 0-16 maps to 500.
 */
export function httpStatusFromGrpc(code: number): number {
  return Number.isInteger(code) && code >= 0 && code < kHttpOf.length ? (kHttpOf[code] as number) : 500;
}
