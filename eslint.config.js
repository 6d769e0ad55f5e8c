// @ts-check
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['**/dist/**', '**/node_modules/**', '.tools/**', 'coverage/**'] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['*.js', '*.cjs', 'scripts/*.cjs', 'packages/sdk/bin/*.js'],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Numbers in template strings are the norm in error messages and reports.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // House style (STYLE.md): named exports, `export type`, no enums or namespaces.
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/consistent-type-exports': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'TSEnumDeclaration', message: 'Use an `as const` object instead of an enum.' },
        { selector: 'TSModuleDeclaration[kind="namespace"]', message: 'No namespaces.' },
        { selector: 'ExportDefaultDeclaration', message: 'Named exports only.' },
      ],
      // With noUncheckedIndexedAccess every checked array read needs an assertion; `as T` says
      // what it asserts, `x!` hides it. The two presets disagree here; we keep `as T`.
      '@typescript-eslint/non-nullable-type-assertion-style': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Config files are loaded by their tools, which want a default export; so are the peer
    // benchmark suite's scenarios, by its runner (bench/src/types.ts).
    files: ['*.config.ts', '*.config.js', '**/vitest.config.ts', 'bench/src/scenarios/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    // The bootstrap runs on any Node that npm runs on: plain CommonJS, no type information.
    files: ['**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', process: 'readonly', __dirname: 'readonly', module: 'writable' },
    },
    rules: {
      ...tseslint.configs.disableTypeChecked.rules,
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  prettier,
);
