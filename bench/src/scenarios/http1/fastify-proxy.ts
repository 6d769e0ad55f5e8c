// @fastify/http-proxy (fastify 5, undici underneath) in front of the upstream, defaults.
// `node fastify-proxy.ts <port> <upstreamPort>`
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';

const port = Number(process.argv[2]);
const upstreamPort = Number(process.argv[3]);

const app = Fastify({ logger: false, keepAliveTimeout: 300_000 });
await app.register(proxy, { upstream: `http://127.0.0.1:${upstreamPort}` });
await app.listen({ port, host: '127.0.0.1', backlog: 4096 });
process.on('SIGTERM', () => {
  void app.close().finally(() => process.exit(0));
});
