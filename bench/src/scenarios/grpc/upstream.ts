// The gRPC scenario's upstream, a process of its own: a @grpc/grpc-js server answering every
// `Unary` call with the same 100-byte message.
//
//   node bench/src/scenarios/grpc/upstream.ts --port <p>    (0: any; prints {"port":N})
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { ECHO, RESPONSE } from './service.ts';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });

const server = new grpc.Server();
server.addService(ECHO, {
  Unary(_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
    callback(null, RESPONSE);
  },
});
server.bindAsync(`127.0.0.1:${values.port}`, grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.on('SIGTERM', () => {
  server.forceShutdown();
  process.exit(0);
});
