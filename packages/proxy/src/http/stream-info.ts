import type { ResponseFlag, StreamInfo } from '../types.js';

/** The `StreamInfo` of one stream: fixed shape, filled as the stream goes. */
export class StreamInfoImpl implements StreamInfo {
  readonly startTime: number;
  readonly startTimeUnixMs: number;
  // Most requests end without a flag: the set is made on first use, not per request.
  private flags: Set<ResponseFlag> | null = null;
  responseCodeDetails = '';
  upstreamCluster: string | undefined = undefined;
  upstreamHost: string | undefined = undefined;
  attempts = 0;
  bytesReceived = 0;
  bytesSent = 0;
  endTime = 0;
  requestCompleteTime: number | undefined = undefined;
  firstUpstreamByteTime: number | undefined = undefined;
  downstreamRemoteAddress: string;

  constructor(startTime: number, startTimeUnixMs: number, downstreamRemoteAddress: string) {
    this.startTime = startTime;
    this.startTimeUnixMs = startTimeUnixMs;
    this.downstreamRemoteAddress = downstreamRemoteAddress;
  }

  get responseFlags(): Set<ResponseFlag> {
    return (this.flags ??= new Set());
  }
}

/** The request head filters see and change in place. */
export class RequestHeadImpl {
  method: string;
  scheme: string;
  authority: string;
  path: string;
  readonly headers: Record<string, string | string[] | undefined>;

  constructor(
    method: string,
    scheme: string,
    authority: string,
    path: string,
    headers: Record<string, string | string[] | undefined>,
  ) {
    this.method = method;
    this.scheme = scheme;
    this.authority = authority;
    this.path = path;
    this.headers = headers;
  }
}

/** A response head. */
export class ResponseHeadImpl {
  status: number;
  readonly headers: Record<string, string | string[] | undefined>;

  constructor(status: number, headers: Record<string, string | string[] | undefined>) {
    this.status = status;
    this.headers = headers;
  }
}
