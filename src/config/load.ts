/**
 * rules.yaml → Config. Every entry point runs the same pipeline, and every problem found
 * on the way is reported together in one LarderError(CONFIG_INVALID), each with its file,
 * line, column and key path.
 *
 *   YAML parse → ${VAR} interpolation → env overrides → defaults → schema → compile → freeze
 *
 * The defaults are the schema's (config/schema.ts), filled in here, once, before validation.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { ErrorCodes, LarderError } from '../errors.js';
import { compile } from './compile.js';
import { deepFreeze } from './freeze.js';
import { interpolate, type Env } from './interpolate.js';
import { locate } from './locate.js';
import { formatKeyPath, ProblemList, type Problem } from './problems.js';
import { expectedPhrase, RulesSchema } from './schema.js';
import type { Config } from './types.js';
import { DURATION_EXPECTED } from './units.js';
import { checkPassThroughRoutes, validate } from './validate.js';

export type { Env } from './interpolate.js';

export interface ParseOptions {
  /** Path shown in messages and resolved into Config.file. Default: messages say "<config>". */
  file?: string;
  /** Variables for ${VAR} and the LARDER_* overrides. Default process.env. */
  env?: Env;
}

/** Environment variables that replace a top-level key. An empty value counts as unset. */
const OVERRIDES = { listen: 'LARDER_LISTEN', origin: 'LARDER_ORIGIN' } as const;

/** Where messages point: a YAML document with line numbers, or nothing (buildConfig). */
interface Source {
  label?: string;
  doc?: Document;
  lines?: LineCounter;
}

/**
 * Parses and validates rules.yaml text.
 * @throws LarderError CONFIG_INVALID whose `details` list every problem.
 */
export function parseConfig(text: string, opts: ParseOptions = {}): Config {
  const env = opts.env ?? process.env;
  const lines = new LineCounter();
  const source: Source = { label: opts.file ?? '<config>', lines };
  const problems = new ProblemList();

  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true, uniqueKeys: true });
  source.doc = doc;
  for (const error of [...doc.errors, ...doc.warnings]) {
    problems.add({ path: null, offset: error.pos[0], message: `YAML syntax error: ${error.message}` });
  }
  if (problems.length === 0 && doc.contents === null) {
    // Not "all defaults": a truncated file during a deploy or hot reload must not silently
    // drop every route (and with them the cache: false on private paths).
    problems.add({
      path: null,
      offset: 0,
      message: 'the file is empty; write {} to run with every default, or see docs/configuration.md',
    });
  }
  if (problems.length > 0) throw invalid(problems, source, {});

  interpolate(doc, env, problems);
  let written: unknown;
  try {
    written = doc.toJS();
  } catch (error) {
    problems.add({ path: null, offset: 0, message: `YAML error: ${(error as Error).message}` });
    throw invalid(problems, source, {});
  }
  return finish(written, env, problems, source, opts.file === undefined ? undefined : resolve(opts.file));
}

/**
 * Reads and validates a rules.yaml file; Config.file is its absolute path.
 * @throws LarderError CONFIG_UNREADABLE when the file cannot be read, CONFIG_INVALID when it is wrong.
 */
export function loadConfig(path: string, env: Env = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new LarderError(
      ErrorCodes.CONFIG_UNREADABLE,
      `cannot read the configuration file ${resolve(path)} (${reason}); check the path given with --config`,
      { cause: error },
    );
  }
  return parseConfig(text, { file: path, env });
}

/**
 * Builds a Config from a plain object shaped like rules.yaml, with the same validation.
 * Durations may be strings ("30s") or integers in milliseconds; sizes strings ("8mb") or
 * integers in bytes. No ${VAR} interpolation (write template literals); the LARDER_*
 * overrides apply only from the `env` given, which defaults to none.
 * @throws LarderError CONFIG_INVALID whose `details` list every problem.
 */
export function buildConfig(partial: object, env: Env = {}): Config {
  const written = millisecondsToDurations(RulesSchema, structuredClone(partial));
  return finish(written, env, new ProblemList(), {}, undefined);
}

