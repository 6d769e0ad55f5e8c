// hessian.js (CommonJS, untyped) reads the Hessian 2 values we route on: the Dubbo request's
// leading strings and attachments, SOFARPC's SofaRequest. Typed here to the few calls we make.
import { createRequire } from 'node:module';

interface HessianDecoder {
  read(withType?: boolean): unknown;
  byteBuffer: { position(): number };
}

interface HessianEncoder {
  write(value: unknown): HessianEncoder;
  get(): Buffer;
  reset(): HessianEncoder;
}

interface HessianModule {
  DecoderV2: new (buf: Buffer) => HessianDecoder;
  EncoderV2: new (options?: { size?: number }) => HessianEncoder;
}

// Loaded on first use: users of the gRPC or Bolt framing alone never load it.
let hessian: HessianModule | undefined;
function load(): HessianModule {
  hessian ??= createRequire(import.meta.url)('hessian.js') as HessianModule;
  return hessian;
}

/** A Hessian 2 reader over `bytes`; each `read()` returns the next value. */
export function hessianReader(bytes: Buffer): HessianDecoder {
  return new (load().DecoderV2)(bytes);
}

/** Encodes one value as Hessian 2 (the message of a Dubbo error reply). */
export function hessianEncode(value: unknown): Buffer {
  const encoder = new (load().EncoderV2)({ size: 256 });
  return encoder.write(value).get();
}
