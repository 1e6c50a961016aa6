// Local `twilio flex:plugins:start` only: copy to appConfig.js (ignored by git).
// Deployed plugins are configured by Flex itself, not by this file.
var appConfig = {
  pluginService: {
    enabled: true,
    url: '/plugins',
  },
  logLevel: 'info',
};
