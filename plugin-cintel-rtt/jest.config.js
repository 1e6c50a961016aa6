/** Unit and component tests: ts-jest on jsdom (`flex-plugin test` does not run here). */
module.exports = {
  testEnvironment: 'jsdom',
  roots: ['<rootDir>/src'],
  preset: 'ts-jest',
  globals: { 'ts-jest': { isolatedModules: true } },
  setupFilesAfterEnv: ['<rootDir>/src/setupTests.ts'],
  clearMocks: true,
};
