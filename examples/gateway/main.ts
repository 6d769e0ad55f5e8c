// meshlet's demo gateway, in-process: the same as `meshlet demo --workers 1`, started from a
// program. The demo itself (three loopback "catalog" services, the embedded Envoy bootstrap, the
// API-key filter plugin) lives in @meshlet/sdk's CLI: packages/sdk/src/cli/demo/.
//
// `node examples/gateway/main.ts` serves until Ctrl-C; `--smoke` sends a few requests, prints
// what came back and exits (npm test runs the same through test/examples-gateway.test.ts).
import { fileURLToPath } from 'node:url';
import { startDemo, tour } from '@meshlet/sdk';

export { startDemo, tour, type Demo } from '@meshlet/sdk';

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const smoke = process.argv.includes('--smoke');
  const port = smoke ? 0 : Number(process.env.PORT ?? 8080);
  const adminPort = smoke ? 0 : Number(process.env.ADMIN_PORT ?? 9901);
  const demo = await startDemo(port, adminPort);
  console.log(`meshlet demo gateway on ${demo.url}, admin on ${demo.adminUrl}\n`);
  for (const line of await tour(demo.url, demo.adminUrl)) console.log('  ' + line);
  if (smoke) {
    await demo.close();
  } else {
    console.log('\nServing until Ctrl-C.');
    const stop = async (): Promise<void> => {
      await demo.proxy.drain(5000);
      await demo.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
  }
}
