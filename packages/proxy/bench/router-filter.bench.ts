// The router filter's own cost per request, without sockets: handle() over a route compiled by
// the router part, a cluster on the real balancer and breaker limits, and an in-memory undici
// dispatcher that answers synchronously through the handler API. What remains is the filter:
// admission, host pick, the attempt handler, headers, timers, the response relay.
//
// Also: the deadlines of a request (route + per-try timeout) as entries on one TimerWheel, as
// the filter keeps them, against one setTimeout/clearTimeout pair each.
import { createResourceLimits, TimerWheel } from '@meshlet/breaker';
import type { PriorityResourceLimits } from '@meshlet/breaker';
import { createLoadBalancer } from '@meshlet/lb';
import type { Host, PickContext } from '@meshlet/lb';
import { compileRouteTable, createRouterFilter, NOOP_UPSTREAM_STATS } from '@meshlet/proxy';
import type {
  DownstreamStream,
  HeaderMap,
  HttpContext,
  ResponseHead,
  RouteEntry,
  StreamInfo,
  UpstreamCluster,
  UpstreamOutcome,
} from '@meshlet/proxy';
import type * as model from '@meshlet/xds';
import { TimerEntry } from '@meshlet/breaker';
import type { Dispatcher } from 'undici';
import { consume, fmt, gcCost, measure, smoke, table } from '../../../bench/harness.ts';

const PER_CALL = 100;
const BODY = Buffer.from('hello');

class InstantController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  abort(reason: Error): void {
    this.aborted = true;
    this.reason = reason;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
}

/** Answers every request at once: status, one body chunk, end. */
class InstantDispatcher {
  status = 200;
  dispatch(_options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const controller = new InstantController() as unknown as Dispatcher.DispatchController;
    handler.onRequestStart?.(controller, {});
    handler.onResponseStart?.(controller, this.status, { 'content-type': 'text/plain' }, 'OK');
    if (controller.aborted) return true;
    handler.onResponseData?.(controller, BODY);
    handler.onResponseEnd?.(controller, {});
    return true;
  }
}

class BenchCluster implements UpstreamCluster {
  readonly name = 'backend';
  readonly stats = NOOP_UPSTREAM_STATS;
  readonly config = { name: 'backend', type: 'STATIC' } as unknown as model.Cluster;
  readonly lb = createLoadBalancer(
    'ROUND_ROBIN',
    Array.from({ length: 10 }, (_, i) => ({ address: `10.0.0.${i + 1}`, port: 8080 })),
  );
  readonly #limits = createResourceLimits([]);
  readonly upstream = new InstantDispatcher();
  limits(priority: 'default' | 'high'): PriorityResourceLimits {
    return this.#limits.forPriority(priority);
  }
  pick(context: PickContext): Host | null {
    return this.lb.pick(context);
  }
  dispatcher(): Dispatcher {
    return this.upstream as unknown as Dispatcher;
  }
  protocolFor(): 'http1' {
    return 'http1';
  }
  report(_host: Host, outcome: UpstreamOutcome): void {
    consume(outcome);
  }
}

const NO_CHANGES = {
  requestHeadersToAdd: [],
  requestHeadersToRemove: [],
  responseHeadersToAdd: [],
  responseHeadersToRemove: [],
};

function routeTable(action: Partial<model.RouteAction>) {
  return compileRouteTable({
    name: 'rc',
    virtualHosts: [
      {
        name: 'vh',
        domains: ['*'],
        requireTls: 'NONE',
        typedPerFilterConfig: {},
        ...NO_CHANGES,
        routes: [
          {
            name: 'r',
            match: { prefix: '/', caseSensitive: true, headers: [], queryParameters: [], grpc: false },
            metadata: {},
            typedPerFilterConfig: {},
            ...NO_CHANGES,
            route: {
              cluster: 'backend',
              autoHostRewrite: false,
              timeoutMs: 0,
              hashPolicy: [],
              requestMirrorPolicies: [],
              priority: 'DEFAULT',
              upgradeConfigs: [],
              ...action,
            },
          },
        ],
      },
    ],
    typedPerFilterConfig: {},
    ...NO_CHANGES,
  });
}

const CONNECTION = {
  id: 1,
  listenerName: 'l',
  remoteAddress: '127.0.0.1',
  remotePort: 1234,
  localAddress: '127.0.0.1',
  localPort: 80,
  tls: false,
  serverName: undefined,
  alpnProtocol: undefined,
};

function proceedNow(_head: ResponseHead, proceed: (send: boolean) => void): void {
  proceed(true);
}

