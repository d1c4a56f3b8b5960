import type { EggAppConfig, EggAppInfo, PowerPartial } from 'egg';
import { LocationContent, PollContent } from '../app/im/types';

export default (appInfo: EggAppInfo) => {
  const config: PowerPartial<EggAppConfig> = {};
  // Sign cookies of the host app's own pages; set EGG_KEYS in production.
  config.keys = process.env.EGG_KEYS || `${appInfo.name}_local_development_key`;
  config.cluster = { listen: { port: Number(process.env.PORT) || 7001 } };
  // `npm run dev` restarts the app (and so rebuilds the web page) when the page's sources change too.
  config.development = { watchDirs: [ 'web', 'lib' ] };

  // Custom message types by config: validated with class-validator, stored and delivered as sent.
  config.im = {
    messageTypes: {
      location: { schema: LocationContent, description: 'a point on the map' },
      poll: { schema: PollContent, description: 'a question with 2 to 10 options' },
    },
  } as any;
  return config;
};
