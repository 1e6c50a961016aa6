import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('reads REACT_APP_BACKEND_URL and drops a trailing slash', () => {
    expect(loadConfig({ env: { REACT_APP_BACKEND_URL: ' https://relay.example.com/ ' } })).toEqual({
      backendUrl: 'https://relay.example.com',
    });
  });

  it('prefers the Flex UI attribute, which changes without a rebuild', () => {
    const config = loadConfig({
      env: { REACT_APP_BACKEND_URL: 'https://build-time.example.com' },
      uiAttributes: { cintel_rtt: { backend_url: 'https://runtime.example.com' } },
    });
    expect(config.backendUrl).toBe('https://runtime.example.com');
  });

  it('names the variable and the fix when nothing is set', () => {
    expect(() => loadConfig({ env: {}, uiAttributes: { other: true } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { REACT_APP_BACKEND_URL: '  ' } })).toThrow(
      /REACT_APP_BACKEND_URL in plugin-cintel-rtt\/\.env.*cintel_rtt\.backend_url/,
    );
  });

  it('rejects a URL that is not absolute http(s)', () => {
    expect(() => loadConfig({ env: { REACT_APP_BACKEND_URL: 'relay.example.com' } })).toThrow(
      /REACT_APP_BACKEND_URL must be an absolute http\(s\) URL/,
    );
  });
});
