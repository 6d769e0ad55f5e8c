// The soak's clients: real HTTP/1.1 (undici), HTTP/2 (node:http2), gRPC (@grpc/grpc-js) and Bolt
// (sofa-bolt-node) clients, each running a few paced request loops against one meshlet listener
// and judging every answer.
//
// A request fails when the client does not get exactly the expected answer (HTTP 200 with the
// echoed path, gRPC OK with the echoed bytes, a Bolt success with the echoed argument) within its
// deadline. Whose failure it is:
//   - the upstream's, only when the response head had already reached the client before the
//     request failed: the instance started answering and then died, and no proxy may replay a
//     request whose answer it has begun to forward (Envoy retries only before the head);
//   - the proxy's, in every other case: refused or reset before the head, a local reply (503...),
//     a wrong body, a deadline. The cluster always has a live instance (only one of two restarts
//     at a time) and the route retries connect failures, resets and refused streams, so all of
//     these are the proxy's to absorb.
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { Pool } from 'undici';
import { BOLT_SERVICE, CONFIG_HEADER } from './config.ts';
import { bolt, ECHO_SERVICE, httpEcho, type BoltClient } from './upstreams.ts';

/** What a loop counted. */
export interface LoadCounts {
  ok: number;
  proxyFailures: number;
  upstreamFailures: number;
  /** The highest config version the answers carried (HTTP and gRPC: `x-soak-config`). */
  highestConfig: number;
  /** The first few failures, `proxy: ...` / `upstream: ...`. */
  readonly failures: string[];
}

/** A request's outcome: `null` when it succeeded, else whose failure and why. */
type Outcome = null | { readonly by: 'proxy' | 'upstream'; readonly reason: string };

const DEADLINE_MS = 10_000;
const MAX_FAILURES_KEPT = 20;

/** A client of one protocol, with `concurrency` loops paced at `rate` requests per second in all. */
export abstract class LoadClient {
  readonly counts: LoadCounts = {
    ok: 0,
    proxyFailures: 0,
    upstreamFailures: 0,
    highestConfig: 0,
    failures: [],
  };
  private running = false;
  private paused = false;
  private inFlight = 0;
  private seq = 0;
  private readonly loops: Promise<void>[] = [];
  private idle: (() => void) | null = null;
  private resume: (() => void) | null = null;
  private resumed: Promise<void> = Promise.resolve();

  readonly protocol: string;
  private readonly concurrency: number;
  private readonly rate: number;

  constructor(protocol: string, concurrency: number, rate: number) {
    this.protocol = protocol;
    this.concurrency = concurrency;
    this.rate = rate;
  }

  /** Sends one request numbered `seq` and judges its answer. */
  protected abstract request(seq: number): Promise<Outcome>;

  /** Opens the client's connection(s). */
  abstract open(): Promise<void>;

  /** Closes the client's connection(s). */
  protected abstract shut(): Promise<void>;

  protected sawConfig(value: unknown): void {
    const version = Number(value);
    if (version > this.counts.highestConfig) this.counts.highestConfig = version;
  }

  start(): void {
    this.running = true;
    for (let i = 0; i < this.concurrency; i++) this.loops.push(this.loop());
  }

