// Shared knobs and mutators of the fuzz suites (packages/*/test/fuzz/, test/reliability/fuzz-*).
// `npm test` runs each property a bounded number of times; a long run sets
//   MESHLET_FUZZ_RUNS=<n>   runs of every property (and rounds of every socket fuzzer), and
//   MESHLET_FUZZ_SEED=<n>   the fast-check seed, to replay a failure printed by an earlier run.
// e.g. `MESHLET_FUZZ_RUNS=20000 pnpm exec vitest run packages/codec/test/fuzz`.
import fc from 'fast-check';

function positiveInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return n;
}

/** Runs asked for by `MESHLET_FUZZ_RUNS`, or undefined for the bounded default of each test. */
export const FUZZ_RUNS: number | undefined = positiveInt('MESHLET_FUZZ_RUNS');

/** The fast-check seed asked for by `MESHLET_FUZZ_SEED`. */
export const FUZZ_SEED: number | undefined = positiveInt('MESHLET_FUZZ_SEED');

/** True for a long run (MESHLET_FUZZ_RUNS set): tests lift their time limit. */
export const LONG_RUN = FUZZ_RUNS !== undefined;

/** `bounded` runs in npm test, MESHLET_FUZZ_RUNS in a long run. */
export function runs(bounded: number): number {
  return FUZZ_RUNS ?? bounded;
}

/** fast-check parameters: `bounded` runs (or the long-run count) and the seed if one was given. */
export function fuzzParams<T>(bounded: number): fc.Parameters<T> {
  return FUZZ_SEED === undefined ? { numRuns: runs(bounded) } : { numRuns: runs(bounded), seed: FUZZ_SEED };
}

/** A vitest timeout for a fuzz test: `bounded` ms in npm test, a day in a long run. */
export function fuzzTimeout(bounded: number): number {
  return LONG_RUN ? 24 * 3600_000 : bounded;
}

/**
 * One edit of a byte string, as data so that fast-check can print and shrink it. Positions are
 * taken modulo the length at the time the edit applies.
 */
export type Mutation =
  | { readonly op: 'set'; readonly at: number; readonly byte: number }
  | { readonly op: 'flip'; readonly at: number; readonly bit: number }
  | { readonly op: 'u32'; readonly at: number; readonly value: number }
  | { readonly op: 'insert'; readonly at: number; readonly bytes: Uint8Array }
  | { readonly op: 'delete'; readonly at: number; readonly count: number }
  | { readonly op: 'repeat'; readonly at: number; readonly count: number; readonly times: number }
  | { readonly op: 'truncate'; readonly at: number };

// Values that sit on the edges length fields are checked against.
const interestingU32 = [
  0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
];

/** Arbitrary byte-string edits: single bytes, bit flips, edge values over length fields, splices. */
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.nat({ max: 255 }) }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({
    op: fc.constant('u32' as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(...interestingU32), fc.nat({ max: 0xffffffff })),
  }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({
    op: fc.constant('repeat' as const),
    at: fc.nat(),
    count: fc.integer({ min: 1, max: 32 }),
    times: fc.integer({ min: 2, max: 64 }),
  }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

/** `bytes` with `edits` applied in order (a new buffer; the input is untouched). */
export function mutate(bytes: Uint8Array, edits: readonly Mutation[]): Buffer {
  let b = Buffer.from(bytes);
  for (const e of edits) {
    const n = b.length;
    const at = n === 0 ? 0 : e.at % n;
    switch (e.op) {
      case 'set':
        if (n > 0) b[at] = e.byte;
        break;
      case 'flip':
        if (n > 0) b[at] = (b[at] as number) ^ (1 << e.bit);
        break;
      case 'u32':
        if (n >= 4) b.writeUInt32BE(e.value >>> 0, Math.min(at, n - 4));
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.count)]);
        break;
      case 'repeat': {
        const part = b.subarray(at, at + e.count);
        b = Buffer.concat([
          b.subarray(0, at),
          ...Array<Buffer>(e.times).fill(part),
          b.subarray(at + e.count),
        ]);
        break;
      }
      case 'truncate':
        b = b.subarray(0, at);
        break;
    }
  }
  return b;
}

/** Splits `bytes` at the given cut points (taken modulo the length, sorted, deduplicated). */
export function chunk(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

/** Cut points for {@link chunk}. */
export const cuts: fc.Arbitrary<number[]> = fc.array(fc.nat(), { maxLength: 8 });
