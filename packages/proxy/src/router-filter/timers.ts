import { TimerEntry } from '@meshlet/breaker';

/** The deadlines of one forwarded request. */
export const TimerKind = {
  /** The route timeout (or `grpc-timeout`): the whole response. */
  global: 0,
  /** One attempt, until its response head. */
  perTry: 1,
  /** One attempt without a byte from upstream. */
  perTryIdle: 2,
  /** The stream without a byte either way (the route's `idle_timeout`). */
  idle: 3,
  /** The backoff before a retry. */
  backoff: 4,
} as const;

/** One of {@link TimerKind}. */
export type TimerKind = (typeof TimerKind)[keyof typeof TimerKind];

/** What a {@link RequestTimer} calls. */
export interface TimerOwner {
  onTimer(kind: TimerKind): void;
  /** `onTimer` threw: a timer callback must never take the process down. */
  onTimerError(error: unknown): void;
}

/**
 * A deadline on the shared timer wheel that calls its owner's `onTimer(kind)`: a method, so no
 * closure per request; the entry is reused for every reschedule.
 */
export class RequestTimer extends TimerEntry {
  readonly #owner: TimerOwner;
  readonly #kind: TimerKind;

  constructor(owner: TimerOwner, kind: TimerKind) {
    super();
    this.#owner = owner;
    this.#kind = kind;
  }

  override fire(): void {
    try {
      this.#owner.onTimer(this.#kind);
    } catch (error) {
      this.#owner.onTimerError(error);
    }
  }
}
