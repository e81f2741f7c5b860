/** The config module's public surface. */
export { buildConfig, loadConfig, parseConfig, type Env, type ParseOptions } from './load.js';
export { matchRoute } from './routes.js';
export { parseDuration, parseSize } from './units.js';
export { rulesJsonSchema, renderRulesJsonSchema } from './json-schema.js';
export type { RulesInput, RouteInput } from './schema.js';
export type * from './types.js';