  /** Stops sending and resolves once no request is in flight. */
  pause(): Promise<void> {
    this.paused = true;
    this.resumed = new Promise((resolve) => (this.resume = resolve));
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idle = resolve));
  }

  unpause(): void {
    this.paused = false;
    this.resume?.();
    this.resume = null;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unpause();
    await Promise.all(this.loops);
    await this.shut();
  }

  private async loop(): Promise<void> {
    // Each loop sends at most rate / concurrency requests per second; a slow answer delays only
    // its own loop.
    const intervalMs = (1000 * this.concurrency) / this.rate;
    while (this.running) {
      if (this.paused) {
        await this.resumed;
        continue;
      }
      const started = performance.now();
      this.inFlight++;
      let outcome: Outcome;
      try {
        outcome = await this.request(++this.seq);
      } catch (error) {
        outcome = { by: 'proxy', reason: `client threw: ${(error as Error).message}` };
      }
      this.inFlight--;
      this.count(outcome);
      if (this.inFlight === 0 && this.idle !== null) {
        this.idle();
        this.idle = null;
      }
      const wait = intervalMs - (performance.now() - started);
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  private count(outcome: Outcome): void {
    if (outcome === null) {
      this.counts.ok++;
      return;
    }
    if (outcome.by === 'proxy') this.counts.proxyFailures++;
    else this.counts.upstreamFailures++;
    if (this.counts.failures.length < MAX_FAILURES_KEPT) {
      this.counts.failures.push(`${outcome.by}: ${outcome.reason} (${new Date().toISOString()})`);
    }
  }
}

/** HTTP/1.1 over kept-alive connections (an undici Pool, one connection per loop). */
export class Http1Client extends LoadClient {
  private pool: Pool | null = null;

  private readonly port: number;

  constructor(port: number, concurrency: number, rate: number) {
    super('http1', concurrency, rate);
    this.port = port;
  }

  open(): Promise<void> {
    this.pool = new Pool(`http://127.0.0.1:${this.port}`, { connections: 16, pipelining: 1 });
    return Promise.resolve();
  }

  protected async shut(): Promise<void> {
    await this.pool?.close();
  }

  protected async request(seq: number): Promise<Outcome> {
    const path = `/h1/${seq}`;
    let head = false;
    try {
      const res = await (this.pool as Pool).request({
        path,
        method: 'GET',
        headersTimeout: DEADLINE_MS,
        bodyTimeout: DEADLINE_MS,
      });
      head = true;
      const body = await res.body.text();
      this.sawConfig(res.headers[CONFIG_HEADER]);
      if (res.statusCode !== 200)
        return { by: 'proxy', reason: `HTTP ${res.statusCode}: ${body.slice(0, 120)}` };
      if (body !== httpEcho(path))
        return { by: 'proxy', reason: `wrong body ${JSON.stringify(body.slice(0, 60))}` };
      return null;
    } catch (error) {
      return { by: head ? 'upstream' : 'proxy', reason: (error as Error).message };
    }
  }
}

/** Plain HTTP/2 (h2c, prior knowledge): one node:http2 session, streams from every loop. */
export class Http2Client extends LoadClient {
  private session: http2.ClientHttp2Session | null = null;

  private readonly port: number;

  constructor(port: number, concurrency: number, rate: number) {
    super('h2', concurrency, rate);
    this.port = port;
  }

  private connect(): http2.ClientHttp2Session {
    const session = http2.connect(`http://127.0.0.1:${this.port}`);
    // A session that ends is replaced on the next request; its failure shows on its streams.
    session.on('error', () => undefined);
    this.session = session;
    return session;
  }

  open(): Promise<void> {
    this.connect();
    return Promise.resolve();
  }

  protected shut(): Promise<void> {
    const session = this.session;
    if (session === null || session.closed) return Promise.resolve();
    return new Promise((resolve) => {
      session.close(resolve);
    });
  }

  private judge(
    head: boolean,
    status: number,
    rstCode: number,
    config: unknown,
    body: string,
    path: string,
  ): Outcome {
    if (!head) return { by: 'proxy', reason: `stream closed before the head, code ${rstCode}` };
    this.sawConfig(config);
    if (status !== 200) return { by: 'proxy', reason: `HTTP ${status}: ${body.slice(0, 120)}` };
    if (rstCode !== http2.constants.NGHTTP2_NO_ERROR)
      return { by: 'upstream', reason: `reset after the head, code ${rstCode}` };
    if (body !== httpEcho(path))
      return { by: 'proxy', reason: `wrong body ${JSON.stringify(body.slice(0, 60))}` };
    return null;
  }

  protected request(seq: number): Promise<Outcome> {
    let session = this.session;
    if (session === null || session.closed || session.destroyed) session = this.connect();
    const path = `/h2/${seq}`;
    return new Promise((resolve) => {
      let head = false;
      let status = 0;
      let config: unknown;
      const chunks: Buffer[] = [];
      const stream = session.request({ ':path': path, ':method': 'GET' });
      stream.setTimeout(DEADLINE_MS, () => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
      });
      stream.on('response', (headers) => {
        head = true;
        status = Number(headers[':status']);
        config = headers[CONFIG_HEADER];
      });
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
      });
      stream.on('error', (error: Error) => {
        resolve({ by: head ? 'upstream' : 'proxy', reason: error.message });
      });
      stream.on('close', () => {
        resolve(this.judge(head, status, stream.rstCode, config, Buffer.concat(chunks).toString(), path));
      });
      stream.end();
    });
  }
}

