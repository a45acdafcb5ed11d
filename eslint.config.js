// ESLint flat config: typescript-eslint's type-checked recommended rules over the TypeScript sources,
// ESLint's recommended rules over the few plain-JS files (bin/, scripts/, this file), which have no types to check.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // `npm run build`'s output (gitignored).
  globalIgnores(['dist/']),
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // An unused parameter kept for a callback's signature is named _x; `{ [k]: _omitted, ...rest }` omits a key.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // `async` without `await` is how this code meets promise-returning contracts: Fastify hooks and handlers (a
      // non-async hook must call done(), or the request hangs), Kysely's MigrationProvider, liquidjs's FS.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // node:test's describe() and it() return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', name: ['describe', 'it', 'test', 'suite'], package: 'node:test' }] }],
      // Tests read response bodies and CLI output as parsed JSON (json<T = any>() in test/helpers/app.ts, JSON.parse):
      // the assertions are their type check, so using those values is not flagged (the `any`s themselves still are).
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly' } },
  },
  {
    // The dashboard's one browser script (progressive enhancement; the pages work without it).
    files: ['src/features/dashboard/public/*.js'],
    languageOptions: { globals: { document: 'readonly', window: 'readonly', navigator: 'readonly', Element: 'readonly', HTMLFormElement: 'readonly', HTMLInputElement: 'readonly' } },
  },
);
