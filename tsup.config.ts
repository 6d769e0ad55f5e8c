import { defineConfig } from 'tsup';

// One build for every package: run from the package folder as
// `tsup --config ../../tsup.config.ts`. ESM only (see docs/architecture.md, "Module format").
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  target: 'node22',
  platform: 'node',
  dts: true,
  sourcemap: true,
  clean: true,
  splitting: false,
  treeshake: true,
  // Errors and warnings still print; the file-by-file progress does not.
  silent: true,
});
