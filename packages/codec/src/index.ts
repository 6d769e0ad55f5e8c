export { defineProtocol } from './protocol.js';
export { Frame } from './frame.js';
export { sniff } from './sniff.js';
export { bolt } from './bolt/bolt.js';
export { BoltClassName, BoltFrame, BoltSerialization, BoltStatus } from './bolt/bolt-frame.js';
export { dubbo } from './dubbo/dubbo.js';
export { DubboFrame, DubboSerialization, DubboStatus } from './dubbo/dubbo-frame.js';
export { GrpcMessageDecoder, encodeGrpcMessage } from './grpc/framing.js';
export { compressMessage, decompressMessage } from './grpc/compression.js';
export { GrpcStatus, grpcStatusFromHttp, grpcStatusName, httpStatusFromGrpc } from './grpc/status.js';
export {
  ProtobufCodec,
  grpcMethod,
  loadProtoFiles,
  protoFromDescriptorSet,
  protoFromJSON,
} from './grpc/protobuf.js';
export {
  ChecksumMismatchError,
  FrameTooLargeError,
  MalformedFrameError,
  MalformedMessageError,
  UnsupportedEncodingError,
} from './errors.js';
export type {
  Codec,
  CodecOptions,
  FrameKind,
  MatchResult,
  Protocol,
  ProtocolDefinition,
  ReplyStatus,
  RpcFrame,
} from './types.js';
export type { FrameInit } from './frame.js';
export type { SniffOptions, SniffResult } from './sniff.js';
export type { BoltFrameInit } from './bolt/bolt-frame.js';
export type { DubboFrameInit } from './dubbo/dubbo-frame.js';
export type { GrpcMessage, GrpcMessageDecoderOptions } from './grpc/framing.js';
export type { GrpcEncoding } from './grpc/compression.js';
export type { GrpcStatusCode } from './grpc/status.js';
export type { GrpcMethod, LoadProtoOptions, ProtoConversionOptions, ProtoRoot } from './grpc/protobuf.js';
// Re-exported so that users of this package alone can catch what it throws.
export { ConfigError, InvalidArgumentError, MeshletError } from '@meshlet/errors';
export { ByteQueue } from '@meshlet/buffer';
