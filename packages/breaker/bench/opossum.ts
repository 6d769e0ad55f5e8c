// opossum 10 ships no type declarations: the part of its API the comparison uses, typed here.
import { createRequire } from 'node:module';

interface OpossumOptions {
  readonly timeout?: number | false;
  readonly errorThresholdPercentage?: number;
  readonly resetTimeout?: number;
}

interface OpossumBreaker<T> {
  fire(): Promise<T>;
  shutdown(): void;
}

type OpossumClass = new <T>(action: () => Promise<T>, options?: OpossumOptions) => OpossumBreaker<T>;

export const CircuitBreaker = createRequire(import.meta.url)('opossum') as OpossumClass;
