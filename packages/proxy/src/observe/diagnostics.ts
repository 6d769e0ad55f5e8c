// `diagnostics_channel` events of the proxy (`meshlet:proxy:<event>`), published only when a
// channel has subscribers: without one, a request costs two property reads. docs/diagnostics.md
// lists every channel and its message.
import { type Channel, channel } from 'node:diagnostics_channel';
import type {
  ConnectionInfo,
  HttpContext,
  ObservedChain,
  ObserverFactory,
  StreamInfo,
  StreamObserver,
} from '../types.js';

/** The proxy's channel names, by event. */
type ProxyChannelName =
  'requestStart' | 'requestEnd' | 'connectionOpen' | 'connectionClose' | 'configUpdate' | 'listenerDrained';

/** The proxy's channels. */
export const proxyChannels: Readonly<Record<ProxyChannelName, Channel>> = {
  /** `{ ctx, chain }`: a request's head is complete (HTTP request, RPC request frame). */
  requestStart: channel('meshlet:proxy:request-start'),
  /** `{ ctx, chain }`: the request is over; `ctx.info` and `ctx.response` are final. */
  requestEnd: channel('meshlet:proxy:request-end'),
  /** `{ connection, chain }`: a downstream connection was accepted. */
  connectionOpen: channel('meshlet:proxy:connection-open'),
  /** `{ connection, info, chain }`: a downstream connection closed. */
  connectionClose: channel('meshlet:proxy:connection-close'),
  /** `{ proxy, version }`: a config version is in effect. */
  configUpdate: channel('meshlet:proxy:config-update'),
  /** `{ proxy, name }`: a listener finished draining. */
  listenerDrained: channel('meshlet:proxy:listener-drained'),
};

/** Publishes a chain's connections and requests to the proxy's channels. */
class DiagnosticsObserver implements StreamObserver {
  private readonly chain: ObservedChain;

  constructor(chain: ObservedChain) {
    this.chain = chain;
  }

  connectionOpened(connection: ConnectionInfo): void {
    if (proxyChannels.connectionOpen.hasSubscribers)
      proxyChannels.connectionOpen.publish({ connection, chain: this.chain });
  }

  connectionClosed(connection: ConnectionInfo, info: StreamInfo): void {
    if (proxyChannels.connectionClose.hasSubscribers)
      proxyChannels.connectionClose.publish({ connection, info, chain: this.chain });
  }

  streamStarted(ctx: HttpContext): void {
    if (proxyChannels.requestStart.hasSubscribers)
      proxyChannels.requestStart.publish({ ctx, chain: this.chain });
  }

  streamEnded(ctx: HttpContext): void {
    if (proxyChannels.requestEnd.hasSubscribers) proxyChannels.requestEnd.publish({ ctx, chain: this.chain });
  }
}

/** Watches every chain for the proxy's `diagnostics_channel`s. */
export const diagnosticsObservers: ObserverFactory = {
  forChain: (chain) => new DiagnosticsObserver(chain),
};

/** The proxy events that have a channel. */
interface ProxyEventSource {
  on(event: 'updated', listener: (version: number) => void): unknown;
  on(event: 'listener-drained', listener: (name: string) => void): unknown;
}

/** Publishes a proxy's config updates and drained listeners. */
export function publishProxyEvents(proxy: ProxyEventSource): void {
  proxy.on('updated', (version) => {
    if (proxyChannels.configUpdate.hasSubscribers) proxyChannels.configUpdate.publish({ proxy, version });
  });
  proxy.on('listener-drained', (name) => {
    if (proxyChannels.listenerDrained.hasSubscribers) proxyChannels.listenerDrained.publish({ proxy, name });
  });
}
