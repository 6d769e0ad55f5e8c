#!/usr/bin/env node
// The `meshlet` executable: the primary runs a command (cli.ts), a worker its gateway
// (worker.ts). Each loads only its own modules, so the primary stays small.
import cluster from 'node:cluster';

if (cluster.isWorker) {
  const { runWorker } = await import('./worker.js');
  await runWorker();
} else {
  const { main } = await import('./cli.js');
  await main(process.argv.slice(2));
}
