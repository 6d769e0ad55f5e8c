// `node --import ./from-sources.ts packages/sdk/src/cli/main.ts`: runs the CLI on the sources of
// every package, as vitest does (its alias in vitest.config.ts), in a child process and its
// cluster workers (they inherit the flag): `@meshlet/x` is packages/x/src/index.ts, and the
// sources' `./y.js` imports load `./y.ts` (Node strips the types).
import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packages = fileURLToPath(new URL('../../../', import.meta.url));

registerHooks({
  resolve(specifier, context, nextResolve) {
    const pkg = /^@meshlet\/([a-z0-9-]+)$/.exec(specifier);
    if (pkg !== null) {
      const index = `${packages}${pkg[1]}/src/index.ts`;
      if (existsSync(index)) return { url: pathToFileURL(index).href, shortCircuit: true };
    }
    if (
      specifier.startsWith('.') &&
      specifier.endsWith('.js') &&
      context.parentURL?.startsWith('file:') === true &&
      context.parentURL.endsWith('.ts')
    ) {
      const ts = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
      if (existsSync(ts)) return { url: ts.href, shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
});
