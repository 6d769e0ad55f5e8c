// Run as a child process by grpc-js-xds.test.ts: gRPC's own xDS client (@grpc/grpc-js-xds)
// registers the xds: scheme globally, so it lives in a process of its own. It reads its bootstrap
// from GRPC_XDS_BOOTSTRAP_CONFIG, calls `xds:///<target>` once and prints the reply.
import * as grpc from '@grpc/grpc-js';
import { register } from '@grpc/grpc-js-xds';

register();
const target = process.argv[2] ?? 'shop';
const client = new grpc.Client(`xds:///${target}`, grpc.credentials.createInsecure());
const identity = (b: Buffer): Buffer => b;
const deadline = new Date(Date.now() + 15_000);
client.makeUnaryRequest(
  '/meshlet.test.Echo/Echo',
  identity,
  identity,
  Buffer.from('ping'),
  { deadline },
  (err, reply) => {
    if (err) {
      process.stderr.write(`call failed: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`reply: ${reply?.toString() ?? ''}\n`);
    client.close();
    process.exit(0);
  },
);
