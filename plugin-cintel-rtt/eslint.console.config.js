/**
 * ESLint for the live console's scripts (cintel_relay/console/static/*.js: plain browser scripts, served as they
 * are). A config of its own because they live outside this folder: `npm run lint` runs it from the repo root.
 * stream.js is built from src/ and linted there.
 */
const js = require('@eslint/js');
const globals = require('globals');

module.exports = [
  { ignores: ['cintel_relay/console/static/stream.js'] },
  {
    files: ['cintel_relay/console/static/*.js'],
    ...js.configs.recommended,
    languageOptions: { sourceType: 'script', ecmaVersion: 2017, globals: globals.browser },
  },
];
