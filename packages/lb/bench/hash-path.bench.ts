// The two choices on the consistent-hash pick path, each against the obvious alternative:
// - reducing a uint64 given as 32-bit halves modulo M: `%` (on numbers above 2^31 it compiles to
//   a call to fmod) against a float division, a floor and one correction step (what Maglev uses);
// - splitting a bigint hash into halves: `Number(h >> 32n)` and `Number(h & mask)` (two BigInts
//   allocated) against one store into a BigUint64Array read back through a Uint32Array view.
// Each timed call does 100 operations over 1024 prepared inputs.
import { consume, fmt, measure, table } from '../../../bench/harness.ts';

const N = 1024;
const his = new Float64Array(N);
const los = new Float64Array(N);
const bigs: bigint[] = [];
let seed = 7;
const next = (): number => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return Math.floor((seed / 2147483648) * 2 ** 32);
};
for (let i = 0; i < N; i++) {
  his[i] = next();
  los[i] = next();
  bigs.push((BigInt(his[i] as number) << 32n) | BigInt(los[i] as number));
}
const M = 65537;
const T = 4294967296 % M;

function modFloor(x: number, m: number): number {
  const r = x - Math.floor(x / m) * m;
  return r < 0 ? r + m : r >= m ? r - m : r;
}

const SPLIT = new BigUint64Array(1);
const HALVES = new Uint32Array(SPLIT.buffer);
let at = 0;

const [fmodOp, floorOp, shiftOp, viewOp] = await measure([
  {
    name: 'uint64 mod M with %',
    fn: () => {
      let s = 0;
      for (let k = 0; k < 100; k++, at++)
        s += (((his[at & 1023] as number) % M) * T + (los[at & 1023] as number)) % M;
      consume(s);
    },
  },
  {
    name: 'uint64 mod M with floor',
    fn: () => {
      let s = 0;
      for (let k = 0; k < 100; k++, at++)
        s += modFloor(modFloor(his[at & 1023] as number, M) * T + (los[at & 1023] as number), M);
      consume(s);
    },
  },
  {
    name: 'bigint halves by shift and mask',
    fn: () => {
      let s = 0;
      for (let k = 0; k < 100; k++, at++) {
        const h = bigs[at & 1023] as bigint;
        s += Number(h >> 32n) + Number(h & 0xffffffffn);
      }
      consume(s);
    },
  },
  {
    name: 'bigint halves through a typed-array view',
    fn: () => {
      let s = 0;
      for (let k = 0; k < 100; k++, at++) {
        SPLIT[0] = bigs[at & 1023] as bigint;
        s += (HALVES[1] as number) + (HALVES[0] as number);
      }
      consume(s);
    },
  },
]);
const ns = (r: { meanNs: number } | undefined): string => (r ? `${fmt(r.meanNs / 100, 1)} ns` : '');
table('Consistent-hash pick path: time per operation (lower is better)', [
  { operation: 'uint64 mod M', obvious: `${ns(fmodOp)} (%)`, chosen: `${ns(floorOp)} (floor)` },
  {
    operation: 'bigint to 32-bit halves',
    obvious: `${ns(shiftOp)} (>> and &)`,
    chosen: `${ns(viewOp)} (typed view)`,
  },
]);
