// The L4 ceiling for Node: each accepted connection piped to its own upstream connection, no
// HTTP parsing. `node pipe.ts <port> <upstreamPort>`
import { connect, createServer } from 'node:net';

const port = Number(process.argv[2]);
const upstreamPort = Number(process.argv[3]);

const server = createServer((downstream) => {
  const upstream = connect({ port: upstreamPort, host: '127.0.0.1' });
  downstream.setNoDelay(true);
  upstream.setNoDelay(true);
  downstream.pipe(upstream).pipe(downstream);
  downstream.on('error', () => upstream.destroy());
  upstream.on('error', () => downstream.destroy());
  downstream.on('close', () => upstream.destroy());
  upstream.on('close', () => downstream.destroy());
});
server.maxConnections = 20_000;
server.listen({ port, host: '127.0.0.1', backlog: 4096 });
process.on('SIGTERM', () => process.exit(0));