/** Unary gRPC calls (@grpc/grpc-js, its own retries off: the client sees what the proxy does). */
export class GrpcClient extends LoadClient {
  private client: grpc.Client | null = null;

  private readonly port: number;

  constructor(port: number, concurrency: number, rate: number) {
    super('grpc', concurrency, rate);
    this.port = port;
  }

  open(): Promise<void> {
    const Client = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
    this.client = new Client(`127.0.0.1:${this.port}`, grpc.credentials.createInsecure(), {
      'grpc.enable_retries': 0,
    });
    return Promise.resolve();
  }

  protected shut(): Promise<void> {
    this.client?.close();
    return Promise.resolve();
  }

  protected request(seq: number): Promise<Outcome> {
    const payload = Buffer.from(`grpc ${seq}`);
    const client = this.client as grpc.Client & {
      Echo(
        request: Buffer,
        options: grpc.CallOptions,
        callback: (error: grpc.ServiceError | null, response?: Buffer) => void,
      ): grpc.ClientUnaryCall;
    };
    return new Promise((resolve) => {
      let head = false;
      const call = client.Echo(payload, { deadline: Date.now() + DEADLINE_MS }, (error, response) => {
        if (error) {
          resolve({
            by: head ? 'upstream' : 'proxy',
            reason: `${grpc.status[error.code]}: ${error.details}`,
          });
          return;
        }
        if (!response?.equals(payload)) {
          resolve({ by: 'proxy', reason: `wrong answer ${String(response)}` });
          return;
        }
        resolve(null);
      });
      call.on('metadata', (metadata: grpc.Metadata) => {
        head = true;
        this.sawConfig(metadata.get(CONFIG_HEADER)[0]);
      });
    });
  }
}

const quiet = (): void => undefined;

/** Bolt calls (a sofa-bolt-node RpcClient: one connection, calls multiplexed on it). */
export class BoltLoadClient extends LoadClient {
  private client: BoltClient | null = null;

  private readonly port: number;

  constructor(port: number, concurrency: number, rate: number) {
    super('bolt', concurrency, rate);
    this.port = port;
  }

  async open(): Promise<void> {
    this.client = new bolt.RpcClient({
      address: new URL(`bolt://127.0.0.1:${this.port}`),
      logger: { info: quiet, warn: quiet, error: quiet, debug: quiet },
    });
    await this.client.ready();
  }

  protected async shut(): Promise<void> {
    await this.client?.close();
  }

  protected async request(seq: number): Promise<Outcome> {
    const arg = `bolt ${seq}`;
    try {
      const res = await (this.client as BoltClient).invoke({
        serverSignature: BOLT_SERVICE,
        methodName: 'echo',
        args: [arg],
        timeout: DEADLINE_MS,
      });
      // A Bolt answer is one frame: there is no "after the head" for it.
      if (res.data.error) return { by: 'proxy', reason: `Bolt error: ${res.data.error.message}` };
      if (res.data.appResponse !== arg)
        return { by: 'proxy', reason: `wrong answer ${String(res.data.appResponse)}` };
      return null;
    } catch (error) {
      return { by: 'proxy', reason: (error as Error).message };
    }
  }
}
