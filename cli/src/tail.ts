import { tail } from '@depthwatch/gateway/tail';
import { ConfigError, type Config } from './config.ts';

const CHANNELS = ['depth', 'book', 'trades', 'liquidations', 'tickers', 'alerts', 'status'];

export async function runTail(config: Config): Promise<void> {
  const [channel, symbol] = config.positionals;
  if (!channel || !CHANNELS.includes(channel)) {
    throw new ConfigError(`tail needs a channel: depthwatch tail <${CHANNELS.join('|')}> [SYMBOL]`);
  }
  const controller = new AbortController();
  process.on('SIGINT', () => controller.abort());
  await tail({ url: config.url, channel, symbol, venue: config.venue ?? undefined, out: process.stdout, signal: controller.signal });
}
