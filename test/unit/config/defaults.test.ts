/**
 * The schema's `default` is the only place a default is written. These tests hold the three
 * places that repeat it for people (docs/configuration.md, the comments and values of
 * rules.yaml) and the compiled Config to it, option by option.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMap, isPair, isScalar, parseDocument, type Node, type Pair } from 'yaml';
import { parseListen, parseOrigin } from '../../../src/config/addresses.js';
import { buildConfig } from '../../../src/config/load.js';
import { DEFAULT_STRIP_RESPONSE_HEADERS, expectedPhrase, RulesSchema } from '../../../src/config/schema.js';
import type { Config, Route } from '../../../src/config/types.js';
import { DURATION_EXPECTED, parseDuration, parseSize, SIZE_EXPECTED } from '../../../src/config/units.js';

const repo = resolve(import.meta.dirname, '../../..');

interface Option {
  /** 'cache.heuristic.fraction'; a route option is 'routes[].ttl'. */
  path: string;
  default: unknown;
  /** The schema's description, which editors show on hover. */
  description: string;
  kind: 'duration' | 'size' | 'other';
}

type SchemaNode = Record<string, unknown> & {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
};

/** Every option whose schema carries a default, except mappings (their default is {}). */
function defaultedOptions(node: SchemaNode = RulesSchema as unknown as SchemaNode, path = ''): Option[] {
  const found: Option[] = [];
  const object = node.type === 'object' ? node : node.anyOf?.find((variant) => variant.type === 'object');
  if (node.default !== undefined && node.type !== 'object') {
    const phrase = expectedPhrase(node);
    found.push({ path, default: node.default, description: String(node['description'] ?? ''), kind: phrase === DURATION_EXPECTED ? 'duration' : phrase === SIZE_EXPECTED ? 'size' : 'other' });
  }
  for (const [key, child] of Object.entries(object?.properties ?? {})) {
    const at = path === '' ? key : `${path}.${key}`;
    found.push(...defaultedOptions(child, at));
    if (child.type === 'array' && child.items?.type === 'object') found.push(...defaultedOptions(child.items, `${at}[]`));
  }
  return found;
}

const OPTIONS = defaultedOptions();

/** How a default is written for people: `[a, b]`, `10s`, `true`. */
const render = (value: unknown): string => (Array.isArray(value) ? `[${value.join(', ')}]` : String(value));

/** "... Default 10s." → ['10s']; "Default: ..." and "Default upstream: ..." are prose, not values. */
const saidDefaults = (text: string): string[] =>
  [...text.matchAll(/Default (\[[^\]]*\]|"[^"]*"|[^\s["]\S*?)\.(?:\s|$)/g)].map((m) => (m[1] as string).replace(/^"(.*)"$/, '$1'));

describe('the schema descriptions', () => {
  it.each(OPTIONS.map((o) => [o.path, o]))('%s: "Default X." in the description is the default', (_, option) => {
    for (const value of saidDefaults(option.description)) expect(value).toBe(render(option.default));
  });

  it('state most defaults that way', () => {
    expect(OPTIONS.filter((o) => saidDefaults(o.description).length > 0).length).toBeGreaterThan(35);
  });
});

