// XXH64 (https://github.com/Cyan4973/xxHash, the 64-bit variant Envoy's HashUtil::xxHash64 uses)
// on 32-bit halves. BigInt arithmetic allocates on every operation; building a ring of 8M entries
// with it would take tens of seconds. Here every 64-bit value is a (hi, lo) pair of uint32 held in
// locals, and only the public function returns a bigint.
//
// The helpers below leave their result in the module-level pair (rHi, rLo): JavaScript has no
// multiple return values, and an object per operation would defeat the purpose.
import { InvalidArgumentError } from '@meshlet/errors';

// The five XXH64 primes, as (hi, lo).
const P1H = 0x9e3779b1;
const P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d;
const P2L = 0x27d4eb4f;
const P3H = 0x165667b1;
const P3L = 0x9e3779f9;
const P4H = 0x85ebca77;
const P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f;
const P5L = 0x165667c5;

const TWO32 = 4294967296;

let rHi = 0;
let rLo = 0;

/** (ah, al) * (bh, bl) mod 2^64 into (rHi, rLo). */
function mul(ah: number, al: number, bh: number, bl: number): void {
  // al * bl needs its full 64 bits: split into 16-bit limbs so every partial product is exact.
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const cross = a0 * b1 + a1 * b0; // < 2^33
  const low = a0 * b0 + (cross % 65536) * 65536; // < 2^33
  const carry = a1 * b1 + Math.floor(cross / 65536) + Math.floor(low / TWO32);
  rLo = low >>> 0;
  rHi = (carry + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

/** (ah, al) + (bh, bl) mod 2^64 into (rHi, rLo). */
function add(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  rLo = lo >>> 0;
  rHi = (ah + bh + (lo >= TWO32 ? 1 : 0)) >>> 0;
}

/** Rotates (h, l) left by r bits, 0 < r < 32, into (rHi, rLo). */
function rotl(h: number, l: number, r: number): void {
  rHi = ((h << r) | (l >>> (32 - r))) >>> 0;
  rLo = ((l << r) | (h >>> (32 - r))) >>> 0;
}

// The four accumulators of the 32-byte stripe loop.
let v1h = 0;
let v1l = 0;
let v2h = 0;
let v2l = 0;
let v3h = 0;
let v3l = 0;
let v4h = 0;
let v4l = 0;

/** round(acc, input) = rotl(acc + input * P2, 31) * P1, into (rHi, rLo). */
function round(acch: number, accl: number, inh: number, inl: number): void {
  mul(inh, inl, P2H, P2L);
  add(acch, accl, rHi, rLo);
  rotl(rHi, rLo, 31);
  mul(rHi, rLo, P1H, P1L);
}

/** mergeRound(acc, val) = (acc ^ round(0, val)) * P1 + P4, into (rHi, rLo). */
function mergeRound(acch: number, accl: number, valh: number, vall: number): void {
  round(0, 0, valh, vall);
  mul((acch ^ rHi) >>> 0, (accl ^ rLo) >>> 0, P1H, P1L);
  add(rHi, rLo, P4H, P4L);
}

function u32(b: Uint8Array, i: number): number {
  return (
    ((b[i] as number) |
      ((b[i + 1] as number) << 8) |
      ((b[i + 2] as number) << 16) |
      ((b[i + 3] as number) << 24)) >>>
    0
  );
}

/**
 * XXH64 of `len` bytes of `b` with seed (seedHi, seedLo); leaves the hash in (rHi, rLo) and
 * returns nothing. The engine of {@link xxHash64} and of the table builders.
 */
function digest(b: Uint8Array, len: number, seedHi: number, seedLo: number): void {
  let i = 0;
  let hh: number;
  let hl: number;
  if (len >= 32) {
    add(seedHi, seedLo, P1H, P1L);
    add(rHi, rLo, P2H, P2L);
    v1h = rHi;
    v1l = rLo;
    add(seedHi, seedLo, P2H, P2L);
    v2h = rHi;
    v2l = rLo;
    v3h = seedHi;
    v3l = seedLo;
    // seed - P1 = seed + (2^64 - P1)
    add(seedHi, seedLo, ~P1H >>> 0, (~P1L + 1) >>> 0);
    v4h = rHi;
    v4l = rLo;
    const limit = len - 32;
    do {
      round(v1h, v1l, u32(b, i + 4), u32(b, i));
      v1h = rHi;
      v1l = rLo;
      round(v2h, v2l, u32(b, i + 12), u32(b, i + 8));
      v2h = rHi;
      v2l = rLo;
      round(v3h, v3l, u32(b, i + 20), u32(b, i + 16));
      v3h = rHi;
      v3l = rLo;
      round(v4h, v4l, u32(b, i + 28), u32(b, i + 24));
      v4h = rHi;
      v4l = rLo;
      i += 32;
    } while (i <= limit);
    rotl(v1h, v1l, 1);
    hh = rHi;
    hl = rLo;
    rotl(v2h, v2l, 7);
    add(hh, hl, rHi, rLo);
    hh = rHi;
    hl = rLo;
    rotl(v3h, v3l, 12);
    add(hh, hl, rHi, rLo);
    hh = rHi;
    hl = rLo;
    rotl(v4h, v4l, 18);
    add(hh, hl, rHi, rLo);
    mergeRound(rHi, rLo, v1h, v1l);
    mergeRound(rHi, rLo, v2h, v2l);
    mergeRound(rHi, rLo, v3h, v3l);
    mergeRound(rHi, rLo, v4h, v4l);
  } else {
    add(seedHi, seedLo, P5H, P5L);
  }
  // h += len (len < 2^53: its high half is floor(len / 2^32)).
  add(rHi, rLo, Math.floor(len / TWO32), len >>> 0);
  hh = rHi;
  hl = rLo;
  while (i + 8 <= len) {
    round(0, 0, u32(b, i + 4), u32(b, i));
    rotl((hh ^ rHi) >>> 0, (hl ^ rLo) >>> 0, 27);
    mul(rHi, rLo, P1H, P1L);
    add(rHi, rLo, P4H, P4L);
    hh = rHi;
    hl = rLo;
    i += 8;
  }
  if (i + 4 <= len) {
    mul(0, u32(b, i), P1H, P1L);
    rotl((hh ^ rHi) >>> 0, (hl ^ rLo) >>> 0, 23);
    mul(rHi, rLo, P2H, P2L);
    add(rHi, rLo, P3H, P3L);
    hh = rHi;
    hl = rLo;
    i += 4;
  }
  while (i < len) {
    mul(0, b[i] as number, P5H, P5L);
    rotl((hh ^ rHi) >>> 0, (hl ^ rLo) >>> 0, 11);
    mul(rHi, rLo, P1H, P1L);
    hh = rHi;
    hl = rLo;
    i++;
  }
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  hl = (hl ^ (hh >>> 1)) >>> 0;
  mul(hh, hl, P2H, P2L);
  hh = rHi;
  hl = (rLo ^ ((rLo >>> 29) | (rHi << 3))) >>> 0;
  hh = (hh ^ (hh >>> 29)) >>> 0;
  mul(hh, hl, P3H, P3L);
  rLo = (rLo ^ rHi) >>> 0;
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/** UTF-8 of `s` into the shared scratch buffer; returns the byte length. */
function encode(s: string): number {
  // Every UTF-16 unit encodes to at most 3 bytes.
  if (s.length * 3 > scratch.length) scratch = new Uint8Array(Math.max(s.length * 3, scratch.length * 2));
  return encoder.encodeInto(s, scratch).written;
}

/**
 * Hashes a string (its UTF-8 bytes) and leaves the 64-bit result in the pair read by
 * {@link hashHi} / {@link hashLo}. No allocation: what the table builders and hash policies use.
 * @internal
 */
export function xxHash64Parts(input: string, seed: number): void {
  const len = encode(input); // may replace `scratch`: read it after
  digest(scratch, len, 0, seed);
}

/** High 32 bits of the last {@link xxHash64Parts} result. @internal */
export function hashHi(): number {
  return rHi;
}

/** Low 32 bits of the last {@link xxHash64Parts} result. @internal */
export function hashLo(): number {
  return rLo;
}

const MASK64 = (1n << 64n) - 1n;

/**
 * XXH64 of `input` (a string is hashed as its UTF-8 bytes), identical to the reference
 * implementation and to Envoy's `HashUtil::xxHash64`.
 *
 * @param seed a 64-bit seed: a bigint, or a non-negative safe integer. Default 0.
 * @example
 * ```ts
 * xxHash64(''); // 0xef46db3751d8e999n
 * xxHash64('10.0.0.1:8080', 1); // the Maglev "skip" hash of that host, before the modulo
 * ```
 */
export function xxHash64(input: string | Uint8Array, seed: bigint | number = 0): bigint {
  let seedHi: number;
  let seedLo: number;
  if (typeof seed === 'bigint') {
    if (seed < 0n || seed > MASK64) throw new InvalidArgumentError(`xxHash64: seed ${seed} is not a uint64`);
    seedHi = Number(seed >> 32n);
    seedLo = Number(seed & 0xffffffffn);
  } else {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new InvalidArgumentError(
        `xxHash64: seed ${seed} is not a non-negative safe integer (pass a bigint)`,
      );
    }
    seedHi = Math.floor(seed / TWO32);
    seedLo = seed >>> 0;
  }
  if (typeof input === 'string') {
    const len = encode(input); // may replace `scratch`: read it after
    digest(scratch, len, seedHi, seedLo);
  } else if (input instanceof Uint8Array) digest(input, input.length, seedHi, seedLo);
  else throw new InvalidArgumentError('xxHash64: input must be a string or a Uint8Array');
  return (BigInt(rHi) << 32n) | BigInt(rLo);
}
