import type { Gauge, Tags } from './types.js';

/** A gauge: one number field. */
export class StatsGauge implements Gauge {
  readonly name: string;
  readonly tagExtractedName: string;
  readonly tags: Tags;
  value = 0;
  /** Set at least once (Envoy's "used" flag, for `usedOnly`). */
  used = false;

  constructor(name: string, tagExtractedName: string, tags: Tags) {
    this.name = name;
    this.tagExtractedName = tagExtractedName;
    this.tags = tags;
  }

  set(value: number): void {
    this.value = value;
    this.used = true;
  }

  inc(): void {
    this.value++;
    this.used = true;
  }

  dec(): void {
    this.value--;
    this.used = true;
  }

  add(n: number): void {
    this.value += n;
    this.used = true;
  }

  sub(n: number): void {
    this.value -= n;
    this.used = true;
  }
}
