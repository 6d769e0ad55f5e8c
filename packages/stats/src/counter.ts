import { InvalidArgumentError } from '@meshlet/errors';
import type { Counter, Tags } from './types.js';

/** A counter: one number field; `inc` and `add` touch nothing else. */
export class StatsCounter implements Counter {
  readonly name: string;
  readonly tagExtractedName: string;
  readonly tags: Tags;
  value = 0;
  /** Recorded into at least once (Envoy's "used" flag, for `usedOnly`). */
  used = false;

  constructor(name: string, tagExtractedName: string, tags: Tags) {
    this.name = name;
    this.tagExtractedName = tagExtractedName;
    this.tags = tags;
  }

  inc(): void {
    this.value++;
    this.used = true;
  }

  add(n: number): void {
    // A counter only goes up: a negative or NaN amount is a bug in the caller, not a value.
    if (!(n >= 0))
      throw new InvalidArgumentError(`counter ${this.name}: add() takes a number >= 0, got ${n}`);
    this.value += n;
    this.used = true;
  }
}
