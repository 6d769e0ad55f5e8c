// A worker process of `meshlet run` / `meshlet demo`: checks its config, runs the gateway and
// drains when the primary says so. Everything heavy (@meshlet/proxy, @meshlet/xds) is loaded here,
// never in the primary.
import { ConfigError } from '@meshlet/proxy';
import { DEMO_FILTERS, demoBootstrap } from './demo/demo.js';
import { startGateway, type Gateway, type GatewayOptions } from './gateway.js';
import { log, messageOf } from './log.js';
import {
  WORKER_ENV,
  reportFailed,
  reportInvalid,
  reportReady,
  type DrainOrder,
  type WorkerSpec,
} from './supervisor.js';
import { checkFile } from './validate.js';

/** The gateway's options for a spec, or the errors of its config file. */
function optionsOf(
  spec: WorkerSpec,
): { options: GatewayOptions; warnings: readonly string[] } | readonly string[] {
  if (spec.kind === 'demo')
    return {
      options: {
        bootstrap: demoBootstrap(spec.services, spec.port, spec.adminPort),
        filters: DEMO_FILTERS,
        logLevel: 'warning',
      },
      warnings: [],
    };
  const { loaded, errors, warnings } = checkFile(spec.config);
  if (loaded === undefined || errors.length > 0) return errors;
  return { options: { bootstrap: loaded }, warnings };
}

/** A worker process: runs the gateway of its spec until the primary tells it to drain. */
export async function runWorker(): Promise<void> {
  // The primary decides when workers stop; a Ctrl-C in a terminal reaches the whole group.
  const ignore = (): void => undefined;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, ignore);
  const spec = JSON.parse(process.env[WORKER_ENV] ?? '{}') as WorkerSpec;
  let gateway: Gateway;
  let warnings: readonly string[];
  try {
    const checked = optionsOf(spec);
    if (!('options' in checked)) {
      await reportInvalid(checked);
      process.exit(1);
    }
    warnings = checked.warnings;
    gateway = await startGateway(checked.options);
  } catch (error) {
    // A config the proxy cannot compile (a filter's config, a route table) is the file's error.
    if (error instanceof ConfigError) {
      await reportInvalid([messageOf(error)]);
      process.exit(1);
    }
    log(`could not start: ${messageOf(error)}`);
    await reportFailed(error);
    process.exit(1);
  }
  let draining = false;
  const drain = (ms: number): void => {
    if (draining) return;
    draining = true;
    void gateway.close(ms).finally(() => process.exit(0));
  };
  // IPC messages are whatever the other side sent: checked, not trusted.
  process.on('message', (message: Partial<DrainOrder> | null) => {
    if (message?.type === 'drain' && typeof message.ms === 'number') drain(message.ms);
  });
  // The primary is gone: nobody will hand this worker connections any more.
  process.on('disconnect', () => {
    drain(0);
  });
  const listeners: Record<string, string> = {};
  for (const name of gateway.proxy.addresses.keys()) listeners[name] = gateway.url(name);
  reportReady({ listeners, admin: gateway.adminUrl, warnings });
}
