// The Bolt scenario's upstream, a process of its own: a Bolt v1 server answering every request
// with the same SOFARPC response (sofa-bolt-node's bytes) carrying the request's id. What one
// read calls for leaves in one write, as a real server batches. It is cheap on purpose, like the
// HTTP scenarios' nginx: the figures are the proxy's, not Hessian's.
//
//   node bench/src/scenarios/bolt/upstream.ts --port <p>    (0: any; prints {"port":N})
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { BoltFrameReader, RESPONSE, withId } from './wire.ts';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  const reader = new BoltFrameReader((id, isResponse) => {
    if (!isResponse) socket.write(withId(RESPONSE, id));
  });
  socket.on('data', (chunk: Buffer) => {
    socket.cork();
    try {
      reader.push(chunk);
    } catch {
      socket.destroy();
    }
    socket.uncork();
  });
});
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
