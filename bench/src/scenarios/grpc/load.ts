// The gRPC scenario's load generator, a process of its own: `--connections` @grpc/grpc-js
// clients (one HTTP/2 connection each: a local subchannel pool per client), each keeping
// `--in-flight` unary calls outstanding on its connection. After `--warmup` seconds it measures
// for `--seconds`, then prints one JSON line (load/report.ts).
//
//   node bench/src/scenarios/grpc/load.ts --port 9000 --connections 4 --in-flight 16 --seconds 5
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { LoadRecorder, printReport } from '../load/report.ts';
import { ECHO, REQUEST } from './service.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    connections: { type: 'string', default: '4' },
    'in-flight': { type: 'string', default: '16' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
  },
});
if (values.port === undefined) throw new Error('--port is required');
const target = `127.0.0.1:${values.port}`;
const connections = Number(values.connections);
const inFlight = Number(values['in-flight']);

const now = (): number => performance.now();
const start = now() + Number(values.warmup) * 1000;
const recorder = new LoadRecorder(start, start + Number(values.seconds) * 1000);

type Unary = (
  request: Buffer,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: Buffer) => void,
) => grpc.ClientUnaryCall;
const Echo = grpc.makeGenericClientConstructor(ECHO, 'Echo');

/** One client (one connection): `--in-flight` call loops; resolves when all have stopped. */
async function client(): Promise<void> {
  const c = new Echo(target, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  }) as unknown as grpc.Client & { Unary: Unary };
  await new Promise<void>((resolve, reject) => {
    c.waitForReady(Date.now() + 5000, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
  const deadlineMs = recorder.end - now() + 5000;
  const loop = (): Promise<void> =>
    new Promise((resolve) => {
      const call = (): void => {
        const sentAt = now();
        c.Unary(REQUEST, { deadline: Date.now() + deadlineMs }, (error) => {
          const t = now();
          if (error === null) recorder.completed(sentAt, t);
          else recorder.failed();
          if (t < recorder.end) call();
          else resolve();
        });
      };
      call();
    });
  await Promise.all(Array.from({ length: inFlight }, loop));
  c.close();
}

await Promise.all(Array.from({ length: connections }, client));
printReport(recorder.report());