describe('docs/configuration.md', () => {
  const text = readFileSync(resolve(repo, 'docs/configuration.md'), 'utf8');
  const routeTable = text.indexOf('| `name` | string | required |');

  /** `key` → default from the two option tables (route keys get the routes[]. prefix). */
  const tabled = new Map<string, string>();
  for (const match of text.matchAll(/^\| `([^`]+)` \| [^|]+ \| `([^`]+)` \|/gm)) {
    tabled.set((match.index > routeTable ? 'routes[].' : '') + (match[1] as string), match[2] as string);
  }
  /** "`prefix` (string, default `larder:`": prose lists name an option by its last keys. */
  const prose: Array<[string, string]> = [...text.replace(/\s+/g, ' ').matchAll(/`([\w.]+)` \([^()]*?default `([^`]+)`/g)].map(
    (m) => [m[1] as string, m[2] as string],
  );
  const inProse = (option: Option) => {
    const ends = prose.filter(([name]) => option.path === name || option.path.endsWith(`.${name}`));
    const owners = (name: string) => OPTIONS.filter((o) => o.path === name || o.path.endsWith(`.${name}`)).length;
    return ends.filter(([name]) => owners(name) === 1).map(([, value]) => value);
  };

  it.each(OPTIONS.filter((o) => o.path !== 'security.stripRequestHeaders').map((o) => [o.path, o]))(
    '%s: the documented default is the schema default',
    (_, option) => {
      const written = [...(tabled.has(option.path) ? [tabled.get(option.path)] : []), ...inProse(option)];
      expect(written.length, 'documented in a table or a list').toBeGreaterThan(0);
      for (const value of written) expect(value).toBe(render(option.default));
    },
  );

  it('shows the default strip list in full', () => {
    const strip = OPTIONS.find((o) => o.path === 'security.stripRequestHeaders')?.default as string[];
    const block = text.slice(text.indexOf('  stripRequestHeaders: ['), text.indexOf('  getWithBody: drop'));
    expect([...block.matchAll(/[\w*-]+/g)].map((m) => m[0]).slice(1)).toEqual(strip);
  });
});

describe('rules.yaml', () => {
  const doc = parseDocument(readFileSync(resolve(repo, 'rules.yaml'), 'utf8'));

  /** Every key: value pair of the file, by option path (list items of routes as routes[]). */
  const pairs = new Map<string, Pair[]>();
  const walk = (node: Node | null | undefined, path: string) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const at = path === '' ? String(pair.key.value) : `${path}.${String(pair.key.value)}`;
        pairs.set(at, [...(pairs.get(at) ?? []), pair]);
        walk(pair.value as Node, at);
      }
    } else if (node && 'items' in node && Array.isArray(node.items)) {
      for (const item of node.items) walk(item as Node, `${path}[]`);
    }
  };
  walk(doc.contents as Node, '');

  it('writes every option outside routes at its default', () => {
    const written = OPTIONS.filter((o) => !o.path.startsWith('routes') && pairs.has(o.path));
    expect(written.length).toBeGreaterThan(20);
    for (const option of written) {
      const [pair] = pairs.get(option.path) as Pair[];
      expect((pair?.value as Node).toJSON(), option.path).toEqual(option.default);
    }
  });

  it('says "Default X." only where X is the schema default', () => {
    let checked = 0;
    for (const option of OPTIONS) {
      for (const pair of pairs.get(option.path) ?? []) {
        const comment = `${(pair.key as Node).commentBefore ?? ''} ${(pair.value as Node | null)?.comment ?? ''}`;
        for (const value of saidDefaults(comment)) {
          expect(value, option.path).toBe(render(option.default));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(30);
  });
});

describe('the compiled Config', () => {
  const config = buildConfig({ cache: { redis: { url: 'redis://127.0.0.1:6379' } }, warm: {}, routes: [{ name: 'r', match: '/r' }] });
  const route = config.routes[0] as Route;

  /** Where each defaulted option lands in the Config, and what its default becomes. */
  const where: Record<string, (c: Config, r: Route) => unknown> = {
    listen: (c) => c.listen,
    origin: (c) => c.origin,
    'timeouts.connect': (c) => c.timeouts.connect,
    'timeouts.headers': (c) => c.timeouts.headers,
    'timeouts.body': (c) => c.timeouts.body,
    'cache.memory.maxSize': (c) => c.cache.memory.maxSize,
    'cache.memory.maxEntrySize': (c) => c.cache.memory.maxEntrySize,
    'cache.hitForPass': (c) => c.cache.hitForPass,
    'cache.lockTimeout': (c) => c.cache.lockTimeout,
    'cache.maxVariants': (c) => c.cache.maxVariants,
    'cache.maxTtl': (c) => c.cache.maxTtl,
    'cache.targetedCacheControl': (c) => c.cache.targeted,
    'cache.compression.codings': (c) => c.cache.compression.codings,
    'cache.compression.level.br': (c) => c.cache.compression.level.br,
    'cache.compression.level.gzip': (c) => c.cache.compression.level.gzip,
    'cache.compression.level.zstd': (c) => c.cache.compression.level.zstd,
    'cache.compression.minSize': (c) => c.cache.compression.minSize,
    'cache.compression.types': (c) => c.cache.compression.types,
    'cache.redis.prefix': (c) => c.cache.redis?.prefix,
    'cache.redis.commandTimeout': (c) => c.cache.redis?.commandTimeout,
    'cache.redis.breaker.failures': (c) => c.cache.redis?.breakerFailures,
    'cache.redis.breaker.coolDown': (c) => c.cache.redis?.breakerCoolDown,
    'cache.heuristic.fraction': (c) => c.cache.heuristicFraction,
    'cache.heuristic.max': (c) => c.cache.heuristicMax,
    'security.maxHeaderSize': (c) => c.security.maxHeaderSize,
    'security.maxRequestBodySize': (c) => c.security.maxRequestBodySize,
    'security.maxHeaders': (c) => c.security.maxHeaders,
    'security.clientTimeouts.headers': (c) => c.security.clientTimeouts.headers,
    'security.clientTimeouts.request': (c) => c.security.clientTimeouts.request,
    'security.clientTimeouts.keepAlive': (c) => c.security.clientTimeouts.keepAlive,
    'security.stripRequestHeaders': (c) => [...c.security.stripRequestHeaders],
    'security.getWithBody': (c) => c.security.getWithBody,
    'security.invalidateOnUnknownMethods': (c) => c.security.invalidateOnUnknownMethods,
    'security.encodedSlashes': (c) => c.security.encodedSlashes,
    'warm.urls': (c) => c.warm?.urls,
    'warm.concurrency': (c) => c.warm?.concurrency,
    'warm.waitForReady': (c) => c.warm?.waitForReady,
    'log.level': (c) => c.log.level,
    'log.requests': (c) => c.log.requests,
    shutdownGrace: (c) => c.shutdownGrace,
    routes: () => [],
    'routes[].match.path': (_, r) => (r.matches('', '/r') ? '/r' : undefined), // a string match has no path key
    'routes[].match.methods': (_, r) => r.methods,
    'routes[].cache': (_, r) => r.cache,
    'routes[].key.query': (_, r) => r.key.query,
    'routes[].key.headers': (_, r) => r.key.headers,
    'routes[].tags': (_, r) => r.tags,
    'routes[].unsafeShareSetCookie': (_, r) => r.unsafeShareSetCookie,
    'routes[].clientDirectives': (_, r) => r.clientDirectives,
    'routes[].cookies': (_, r) => r.cookies,
    'routes[].earlyRefresh': (_, r) => r.earlyRefresh,
    'routes[].jitter': (_, r) => `${r.jitter * 100}%`,
    debugHeaders: (c) => c.debugHeaders,
    // The built-in list, with nothing added (strip) and nothing taken off (keep).
    'routes[].responseHeaders.strip': (_, r) => r.responseHeaders.filter((n) => !DEFAULT_STRIP_RESPONSE_HEADERS.includes(n)),
    'routes[].responseHeaders.keep': (_, r) => DEFAULT_STRIP_RESPONSE_HEADERS.filter((n) => !r.responseHeaders.includes(n)),
  };

  it('maps every defaulted option', () => {
    expect(Object.keys(where).sort()).toEqual(OPTIONS.map((o) => o.path).sort());
  });

  const expected = (option: Option): unknown => {
    if (option.path === 'listen') return parseListen(option.default as string);
    if (option.path === 'origin') return parseOrigin(option.default as string);
    if (option.path === 'routes[].match.path') return '/r';
    if (option.path === 'cache.targetedCacheControl') return (option.default as string[]).map((n) => n.toLowerCase());
    if (option.path === 'security.stripRequestHeaders') return [...new Set(option.default as string[])].sort();
    if (option.kind === 'duration') return parseDuration(option.default as string);
    if (option.kind === 'size') return parseSize(option.default as string);
    return option.default;
  };

  it.each(OPTIONS.map((o) => [o.path, o]))('%s compiles from the schema default', (_, option) => {
    expect(where[option.path]?.(config, route)).toEqual(expected(option));
    if (option.path.startsWith('routes[].') && option.path !== 'routes[].match.path') {
      expect(where[option.path]?.(config, config.defaultRoute), 'the built-in default route').toEqual(expected(option));
    }
  });
});
