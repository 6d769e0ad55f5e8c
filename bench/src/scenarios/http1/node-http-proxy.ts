// node-http-proxy (http-proxy 1.18) in front of the upstream, with a keep-alive agent, as its
// README recommends for throughput. `node node-http-proxy.ts <port> <upstreamPort>`
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';

const port = Number(process.argv[2]);
const upstreamPort = Number(process.argv[3]);

const agent = new Agent({ keepAlive: true, maxSockets: 128 });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${upstreamPort}`, agent });
proxy.on('error', (_error, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502);
  res.end();
});
const server = createServer((req, res) => {
  proxy.web(req, res);
});
server.keepAliveTimeout = 300_000;
server.listen({ port, host: '127.0.0.1', backlog: 4096 });
process.on('SIGTERM', () => process.exit(0));