/** What the connection manager would hand over: a context and a stream writing nowhere. */
function stream(entry: RouteEntry): DownstreamStream {
  const info: StreamInfo = {
    startTime: 0,
    startTimeUnixMs: 0,
    responseFlags: new Set(),
    responseCodeDetails: '',
    upstreamCluster: undefined,
    upstreamHost: undefined,
    attempts: 0,
    bytesReceived: 0,
    bytesSent: 0,
    endTime: 0,
  };
  const headers: HeaderMap = { 'user-agent': 'bench', accept: '*/*' };
  const ctx = {
    request: { method: 'GET', scheme: 'http', authority: 'svc', path: '/items?x=1', headers },
    response: null,
    connection: CONNECTION,
    protocol: 'HTTP/1.1',
    requestId: 'id',
    isGrpc: false,
    route: entry,
    clearRouteCache: () => undefined,
    state: new Map(),
    info,
    aborted: false,
    replied: false,
    reply: () => undefined,
    readBody: () => Promise.resolve(null),
  } as unknown as HttpContext;
  return {
    ctx,
    body: null,
    upgrade: null,
    respond: proceedNow,
    write: (chunk) => {
      info.bytesSent += chunk.length;
      return true;
    },
    onDrain: () => undefined,
    end: () => undefined,
    reset: () => undefined,
    onAbort: () => undefined,
  };
}

const cluster = new BenchCluster();
const clusters = {
  get: (name: string) => (name === 'backend' ? cluster : undefined),
  update: () => undefined,
  close: () => Promise.resolve(),
};
// A wheel that never fires by itself: entries are scheduled and cancelled, as in a real run.
const wheel = new TimerWheel({
  tickMs: 10,
  scheduler: { setTimeout: () => 1, clearTimeout: () => undefined },
});
const filter = createRouterFilter({
  clusters,
  config: { type: 'router', suppressEnvoyHeaders: false },
  timers: wheel,
});

const input = (entry: RouteEntry | null): RouteEntry => entry as RouteEntry;
const match = (table: ReturnType<typeof compileRouteTable>): RouteEntry =>
  input(
    table.match({
      request: stream(null as unknown as RouteEntry).ctx.request,
      connection: CONNECTION,
      random: Math.random,
    }),
  );
const plain = match(routeTable({}));
const timed = match(
  routeTable({
    timeoutMs: 15_000,
    retryPolicy: {
      retryOn: ['5xx'],
      numRetries: 2,
      perTryTimeoutMs: 1000,
      retriableStatusCodes: [],
      retriableHeaders: [],
      hostSelectionRetryMaxAttempts: 1,
      retryHostPredicates: [],
    },
  }),
);

const [plainResult, timedResult] = await measure(
  [
    {
      name: 'handle: forward, 200',
      fn: () => {
        for (let i = 0; i < PER_CALL; i++) filter.handle(stream(plain));
      },
    },
    {
      name: 'handle: route + per-try timeout, retry policy',
      fn: () => {
        for (let i = 0; i < PER_CALL; i++) filter.handle(stream(timed));
      },
    },
  ],
  600,
);

class Noop extends TimerEntry {}
const entries = Array.from({ length: PER_CALL * 2 }, () => new Noop());
const timerWheel = new TimerWheel({ tickMs: 10 });
const [wheelResult, nativeResult] = await measure(
  [
    {
      name: '2 deadlines: TimerWheel schedule + cancel',
      fn: () => {
        for (let i = 0; i < PER_CALL * 2; i++) timerWheel.schedule(entries[i] as Noop, 15_000);
        for (let i = 0; i < PER_CALL * 2; i++) timerWheel.cancel(entries[i] as Noop);
      },
    },
    {
      name: '2 deadlines: setTimeout + clearTimeout',
      fn: () => {
        const handles: NodeJS.Timeout[] = [];
        for (let i = 0; i < PER_CALL * 2; i++) handles.push(setTimeout(consume, 15_000));
        for (const handle of handles) clearTimeout(handle);
      },
    },
  ],
  400,
);

const rows = [];
for (const r of [plainResult, timedResult, wheelResult, nativeResult]) {
  if (!r) continue;
  rows.push({
    task: r.name,
    'requests/s': fmt((r.hz * PER_CALL) / 1000) + ' k',
    'ns per request': fmt(r.meanNs / PER_CALL),
    'p99 µs (100 requests)': fmt(r.p99Ns / 1000, 1),
  });
}
table('Router filter per request (no sockets: in-memory upstream answering at once)', rows);

const requests = smoke ? 1000 : 100_000;
const gc = await gcCost(() => {
  for (let i = 0; i < requests; i++) filter.handle(stream(timed));
});
table(`GC while forwarding ${fmt(requests)} requests (route + per-try timeout, retry policy)`, [
  { GCs: gc.count, 'GC ms': fmt(gc.ms, 1), 'wall ms': fmt(gc.wallMs, 0) },
]);
if (filter.stats.upstreamRequests === 0) throw new Error('nothing was forwarded');
