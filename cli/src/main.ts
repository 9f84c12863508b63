#!/usr/bin/env node
import { logger, setLogLevel } from '@depthwatch/ops';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { helpText } from './options.ts';

const log = logger('cli');

async function run(config: Config): Promise<void> {
  setLogLevel(config.logLevel);
  switch (config.command) {
    case 'start':
    case 'ingest':
    case 'engine':
    case 'gateway': {
      const { runStages } = await import('./run-stages.ts');
      return runStages(config);
    }
    case 'migrate': {
      const { runMigrate } = await import('./migrate.ts');
      return runMigrate(config);
    }
    case 'tail': {
      const { runTail } = await import('./tail.ts');
      return runTail(config);
    }
    case 'record':
    case 'replay': {
      const { runRecordCommand, runReplayCommand } = await import('./record-replay.ts');
      return config.command === 'record' ? runRecordCommand(config) : runReplayCommand(config);
    }
    default:
      process.stdout.write(helpText());
  }
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`depthwatch: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (config.help || config.command === 'help') {
    process.stdout.write(helpText(config.command === 'help' ? undefined : config.command));
    return;
  }
  try {
    await run(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`depthwatch: ${err.message}\n`);
      process.exit(2);
    }
    log.fatal({ err }, 'depthwatch failed');
    process.stderr.write(`depthwatch: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

void main();
