// The IPC messages between the soak harness and the proxy process it runs (proxy-process.ts).

/** What the proxy process measures of itself, after two full GCs. */
export interface ProxySample {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** `process.getActiveResourcesInfo()` counted by type. */
  readonly handles: Record<string, number>;
  /** `error` events the proxy emitted so far, and the last few of them. */
  readonly proxyErrors: number;
  readonly lastErrors: readonly string[];
  /** User + system CPU time of the proxy process so far, µs. */
  readonly cpuMicros: number;
  /** `<cluster>.upstream_rq_retry`, `.upstream_cx_connect_fail`, `.upstream_rq_total` of the proxy's stats. */
  readonly clusterCounters: Record<string, number>;
}

export type ToChild =
  | { readonly type: 'start'; readonly bootstrap: object }
  | { readonly type: 'update'; readonly seq: number; readonly bootstrap: object }
  | { readonly type: 'sample'; readonly seq: number }
  | { readonly type: 'stop' };

export type ToParent =
  | { readonly type: 'started'; readonly ports: Record<string, number> }
  | { readonly type: 'updated'; readonly seq: number; readonly error: string | null }
  | { readonly type: 'sample'; readonly seq: number; readonly sample: ProxySample }
  | { readonly type: 'stopped' }
  | { readonly type: 'fatal'; readonly error: string };
