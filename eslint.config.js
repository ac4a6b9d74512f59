// ESLint flat config: typescript-eslint's recommended rules over the library, tests, benchmarks
// and scripts. Generated output and dependencies are not linted.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'prebuilds/', 'node_modules/', 'native/fuzz/build/', 'bench/.cache/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_name` marks a parameter a signature requires but the body does not use.
      // A getter in an object literal reaches the object that built it through a named alias.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['server', 'host'] }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // The dashboard page's script runs in the browser.
    files: ['dashboard/**/*.js'],
    languageOptions: { globals: { ...globals.browser }, sourceType: 'script' },
  },
  {
    // Assertions over parsed JSON read fields of any shape.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
