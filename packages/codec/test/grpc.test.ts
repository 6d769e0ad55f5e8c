import { once } from 'node:events';
import { createServer, constants, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { afterEach, describe, expect, it } from 'vitest';
import { ByteQueue } from '@meshlet/buffer';
import {
  compressMessage,
  ConfigError,
  decompressMessage,
  encodeGrpcMessage,
  FrameTooLargeError,
  GrpcMessageDecoder,
  grpcMethod,
  GrpcStatus,
  grpcStatusFromHttp,
  grpcStatusName,
  httpStatusFromGrpc,
  InvalidArgumentError,
  loadProtoFiles,
  MalformedFrameError,
  MalformedMessageError,
  ProtobufCodec,
  protoFromDescriptorSet,
  protoFromJSON,
  UnsupportedEncodingError,
} from '@meshlet/codec';
import { createRequire } from 'node:module';

const protoFile = fileURLToPath(new URL('./fixtures/echo.proto', import.meta.url));
const root = loadProtoFiles(protoFile);

describe('grpc: message framing', () => {
  it('splits messages arriving in any chunks; zero-copy inside a chunk', () => {
    const messages = [Buffer.from('hello'), Buffer.alloc(0), Buffer.alloc(70_000, 3)];
    const stream = Buffer.concat(messages.flatMap((m, i) => encodeGrpcMessage(m, i === 1)));
    for (const chunk of [1, 4, 5, 6, 1000, stream.length]) {
      const decoder = new GrpcMessageDecoder();
      const queue = new ByteQueue();
      const out: { compressed: boolean; data: Buffer }[] = [];
      for (let at = 0; at < stream.length; at += chunk) {
        queue.push(stream.subarray(at, at + chunk));
        for (let m = decoder.decode(queue); m; m = decoder.decode(queue)) out.push(m);
      }
      expect(out.map((m) => m.data)).toEqual(messages);
      expect(out.map((m) => m.compressed)).toEqual([false, true, false]);
      if (chunk === stream.length) expect(out[2]?.data.buffer).toBe(stream.buffer);
    }
  });

  it('checks the length against maxMessageSize before buffering, and the flag', () => {
    const queue = new ByteQueue();
    queue.push(Buffer.from([0, 0x7f, 0xff, 0xff, 0xff]));
    expect(() => new GrpcMessageDecoder({ maxMessageSize: 1024 }).decode(queue)).toThrow(FrameTooLargeError);
    expect(queue.length).toBe(5);
    const bad = new ByteQueue();
    bad.push(Buffer.from([2, 0, 0, 0, 0]));
    expect(() => new GrpcMessageDecoder().decode(bad)).toThrow(MalformedFrameError);
    expect(() => new GrpcMessageDecoder({ maxMessageSize: -1 })).toThrow(ConfigError);
  });
});

describe('grpc: compression', () => {
  it('round-trips identity, gzip and deflate', async () => {
    const data = Buffer.from('meshlet '.repeat(100));
    for (const encoding of ['identity', 'gzip', 'deflate']) {
      const compressed = await compressMessage(data, encoding);
      if (encoding !== 'identity') expect(compressed.length).toBeLessThan(data.length);
      expect(await decompressMessage(compressed, encoding)).toEqual(data);
    }
  });

  it('bounds decompressed output, rejects unknown encodings and corrupt input', async () => {
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    await expect(decompressMessage(bomb, 'gzip', 1024 * 1024)).rejects.toBeInstanceOf(FrameTooLargeError);
    await expect(compressMessage(Buffer.from('x'), 'snappy')).rejects.toBeInstanceOf(
      UnsupportedEncodingError,
    );
    await expect(decompressMessage(Buffer.from('not gzip'), 'gzip')).rejects.toBeInstanceOf(
      MalformedMessageError,
    );
  });
});

describe('grpc: protobuf', () => {
  it('encodes and decodes from a .proto file, a descriptor set and JSON', () => {
    const value = { name: 'ann', group: 2, ids: [2 ** 40, 7] };
    const fromFile = new ProtobufCodec(root, 'meshlet.test.EchoRequest', { longs: Number });
    const bytes = fromFile.encode(value);
    expect(fromFile.decode(bytes)).toEqual(value);

    const require = createRequire(import.meta.url);
    require('protobufjs/ext/descriptor');
    const descriptor = (root as unknown as { toDescriptor(edition: string): protobuf.Message }).toDescriptor(
      'proto3',
    );
    const set = (descriptor.constructor as unknown as protobuf.Type).encode(descriptor).finish();
    const fromSet = new ProtobufCodec(protoFromDescriptorSet(set), 'meshlet.test.EchoRequest', {
      longs: Number,
    });
    expect(fromSet.decode(bytes)).toEqual(value);

    const fromJson = new ProtobufCodec(protoFromJSON(root.toJSON()), 'meshlet.test.EchoRequest', {
      longs: Number,
    });
    expect(fromJson.decode(bytes)).toEqual(value);
  });

  it('types its errors', () => {
    const codec = new ProtobufCodec(root, 'meshlet.test.EchoRequest');
    expect(() => codec.decode(Buffer.from([0x0a, 0x10, 0x61]))).toThrow(MalformedMessageError);
    expect(() => codec.encode({ group: 'many' })).toThrow(InvalidArgumentError);
    expect(() => new ProtobufCodec(root, 'meshlet.test.Nope')).toThrow(ConfigError);
    expect(() => grpcMethod(root, '/meshlet.test.EchoService/nope')).toThrow(ConfigError);
    expect(() => grpcMethod(root, 'echo')).toThrow(ConfigError);
    expect(() => loadProtoFiles('/nonexistent/x.proto')).toThrow(ConfigError);
  });

  it('resolves methods with their streaming flags', () => {
    const watch = grpcMethod(root, '/meshlet.test.EchoService/watch');
    expect([watch.service, watch.method, watch.requestStream, watch.responseStream]).toEqual([
      'meshlet.test.EchoService',
      'watch',
      false,
      true,
    ]);
    expect(watch.response.typeName).toBe('meshlet.test.EchoResponse');
  });
});

describe('grpc: status', () => {
  it('maps HTTP to gRPC as http-grpc-status-mapping.md says, and back', () => {
    const table: [number, number][] = [
      [400, GrpcStatus.INTERNAL],
      [401, GrpcStatus.UNAUTHENTICATED],
      [403, GrpcStatus.PERMISSION_DENIED],
      [404, GrpcStatus.UNIMPLEMENTED],
      [429, GrpcStatus.UNAVAILABLE],
      [502, GrpcStatus.UNAVAILABLE],
      [503, GrpcStatus.UNAVAILABLE],
      [504, GrpcStatus.UNAVAILABLE],
      [500, GrpcStatus.UNKNOWN],
      [200, GrpcStatus.UNKNOWN],
    ];
    for (const [http, code] of table) expect(grpcStatusFromHttp(http)).toBe(code);
    expect(httpStatusFromGrpc(GrpcStatus.OK)).toBe(200);
    expect(httpStatusFromGrpc(GrpcStatus.UNAVAILABLE)).toBe(503);
    expect(httpStatusFromGrpc(GrpcStatus.DEADLINE_EXCEEDED)).toBe(504);
    expect(httpStatusFromGrpc(GrpcStatus.RESOURCE_EXHAUSTED)).toBe(429);
    expect(httpStatusFromGrpc(99)).toBe(500);
    expect(grpcStatusName(14)).toBe('UNAVAILABLE');
    expect(grpcStatusName(-1)).toBe('UNKNOWN');
  });
});

describe('grpc: a real @grpc/grpc-js client against a node:http2 server using this package', () => {
  let server: Http2Server | undefined;
  afterEach(async () => {
    if (server) {
      server.close();
      await once(server, 'close');
      server = undefined;
    }
  });

  it('unary calls, with gzip message compression, and an error status', async () => {
    const echo = grpcMethod(root, '/meshlet.test.EchoService/echo');
    server = createServer();
    server.on('stream', (stream: ServerHttp2Stream, headers) => {
      const decoder = new GrpcMessageDecoder({ maxMessageSize: 1024 * 1024 });
      const queue = new ByteQueue();
      const encoding = String(headers['grpc-encoding'] ?? 'identity');
      const messages: { compressed: boolean; data: Buffer }[] = [];
      stream.on('data', (chunk: Buffer) => {
        queue.push(chunk);
        for (let m = decoder.decode(queue); m; m = decoder.decode(queue)) messages.push(m);
      });
      stream.on('end', () => {
        void (async () => {
          const [message] = messages;
          if (!message) throw new Error('no request message');
          expect(message.compressed).toBe(true); // the client compressed it with gzip
          const data = await decompressMessage(message.data, encoding);
          const request = echo.request.decode(data) as { name: string };
          if (request.name === 'fail') {
            stream.respond(
              {
                ':status': 200,
                'content-type': 'application/grpc',
                'grpc-status': String(GrpcStatus.NOT_FOUND),
                'grpc-message': 'no such user',
              },
              { endStream: true },
            );
            return;
          }
          stream.respond(
            { ':status': 200, 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' },
            { waitForTrailers: true },
          );
          stream.on('wantTrailers', () => {
            stream.sendTrailers({ 'grpc-status': '0' });
          });
          const reply = await compressMessage(
            echo.response.encode({ code: 7, message: `hello ${request.name}` }),
            'gzip',
          );
          for (const part of encodeGrpcMessage(reply, true)) stream.write(part);
          stream.end();
        })();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;

    const requestType = root.lookupType('meshlet.test.EchoRequest');
    const responseType = root.lookupType('meshlet.test.EchoResponse');
    const Client = grpc.makeGenericClientConstructor(
      {
        echo: {
          path: echo.path,
          requestStream: false,
          responseStream: false,
          requestSerialize: (value: object) =>
            Buffer.from(requestType.encode(requestType.fromObject(value)).finish()),
          requestDeserialize: (bytes: Buffer) => requestType.toObject(requestType.decode(bytes)),
          responseSerialize: (value: object) =>
            Buffer.from(responseType.encode(responseType.fromObject(value)).finish()),
          responseDeserialize: (bytes: Buffer) => responseType.toObject(responseType.decode(bytes)),
        },
      },
      'EchoService',
    );
    const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip,
      'grpc.default_compression_level': 2,
    });
    const call = (name: string): Promise<unknown> =>
      new Promise((resolve, reject) => {
        (
          client as unknown as Record<
            string,
            (req: object, cb: (err: Error | null, res?: unknown) => void) => void
          >
        ).echo?.({ name }, (err, res) => {
          if (err) reject(err);
          else resolve(res);
        });
      });
    try {
      expect(await call('ann')).toEqual({ code: 7, message: 'hello ann' });
      await expect(call('fail')).rejects.toMatchObject({
        code: GrpcStatus.NOT_FOUND,
        details: 'no such user',
      });
    } finally {
      client.close();
    }
    expect(constants.NGHTTP2_NO_ERROR).toBe(0);
  });
});
