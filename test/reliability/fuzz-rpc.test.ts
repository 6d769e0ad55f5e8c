// Fuzzing the RPC listeners (Bolt and Dubbo rpc_proxy) over real loopback sockets: valid request
// streams mutated as bytes (edge values over length fields, splices, truncations), written in
// random pieces, each on its own connection. Whatever comes back must decode as frames of the
// protocol; a witness connection keeps getting answers; the proxy reports no internal error; no
// connection is left behind.
// Long run: MESHLET_FUZZ_RUNS=5000 pnpm exec vitest run test/reliability/fuzz-rpc.test.ts
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteQueue } from '@meshlet/buffer';
import { isMeshletError } from '@meshlet/errors';
import { bolt, BoltFrame, dubbo, DubboFrame, type Protocol, type RpcFrame } from '@meshlet/codec';
import { createProxy, snapshotOfBootstrap, type HttpProxy } from '@meshlet/proxy';
import { parseBootstrap } from '@meshlet/xds';
import { FUZZ_SEED, chunk, cuts, fuzzTimeout, mutate, mutation, runs } from '../support/fuzz.ts';

/** How long a fuzzed connection may stay open after the client finished writing. */
const CLOSE_DEADLINE_MS = 5000;

/** An upstream speaking `protocol`: answers every request with a response of the same id. */
async function rpcUpstream(protocol: Protocol): Promise<net.Server> {
  const server = net.createServer((socket) => {
    const codec = protocol.createCodec();
    const queue = new ByteQueue();
    socket.on('error', () => undefined);
    socket.on('data', (data: Buffer) => {
      queue.push(data);
      try {
        for (let f = codec.decode(queue); f; f = codec.decode(queue)) {
          if (f.kind !== 'request') continue;
          const reply = protocol.errorReply(f, 'not-found', 'fuzz upstream');
          reply.status = 0;
          for (const b of codec.encode(reply)) socket.write(b);
        }
      } catch {
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const servers: net.Server[] = [];
let proxy: HttpProxy;
const internalErrors: string[] = [];

beforeAll(async () => {
  const boltUp = await rpcUpstream(bolt);
  const dubboUp = await rpcUpstream(dubbo);
  servers.push(boltUp, dubboUp);
  const listener = (name: string, protocol: string): string => `
    - name: ${name}
      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains:
        - filters:
            - name: meshlet.rpc_proxy
              typed_config:
                '@type': type.googleapis.com/xds.type.v3.TypedStruct
                type_url: type.googleapis.com/meshlet.rpc.v1.RpcProxy
                value:
                  protocol: ${protocol}
                  stat_prefix: ${name}
                  request_timeout_ms: 2000
                  routes: [{ match: { service: { safe_regex: { regex: '.*' } } }, cluster: ${name}_up }]`;
  const cluster = (name: string, port: number): string => `
    - name: ${name}
      connect_timeout: 1s
      load_assignment:
        cluster_name: ${name}
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } } }] }]`;
  const { bootstrap } = parseBootstrap(`
static_resources:
  listeners:${listener('bolt', 'bolt')}${listener('dubbo', 'dubbo')}
  clusters:${cluster('bolt_up', (boltUp.address() as AddressInfo).port)}${cluster('dubbo_up', (dubboUp.address() as AddressInfo).port)}
`);
  proxy = createProxy({ config: snapshotOfBootstrap(bootstrap) });
  proxy.on('error', (error, where) => {
    // A peer's malformed frame is reported here with its typed codec error (and the connection
    // closed): expected. Anything else is a failure of the proxy itself.
    if (isMeshletError(error) && error.code.startsWith('MESHLET_ERR_CODEC_')) return;
    internalErrors.push(
      `${where}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  });
  await proxy.start();
});

afterAll(async () => {
  await proxy.close();
  for (const s of servers)
    await new Promise<void>((resolve) =>
      s.close(() => {
        resolve();
      }),
    );
});

const ascii = fc.string({ unit: fc.constantFrom(...'abcdefghij.:'.split('')), maxLength: 16 });
const payload = fc.uint8Array({ maxLength: 128 }).map((b) => Buffer.from(b));

const boltRequest = fc
  .record({
    id: fc.nat({ max: 0xffffffff }),
    service: ascii,
    version: fc.constantFrom(1 as const, 2 as const),
    body: payload,
    heartbeat: fc.boolean(),
  })
  .map((r) =>
    Buffer.concat(
      bolt.createCodec().encode(
        new BoltFrame({
          kind: r.heartbeat ? 'heartbeat' : 'request',
          requestId: r.id,
          version: r.version,
          className: r.heartbeat ? '' : 'com.alipay.sofa.rpc.core.request.SofaRequest',
          headers: r.heartbeat
            ? new Map<string, string>()
            : new Map([
                ['service', r.service],
                ['sofa_head_method_name', 'm'],
              ]),
          body: r.heartbeat ? Buffer.alloc(0) : r.body,
        }),
      ),
    ),
  );

// A Dubbo request body: the Hessian 2 invocation strings (compact strings, < 32 bytes), no arguments.
const hessianString = (s: string): Buffer =>
  Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
const dubboRequest = fc.record({ id: fc.maxSafeNat(), service: ascii, heartbeat: fc.boolean() }).map((r) =>
  Buffer.concat(
    dubbo.createCodec().encode(
      new DubboFrame({
        kind: r.heartbeat ? 'heartbeat' : 'request',
        requestId: r.id,
        body: r.heartbeat
          ? Buffer.from('N')
          : Buffer.concat([
              hessianString('2.0.2'),
              hessianString(r.service),
              hessianString('1.0'),
              hessianString('m'),
              hessianString(''),
              Buffer.from('H'),
              Buffer.from('Z'),
            ]),
        service: r.heartbeat ? '' : r.service,
        method: r.heartbeat ? '' : 'm',
      }),
    ),
  ),
);

/** Decodes what the proxy sent back; only whole, valid frames may arrive (or nothing). */
function decodeAll(protocol: Protocol, bytes: Buffer): RpcFrame[] {
  const codec = protocol.createCodec();
  const queue = new ByteQueue();
  queue.push(bytes);
  const frames: RpcFrame[] = [];
  for (let f = codec.decode(queue); f; f = codec.decode(queue)) frames.push(f);
  expect(queue.length).toBe(0);
  return frames;
}

async function sendCase(
  portOf: number,
  bytes: Buffer,
  points: number[],
  ending: string,
): Promise<{ received: Buffer; closed: boolean }> {
  const socket = net.connect(portOf, '127.0.0.1');
  socket.on('error', () => undefined);
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  const closed = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      resolve(false);
    }, CLOSE_DEADLINE_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve).once('close', resolve));
  for (const piece of chunk(bytes, points)) {
    if (socket.destroyed) break;
    socket.write(piece);
    await tick();
  }
  if (ending === 'reset') socket.resetAndDestroy();
  else socket.end();
  const didClose = await closed;
  socket.destroy();
  return { received: Buffer.concat(received), closed: didClose || ending === 'reset' };
}

/** One valid request on a fresh connection: the listener still serves well-behaved clients. */
async function witness(protocol: Protocol, port: number, seed: Buffer): Promise<number> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const codec = protocol.createCodec();
  const queue = new ByteQueue();
  socket.write(seed);
  for await (const data of socket) {
    queue.push(data as Buffer);
    const f = codec.decode(queue);
    if (f) {
      socket.destroy();
      return f.requestId;
    }
  }
  return -1;
}

/** Connections the proxy holds open on a listener (Envoy's `listener.<address>.downstream_cx_active`). */
function activeConnections(port: number): number {
  for (const g of proxy.stats?.gauges() ?? [])
    if (g.name.startsWith('listener.') && g.name.endsWith(`_${port}.downstream_cx_active`)) return g.value;
  throw new Error(`no downstream_cx_active gauge for the listener on port ${port}`);
}

describe('fuzz: RPC listeners over real sockets', () => {
  for (const [protocol, request] of [
    [bolt, boltRequest],
    [dubbo, dubboRequest],
  ] as const) {
    it(
      `${protocol.name}: mutated request streams get valid frames back or a close; others are served`,
      async () => {
        const port = proxy.address(protocol.name)?.port ?? 0;
        const valid = fc.sample(request, { numRuns: 1, seed: 1 })[0] as Buffer;
        const caseArb = fc.record({
          frames: fc.array(request, { minLength: 1, maxLength: 3 }),
          edits: fc.oneof(fc.constant([]), fc.array(mutation, { maxLength: 3 })),
          cuts,
          ending: fc.constantFrom('half-close', 'reset'),
        });
        const rounds = runs(120);
        const cases = fc.sample(
          caseArb,
          FUZZ_SEED === undefined ? rounds : { numRuns: rounds, seed: FUZZ_SEED },
        );
        const failures: string[] = [];
        let answered = 0;
        const batch = 12;
        for (let i = 0; i < cases.length; i += batch) {
          const slice = cases.slice(i, i + batch);
          const outcomes = await Promise.all(
            slice.map((c) => sendCase(port, mutate(Buffer.concat(c.frames), c.edits), c.cuts, c.ending)),
          );
          outcomes.forEach((o, j) => {
            const c = slice[j];
            const shown = (): string =>
              c ? mutate(Buffer.concat(c.frames), c.edits).toString('hex').slice(0, 200) : '';
            if (!o.closed) failures.push(`left open: ${shown()}`);
            try {
              if (decodeAll(protocol, o.received).length > 0) answered++;
            } catch (err) {
              failures.push(`undecodable answer (${String(err)}): ${shown()}`);
            }
          });
          expect(await witness(protocol, port, valid)).toBeGreaterThanOrEqual(0);
        }
        expect(failures).toEqual([]);
        expect(internalErrors).toEqual([]);
        expect(answered).toBeGreaterThan(0);
        // Polls the proxy's own gauge; the bound only turns a leak into a failure instead of a hang.
        for (let i = 0; i < 500 && activeConnections(port) > 0; i++) await sleep(10);
        expect(activeConnections(port)).toBe(0);
      },
      fuzzTimeout(30_000),
    );
  }
});
