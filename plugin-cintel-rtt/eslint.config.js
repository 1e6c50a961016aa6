/**
 * ESLint (flat config): the recommended JavaScript and TypeScript rules, and React's hooks rules.
 * Formatting is prettier's job (`npm run format:check`), so no stylistic rules here.
 */
const js = require('@eslint/js');
const globals = require('globals');
const reactHooks = require('eslint-plugin-react-hooks');
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['build/', 'harness/dist/', 'node_modules/', 'public/appConfig.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.{ts,tsx}', 'harness/src/**/*.{ts,tsx}'],
    languageOptions: { globals: globals.browser },
    plugins: { 'react-hooks': reactHooks },
    rules: reactHooks.configs.recommended.rules,
  },
  {
    files: ['*.js', 'harness/*.js', 'console/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' }, // Node's own CommonJS scripts and configs
  },
  {
    files: ['public/*.js'],
    languageOptions: { sourceType: 'script', globals: globals.browser },
    // appConfig.js declares the global `appConfig` that Flex's local runner reads: used, but not here.
    rules: { '@typescript-eslint/no-unused-vars': 'off' },
  },
);
