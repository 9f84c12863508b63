import { counter } from '@depthwatch/ops';

/** ccxt fallback metrics beyond the shared ingest ones (sync/metrics.ts), which it also feeds. */
export const ccxtMetrics = {
  errors: counter<'venue' | 'error'>({
    name: 'depthwatch_ingest_ccxt_errors_total',
    help: 'Errors raised by ccxt in the fallback collector, by ccxt error class (NetworkError, InvalidNonce, BadSymbol, ...)',
    labelNames: ['venue', 'error'],
  }),
};