function finish(written: unknown, env: Env, problems: ProblemList, source: Source, file: string | undefined): Config {
  dropExtensionKeys(written);
  const overridden = applyOverrides(written, env);
  checkPassThroughRoutes(written, problems);
  const rules = validate(RulesSchema, Value.Default(RulesSchema, structuredClone(written)), problems);
  // Certificate and TLS files (listeners, upstreams) are relative to the rules file.
  const config = compile(rules, problems, file === undefined ? process.cwd() : dirname(file));
  if (problems.length > 0) throw invalid(problems, source, overridden);
  if (file !== undefined) config.file = file;
  return deepFreeze(config);
}

/** Top-level x-* keys only carry YAML anchors for reuse; they are not settings. */
function dropExtensionKeys(written: unknown): void {
  if (written === null || typeof written !== 'object' || Array.isArray(written)) return;
  for (const key of Object.keys(written)) {
    if (key.startsWith('x-')) delete (written as Record<string, unknown>)[key];
  }
}

/** Applies LARDER_LISTEN / LARDER_ORIGIN; returns which keys now come from which variable. */
function applyOverrides(written: unknown, env: Env): Record<string, string> {
  const overridden: Record<string, string> = {};
  if (written === null || typeof written !== 'object' || Array.isArray(written)) return overridden;
  for (const [key, variable] of Object.entries(OVERRIDES)) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    (written as Record<string, unknown>)[key] = value;
    overridden[key] = variable;
  }
  return overridden;
}

function invalid(problems: ProblemList, source: Source, overridden: Record<string, string>): LarderError {
  const located = problems.items.map((problem) => format(problem, source, overridden));
  // Environment problems (line 0) first, by variable; then the file, top to bottom.
  located.sort((a, b) => a.line - b.line || a.col - b.col || (a.line === 0 ? a.text.localeCompare(b.text) : 0));
  const details = located.map((entry) => entry.text);
  const count = details.length === 1 ? '1 problem' : `${details.length} problems`;
  return new LarderError(
    ErrorCodes.CONFIG_INVALID,
    `${source.label ?? 'the configuration'} is invalid (${count}):\n${details.map((d) => `  ${d}`).join('\n')}`,
    { details },
  );
}

/** "rules.yaml:12:7 routes[0].ttl: expected ..."; env problems name the variable instead. */
function format(problem: Problem, source: Source, overridden: Record<string, string>) {
  const { path } = problem;
  const variable = path?.length === 1 ? overridden[String(path[0])] : undefined;
  if (variable !== undefined) {
    return { line: 0, col: 0, text: `${variable} (replaces ${String(path?.[0])}): ${problem.message}` };
  }
  const offset =
    problem.offset ?? (source.doc && path !== null ? locate(source.doc, path, problem.at) : undefined);
  const pos = offset !== undefined && source.lines ? source.lines.linePos(offset) : undefined;
  const where = source.label === undefined ? '' : pos ? `${source.label}:${pos.line}:${pos.col} ` : `${source.label} `;
  const key = path === null ? '' : `${formatKeyPath(path)}: `;
  return { line: pos?.line ?? 0, col: pos?.col ?? 0, text: `${where}${key}${problem.message}` };
}

/** buildConfig's integer durations (ms) → "<n>ms", found by walking the schema alongside the value. */
function millisecondsToDurations(schema: TSchema, value: unknown): unknown {
  const node = schema as TSchema & { type?: string; properties?: Record<string, TSchema>; items?: TSchema };
  if (expectedPhrase(node) === DURATION_EXPECTED && Number.isSafeInteger(value) && (value as number) >= 0) {
    return `${value as number}ms`;
  }
  if (node.type === 'object' && node.properties && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    for (const [key, child] of Object.entries(node.properties)) {
      if (key in record) record[key] = millisecondsToDurations(child, record[key]);
    }
  } else if (node.type === 'array' && node.items && Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = millisecondsToDurations(node.items, value[i]);
  }
  return value;
}
