import { createRequire } from 'node:module';
import { InvalidArgumentError } from '@meshlet/errors';
import type { Float64Histogram as Float64HistogramClass } from 'hdr-histogram-js';
import type { Histogram, HistogramUnit, Tags } from './types.js';

interface UnitRange {
  /** Ticks of the HDR histogram per unit: HDR histograms count integers. */
  readonly scale: number;
  /** The largest value kept, in the unit; larger values are recorded as this. */
  readonly max: number;
}

/**
 * How each unit maps onto the integer HDR histogram. Milliseconds are kept in microseconds (a
 * latency of 0.25 ms stays 0.25 ms), up to a day; bytes in bytes up to 1 TiB; the others with
 * three decimals. Precision on top of that is the store's `significantDigits` (default 2: every
 * value within 1%, as Envoy's log-linear histograms).
 */
export const unitRanges: Readonly<Record<HistogramUnit, UnitRange>> = Object.freeze({
  milliseconds: { scale: 1000, max: 86_400_000 },
  microseconds: { scale: 1, max: 86_400_000_000 },
  bytes: { scale: 1, max: 2 ** 40 },
  percent: { scale: 1000, max: 1_000_000 },
  unspecified: { scale: 1000, max: 1_000_000_000 },
});

const k2p32 = 2 ** 32;

// Float64Histogram from its own module, not the package's index: the index also decodes the
// package's WebAssembly build and loads pako (about 12 MB of RSS per process) for features unused
// here. The package has no exports map, so this path is public; the version is pinned. `require`:
// the module is CommonJS with `exports.default`, which ESM loaders unwrap differently.
const Float64Histogram: typeof Float64HistogramClass = (
  createRequire(import.meta.url)('hdr-histogram-js/dist/Float64Histogram.js') as {
    default: typeof Float64HistogramClass;
  }
).default;

/**
 * hdr-histogram-js' Float64Histogram with a faster `countsArrayIndex` (its public extension
 * point): the same index computed with integer bit operations (`Math.clz32`, shifts) instead of
 * `Math.log2` and `Math.pow`, which are most of the cost of `recordValue`. Anything but a
 * non-negative safe integer goes to the original. A property test keeps the two equal.
 */
export class FastIndexHistogram extends Float64Histogram {
  override countsArrayIndex(value: number): number {
    if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER && value % 1 === 0))
      return super.countsArrayIndex(value);
    const log2 = value < k2p32 ? 31 - Math.clz32(value) : 63 - Math.clz32(Math.floor(value / k2p32));
    const magnitude = this.subBucketHalfCountMagnitude;
    let bucketIndex = log2 - magnitude - this.unitMagnitude;
    if (bucketIndex < 0) bucketIndex = 0;
    const shift = bucketIndex + this.unitMagnitude;
    const subBucketIndex = value < k2p32 ? value >>> shift : Math.floor(value / 2 ** shift);
    return (bucketIndex + 1) * 2 ** magnitude + subBucketIndex - this.subBucketHalfCount;
  }
}

/** A histogram on an HDR histogram, allocated at the first `record` (unused ones cost little). */
export class StatsHistogram implements Histogram {
  readonly name: string;
  readonly tagExtractedName: string;
  readonly tags: Tags;
  readonly unit: HistogramUnit;
  count = 0;
  sum = 0;
  private hdr: FastIndexHistogram | null = null;
  private readonly scale: number;
  private readonly max: number;
  private readonly digits: 1 | 2 | 3 | 4 | 5;

  constructor(
    name: string,
    tagExtractedName: string,
    tags: Tags,
    unit: HistogramUnit,
    digits: 1 | 2 | 3 | 4 | 5,
  ) {
    this.name = name;
    this.tagExtractedName = tagExtractedName;
    this.tags = tags;
    this.unit = unit;
    const range = unitRanges[unit];
    this.scale = range.scale;
    this.max = range.max;
    this.digits = digits;
  }

  /** Whether anything was recorded (Envoy's "used" flag). */
  get used(): boolean {
    return this.count > 0;
  }

  record(value: number): void {
    // `!(v > 0)` also catches NaN.
    const v = !(value > 0) ? 0 : value > this.max ? this.max : value;
    this.count++;
    this.sum += v;
    (this.hdr ?? this.allocate()).recordValue(Math.round(v * this.scale));
  }

  percentile(p: number): number {
    if (!(p >= 0 && p <= 100)) throw new InvalidArgumentError(`percentile must be within 0..100, got ${p}`);
    const hdr = this.hdr;
    if (hdr === null || this.count === 0) return Number.NaN;
    // HDR answers the highest value equivalent to the bucket's: never above what was seen.
    const ticks = Math.min(hdr.getValueAtPercentile(p), hdr.maxValue);
    return ticks / this.scale;
  }

  buckets(bounds: readonly number[]): readonly number[] {
    const out = new Array<number>(bounds.length).fill(0);
    for (let j = 1; j < bounds.length; j++) {
      if (!((bounds[j] as number) > (bounds[j - 1] as number))) {
        throw new InvalidArgumentError(`bucket bounds must be increasing numbers, got ${bounds.join(',')}`);
      }
    }
    const hdr = this.hdr;
    if (hdr === null || bounds.length === 0) return out;
    // One pass over the HDR counts (ascending values): each count goes to the first bound at or
    // above its bucket's lowest value; a running sum then makes the counts cumulative.
    let j = 0;
    let limit = (bounds[0] as number) * this.scale;
    for (let i = 0; i < hdr.countsArrayLength; i++) {
      const c = hdr.getCountAtIndex(i);
      if (c === 0) continue;
      const low = hdr.valueFromIndex(i);
      while (low > limit) {
        if (++j === bounds.length) break;
        limit = (bounds[j] as number) * this.scale;
      }
      if (j === bounds.length) break;
      out[j] = (out[j] as number) + c;
    }
    for (let k = 1; k < out.length; k++) out[k] = (out[k] as number) + (out[k - 1] as number);
    return out;
  }

  private allocate(): FastIndexHistogram {
    const hdr = new FastIndexHistogram(1, Math.ceil(this.max * this.scale), this.digits);
    hdr.autoResize = false;
    this.hdr = hdr;
    return hdr;
  }
}
