/**
 * Schema validation with messages for people: TypeBox reports "Expected union value" or a
 * regular expression; we report what to write instead, with the key path.
 */
import type { TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { describeValue, type KeyPath, type ProblemList } from './problems.js';
import { expectedPhrase, type Filled } from './schema.js';
import { suggest } from './suggest.js';

type SchemaNode = TSchema & {
  type?: string;
  const?: unknown;
  anyOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  pattern?: string;
  minLength?: number;
  minimum?: number;
  maximum?: number;
};

/**
 * Reports into `problems` every way `value` (defaults filled in) breaks `schema`, and returns
 * `value` without the values it rejected, defaults filled in again: every value left has the
 * schema's type. A required key without a default may then be missing, but only where a
 * problem was reported (config/compile.ts skips those places).
 */
export function validate<T extends TSchema>(schema: T, value: unknown, problems: ProblemList): Filled<T> {
  for (const error of Value.Errors(schema, value)) report(error, value, problems);
  const kept = withoutRejected(schema as SchemaNode, value);
  return Value.Default(schema, kept === REJECTED ? {} : kept) as Filled<T>;
}

const REJECTED = Symbol('rejected');

/** Removes what `schema` rejects: a bad key or list goes whole, a bad mapping in a list becomes {}. */
function withoutRejected(schema: SchemaNode, value: unknown): unknown {
  if (Value.Check(schema, value) as boolean) return value;
  const object = schema.type === 'object' ? schema : schema.anyOf?.find((variant) => variant.type === 'object');
  if (object !== undefined && isMapping(value)) {
    for (const key of Object.keys(value)) {
      const child = object.properties?.[key];
      const kept = child === undefined ? REJECTED : withoutRejected(child, value[key]);
      if (kept === REJECTED) delete value[key];
      else value[key] = kept;
    }
    return value;
  }
  const items = schema.type === 'array' ? schema.items : undefined;
  if (items?.type === 'object' && Array.isArray(value)) {
    return value.map((item: unknown) => {
      const kept = withoutRejected(items, item);
      return kept === REJECTED ? {} : kept;
    });
  }
  return REJECTED;
}

const isMapping = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Route options that do nothing on a pass-through route; setting one is a misunderstanding. */
const CACHING_OPTIONS = [
  'ttl',
  'forceTtl',
  'ttlByStatus',
  'clientDirectives',
  'cookies',
  'staleWhileRevalidate',
  'staleIfError',
  'key',
  'tags',
  'unsafeShareSetCookie',
  'earlyRefresh',
  'jitter',
];

/**
 * Needs the input as written (before defaults are filled in): `cache: false` routes that set
 * caching options. An error rather than a warning, because a silently ignored ttl on an
 * auth route reads like caching is on.
 */
export function checkPassThroughRoutes(written: unknown, problems: ProblemList): void {
  const routes = isMapping(written) ? written['routes'] : undefined;
  if (!Array.isArray(routes)) return;
  routes.forEach((route: unknown, i) => {
    if (!isMapping(route) || route['cache'] !== false) return;
    for (const option of CACHING_OPTIONS) {
      if (option in route) {
        problems.add({
          path: ['routes', i, option],
          at: 'key',
          message: `has no effect because the route sets cache: false (always passed through); remove ${option}, or remove cache: false`,
        });
      }
    }
  });
}

function report(error: ValueError, root: unknown, problems: ProblemList): void {
  const path = toKeyPath(error.path, root);
  const schema = error.schema as SchemaNode;
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      const key = String(path[path.length - 1]);
      if (schema.properties === undefined) {
        // A mapping of free keys (such as ttlByStatus): the key itself is what is wrong.
        problems.add({ path, at: 'key', message: `"${key}" is not allowed here; expected ${phrase(schema)}` });
        return;
      }
      const known = Object.keys(schema.properties);
      const guess = suggest(key, known);
      problems.add({
        path,
        at: 'key',
        message: guess
          ? `unknown key "${key}"; did you mean "${guess}"?`
          : `unknown key "${key}"; allowed keys here: ${known.join(', ')}`,
      });
      return;
    }
    case ValueErrorType.ObjectRequiredProperty:
      // config/locate.ts points an absent key at the mapping that should hold it. TypeBox
      // then also reports the absent value; ProblemList drops that second report.
      problems.add({ path, message: `required key is missing; add ${phrase(schema)}` });
      return;
    case ValueErrorType.Union: {
      // Report the errors of the one alternative the value was evidently meant to be.
      const kind = jsonType(error.value);
      const candidates = (schema.anyOf ?? []).flatMap((variant, i) => (accepts(variant, kind) ? [i] : []));
      const only = candidates.length === 1 ? error.errors[candidates[0] as number] : undefined;
      if (only !== undefined) {
        for (const inner of only) report(inner, root, problems);
        return;
      }
      break;
    }
  }
  problems.add({ path, message: `expected ${phrase(schema)}, got ${describeValue(error.value)}${hint(schema, error.value)}` });
}

/** An extra nudge for the mistakes people actually make. */
function hint(schema: SchemaNode, value: unknown): string {
  const wanted = expectedPhrase(schema) ?? '';
  if (wanted.startsWith('a duration') && Number.isSafeInteger(value) && (value as number) >= 0) {
    return ` (a duration needs a unit: write ${value}s or ${value}ms)`;
  }
  return '';
}

/** What a value should look like, in words. */
export function phrase(schema: SchemaNode): string {
  const marked = expectedPhrase(schema);
  if (marked !== undefined) return marked;
  if (schema.anyOf) {
    const parts = schema.anyOf.map(phrase);
    return parts.length > 1 ? `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}` : (parts[0] ?? 'a value');
  }
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  switch (schema.type) {
    case 'object':
      return 'a mapping (key: value)';
    case 'array':
      return 'a list';
    case 'boolean':
      return 'true or false';
    case 'string':
      if (schema.pattern !== undefined) return `a string matching ${schema.pattern}`;
      return schema.minLength ? 'a non-empty string' : 'a string';
    case 'integer':
    case 'number': {
      const noun = schema.type === 'integer' ? 'an integer' : 'a number';
      if (schema.minimum !== undefined && schema.maximum !== undefined) {
        return `${noun} from ${schema.minimum} to ${schema.maximum}`;
      }
      if (schema.minimum !== undefined) return `${noun} of at least ${schema.minimum}`;
      return noun;
    }
    default:
      return 'a value';
  }
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function accepts(variant: SchemaNode, kind: string): boolean {
  const type = variant.const !== undefined ? jsonType(variant.const) : variant.type;
  return type === kind || (type === 'number' && kind === 'integer') || (type === 'integer' && kind === 'number');
}

/** TypeBox's JSON Pointer ("/routes/0/ttl") → ['routes', 0, 'ttl'], using the value to tell indexes from keys. */
function toKeyPath(pointer: string, root: unknown): KeyPath {
  const path: (string | number)[] = [];
  let node = root;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      path.push(Number(segment));
      node = node[Number(segment)];
    } else {
      path.push(segment);
      node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[segment] : undefined;
    }
  }
  return path;
}
