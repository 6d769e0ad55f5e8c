// The observers used when nothing watches: they cost one call and do nothing.
import type {
  ConnectionInfo,
  HttpContext,
  ObservedChain,
  StreamInfo,
  ObserverFactory,
  StreamObserver,
  UpstreamStats,
} from '../types.js';

function nothing(): void {
  // Nothing watches.
}

/** A stream observer that records nothing. */
export const NOOP_STREAM_OBSERVER: StreamObserver = Object.freeze({
  connectionOpened: nothing,
  connectionClosed: nothing,
  streamStarted: nothing,
  streamEnded: nothing,
});

/** Upstream stats that record nothing. */
export const NOOP_UPSTREAM_STATS: UpstreamStats = Object.freeze({
  requestStarted: nothing,
  requestEnded: nothing,
  retry: nothing,
  overflow: nothing,
  timeout: nothing,
  connectionOpened: nothing,
  connectionFailed: nothing,
  connectionClosed: nothing,
});

/** Several observers seen as one. */
class ObserverFanout implements StreamObserver {
  private readonly observers: readonly StreamObserver[];

  constructor(observers: readonly StreamObserver[]) {
    this.observers = observers;
  }

  connectionOpened(connection: ConnectionInfo): void {
    for (const o of this.observers) o.connectionOpened(connection);
  }

  connectionClosed(connection: ConnectionInfo, info: StreamInfo): void {
    for (const o of this.observers) o.connectionClosed(connection, info);
  }

  streamStarted(ctx: HttpContext): void {
    for (const o of this.observers) o.streamStarted(ctx);
  }

  streamEnded(ctx: HttpContext): void {
    for (const o of this.observers) o.streamEnded(ctx);
  }
}

/** The observer of one chain: each factory's, composed; the no-op one when none watches. */
export function observerFor(factories: readonly ObserverFactory[], chain: ObservedChain): StreamObserver {
  const observers: StreamObserver[] = [];
  for (const factory of factories) {
    const observer = factory.forChain(chain);
    if (observer !== null) observers.push(observer);
  }
  if (observers.length === 0) return NOOP_STREAM_OBSERVER;
  if (observers.length === 1) return observers[0] as StreamObserver;
  return new ObserverFanout(observers);
}
