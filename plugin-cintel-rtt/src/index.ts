import * as FlexPlugin from '@twilio/flex-plugin';

import CintelRttPlugin from './CintelRttPlugin';

FlexPlugin.loadPlugin(CintelRttPlugin);
