export * from './venues.ts';
export * from './events.ts';
export * from './topics.ts';
export * from './bus.ts';
export * from './json-schemas.ts';
export * from './serialize.ts';
export * from './validate.ts';
export * from './stage.ts';
