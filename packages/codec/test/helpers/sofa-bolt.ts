// The real sofa-bolt-node package (CommonJS, untyped), typed to the calls the tests make.
import { createRequire } from 'node:module';
import type { Readable, Transform, Writable } from 'node:stream';

const require = createRequire(import.meta.url);

export interface BoltEncodeOptions {
  protocolType: 'bolt' | 'bolt2';
  codecType: 'hessian2' | 'protobuf';
  boltVersion?: number;
  crcEnable?: boolean;
  proto?: unknown;
}

export interface BoltPacket {
  packetId: number;
  packetType: 'request' | 'response' | 'heartbeat' | 'heartbeat_ack';
  className?: string;
  data?: {
    args?: unknown[];
    serverSignature?: string;
    methodName?: string;
    requestProps?: Record<string, unknown>;
    appResponse?: unknown;
    error?: Error | null;
  };
  options: {
    protocolType: string;
    codecType: string;
    timeout?: number;
    crcEnable?: boolean;
    boltVersion?: number;
  };
}

export interface BoltWire {
  requestEncode(id: number, req: object, options: BoltEncodeOptions): Buffer;
  responseEncode(id: number, res: object, options: BoltEncodeOptions & { proto?: unknown }): Buffer;
  heartbeatEncode(id: number, hb: object, options: BoltEncodeOptions): Buffer;
  heartbeatAckEncode(id: number, options: BoltEncodeOptions): Buffer;
  decode(buf: Buffer, options?: { proto?: unknown }): BoltPacket;
}

export interface BoltEncoderStream extends Transform {
  writeRequest(id: number, req: object, cb?: (err?: Error) => void): void;
  writeResponse(req: BoltPacket, res: object, cb?: (err?: Error) => void): void;
  writeHeartbeatAck(hb: BoltPacket, cb?: (err?: Error) => void): void;
}

export interface BoltModule {
  encoder(options?: object): BoltEncoderStream;
  decoder(options?: object): Writable & Readable;
  RpcClient: new (options: object) => {
    ready(): Promise<void>;
    invoke(req: object): Promise<BoltPacket['data']>;
    close(): Promise<void>;
  };
}

const wire = require('sofa-bolt-node/lib/protocol') as BoltWire;

/** sofa-bolt-node's encoders write into one shared buffer: copy what they return. */
export const sofaWire: BoltWire = {
  requestEncode: (id, req, options) => Buffer.from(wire.requestEncode(id, req, options)),
  responseEncode: (id, res, options) => Buffer.from(wire.responseEncode(id, res, options)),
  heartbeatEncode: (id, hb, options) => Buffer.from(wire.heartbeatEncode(id, hb, options)),
  heartbeatAckEncode: (id, options) => Buffer.from(wire.heartbeatAckEncode(id, options)),
  decode: (buf, options) => wire.decode(buf, options),
};

export const sofaBolt = require('sofa-bolt-node') as BoltModule;
