export * from './log.ts';
export * from './metrics.ts';
export * from './ops-server.ts';
