import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import protobuf from 'protobufjs';
import { ConfigError, InvalidArgumentError } from '@meshlet/errors';
import { MalformedMessageError } from '../errors.js';

/** A protobufjs `Root`: the types of one or more .proto files. */
export type ProtoRoot = protobuf.Root;

/** Options of {@link loadProtoFiles}. */
export interface LoadProtoOptions {
  /** Folders searched, in order, for imports that are not relative (like protoc's `-I`). */
  readonly includeDirs?: readonly string[];
  /** Keep field names as written (snake_case) instead of camelCase. Default false. */
  readonly keepCase?: boolean;
}

/**
 * Loads `.proto` files (and what they import) with protobufjs, synchronously: a setup step.
 *
 * @example
 * ```ts
 * const root = loadProtoFiles('helloworld.proto', { includeDirs: ['protos'] });
 * const sayHello = grpcMethod(root, '/helloworld.Greeter/SayHello');
 * ```
 * @throws ConfigError when a file cannot be read or parsed.
 */
export function loadProtoFiles(files: string | readonly string[], options?: LoadProtoOptions): ProtoRoot {
  const root = new protobuf.Root();
  const includeDirs = options?.includeDirs ?? [];
  if (includeDirs.length > 0) {
    const original = root.resolvePath.bind(root);
    root.resolvePath = (origin, target) => {
      if (isAbsolute(target)) return target;
      for (const dir of includeDirs) {
        const candidate = resolve(dir, target);
        if (existsSync(candidate)) return candidate;
      }
      return original(origin, target);
    };
  }
  try {
    root.loadSync(typeof files === 'string' ? files : [...files], { keepCase: options?.keepCase ?? false });
    root.resolveAll();
  } catch (err) {
    throw new ConfigError(`loadProtoFiles: ${(err as Error).message}`, { cause: err });
  }
  return root;
}

const requireCjs = createRequire(import.meta.url);

/**
 * Builds a root from a `google.protobuf.FileDescriptorSet`, as bytes (what `protoc
 * --descriptor_set_out` writes, or gRPC server reflection returns) or as a decoded object.
 * @throws ConfigError when the descriptor set does not decode.
 */
export function protoFromDescriptorSet(set: Uint8Array | object): ProtoRoot {
  // protobufjs/ext/descriptor adds Root.fromDescriptor to protobufjs when loaded; loaded here,
  // on first use, rather than as an import side effect.
  requireCjs('protobufjs/ext/descriptor');
  const Root = protobuf.Root as unknown as { fromDescriptor: (d: unknown) => ProtoRoot };
  try {
    const root = Root.fromDescriptor(set);
    root.resolveAll();
    return root;
  } catch (err) {
    throw new ConfigError(`protoFromDescriptorSet: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Builds a root from protobufjs's JSON descriptor format (`Root.toJSON()`, `pbjs -t json`).
 * @throws ConfigError when it does not describe valid types.
 */
export function protoFromJSON(json: object): ProtoRoot {
  try {
    const root = protobuf.Root.fromJSON(json);
    root.resolveAll();
    return root;
  } catch (err) {
    throw new ConfigError(`protoFromJSON: ${(err as Error).message}`, { cause: err });
  }
}

/** How decoded messages are turned into plain objects (protobufjs's `IConversionOptions`). */
export type ProtoConversionOptions = protobuf.IConversionOptions;

/** Encodes and decodes one message type. */
export class ProtobufCodec<T extends object = Record<string, unknown>> {
  /** The fully qualified type name. */
  readonly typeName: string;
  readonly #type: protobuf.Type;
  readonly #conversion: ProtoConversionOptions | undefined;

  /**
   * @param root the types, from {@link loadProtoFiles}, {@link protoFromDescriptorSet} or {@link protoFromJSON}
   * @param typeName a message type, such as `helloworld.HelloRequest`
   * @param conversion how `decode` converts to a plain object (default: protobufjs's; e.g. `{ longs: String }`)
   * @throws ConfigError when the type does not exist.
   */
  constructor(root: ProtoRoot, typeName: string, conversion?: ProtoConversionOptions) {
    let type: protobuf.Type;
    try {
      type = root.lookupType(typeName);
    } catch (err) {
      throw new ConfigError(`ProtobufCodec: no message type ${typeName}`, { cause: err });
    }
    this.typeName = type.fullName.replace(/^\./, '');
    this.#type = type;
    this.#conversion = conversion;
  }

  /**
   * Encodes a plain object (converted with protobufjs's `fromObject`).
   * @throws InvalidArgumentError when a field has a value its type cannot take.
   */
  encode(value: T): Uint8Array {
    const type = this.#type;
    const problem = type.verify(value);
    if (problem !== null) throw new InvalidArgumentError(`${this.typeName}: ${problem}`);
    return type.encode(type.fromObject(value)).finish();
  }

  /**
   * Decodes message bytes into a plain object.
   * @throws MalformedMessageError when the bytes are not a message of this type.
   */
  decode(bytes: Uint8Array): T {
    const type = this.#type;
    let message: protobuf.Message;
    try {
      message = type.decode(bytes);
    } catch (err) {
      throw new MalformedMessageError(`${this.typeName}: ${(err as Error).message}`, { cause: err });
    }
    return type.toObject(message, this.#conversion) as T;
  }
}

/** A gRPC method resolved from its path: request and response codecs, streaming flags. */
export interface GrpcMethod<
  Req extends object = Record<string, unknown>,
  Res extends object = Record<string, unknown>,
> {
  /** `/package.Service/Method`. */
  readonly path: string;
  /** The fully qualified service name. */
  readonly service: string;
  /** The method name. */
  readonly method: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly request: ProtobufCodec<Req>;
  readonly response: ProtobufCodec<Res>;
}

/**
 * Resolves a gRPC method (`/package.Service/Method`, the `:path` of its HTTP/2 requests).
 * @throws ConfigError when the service or method does not exist.
 */
export function grpcMethod<
  Req extends object = Record<string, unknown>,
  Res extends object = Record<string, unknown>,
>(root: ProtoRoot, path: string, conversion?: ProtoConversionOptions): GrpcMethod<Req, Res> {
  const m = /^\/([^/]+)\/([^/]+)$/.exec(path);
  if (!m)
    throw new ConfigError(`grpcMethod: ${JSON.stringify(path)} is not of the form /package.Service/Method`);
  const [, serviceName = '', methodName = ''] = m;
  let method: protobuf.Method | null;
  try {
    method = root.lookupService(serviceName).methods[methodName] ?? null;
  } catch (err) {
    throw new ConfigError(`grpcMethod: no service ${serviceName}`, { cause: err });
  }
  if (method === null)
    throw new ConfigError(`grpcMethod: service ${serviceName} has no method ${methodName}`);
  method.resolve();
  return {
    path,
    service: serviceName,
    method: methodName,
    requestStream: method.requestStream === true,
    responseStream: method.responseStream === true,
    request: new ProtobufCodec<Req>(
      root,
      method.resolvedRequestType?.fullName ?? method.requestType,
      conversion,
    ),
    response: new ProtobufCodec<Res>(
      root,
      method.resolvedResponseType?.fullName ?? method.responseType,
      conversion,
    ),
  };
}
