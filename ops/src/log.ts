import { pino, type Logger } from 'pino';

let root: Logger = pino({
  level: process.env.DEPTHWATCH_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
  base: { app: 'depthwatch' },
  timestamp: pino.stdTimeFunctions.isoTime,
});

/** Structured logs carry a `component` field so ops can filter one stage or venue. */
export function logger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return root.child({ component, ...bindings });
}

export function setLogLevel(level: string): void {
  root.level = level;
}

export type { Logger };
