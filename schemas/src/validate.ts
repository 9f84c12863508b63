import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { AnyEvent } from './events.ts';
import { EVENT_SCHEMAS, type EventType } from './json-schemas.ts';

// Ajv's `number` type already rejects NaN and Infinity, which in-process publishers could produce.
const ajv = new Ajv({ allErrors: false, strictTuples: false });

const VALIDATORS = Object.fromEntries(
  Object.entries(EVENT_SCHEMAS).map(([type, schema]) => [type, ajv.compile(schema)]),
) as Record<EventType, ValidateFunction>;

export class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

export function describeErrors(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'invalid';
  return errors
    .slice(0, 3)
    .map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'invalid'}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`)
    .join('; ');
}

/** Validates an untrusted value as one of our events; throws ValidationError naming the first problems. */
export function validateEvent(value: unknown, expected?: readonly EventType[]): AnyEvent {
  if (typeof value !== 'object' || value === null) throw new ValidationError('event must be a JSON object');
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !(type in VALIDATORS)) {
    throw new ValidationError(`unknown event type ${JSON.stringify(type)}`);
  }
  if (expected && !expected.includes(type as EventType)) {
    throw new ValidationError(`event type ${type} not allowed here (expected ${expected.join(', ')})`);
  }
  const validator = VALIDATORS[type as EventType];
  if (!validator(value)) throw new ValidationError(`${type}: ${describeErrors(validator.errors)}`);
  return value as AnyEvent;
}

export function parseEvent(text: string, expected?: readonly EventType[]): AnyEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`malformed JSON: ${(err as Error).message}`);
  }
  return validateEvent(parsed, expected);
}

export { ajv as sharedAjv };
