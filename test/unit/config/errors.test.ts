import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { ErrorCodes, LarderError } from '../../../src/errors.js';
import { problemsOf, yaml } from './helpers.js';

const route = (...lines: string[]) => yaml('routes:', '  - name: r', '    match: /r/**', ...lines.map((l) => `    ${l}`));

describe('every problem is reported, with file, line, column and key path', () => {
  it('lists all problems of a file in line order', () => {
    const text = readFileSync(resolve(import.meta.dirname, '../../fixtures/config/many-errors.yaml'), 'utf8');
    expect(problemsOf(text)).toEqual([
      'rules.yaml:2:9 listen: expected host:port, [ipv6]:port or a port number, such as 127.0.0.1:8080, got "localhost" (add a port: localhost:8080)',
      'rules.yaml:3:9 origin: expected the name of an upstream, or an http:// or https:// URL without path, query or fragment, such as http://127.0.0.1:3000, got "http://127.0.0.1:3000/api"',
      'rules.yaml:5:12 timeouts.connect: expected a duration such as 30s, 5m or 1h, got "5 minutes"',
      'rules.yaml:9:19 cache.memory.maxEntrySize: must not exceed cache.memory.maxSize ("1mb"), got "2mb"; lower maxEntrySize or raise maxSize',
      'rules.yaml:10:3 cache.maxVariant: unknown key "maxVariant"; did you mean "maxVariants"?',
      'rules.yaml:14:10 routes[0].ttl: expected a duration such as 30s, 5m or 1h, got "-5m"',
      'rules.yaml:15:11 routes[1].name: "products" is already the name of routes[0]; route names must be unique (they label metrics)',
      'rules.yaml:20:5 routes[2].staleIfError: has no effect because the route sets cache: false (always passed through); remove staleIfError, or remove cache: false',
    ]);
  });

  it('puts every problem in the message too, and uses the CONFIG_INVALID code', () => {
    let error: LarderError | undefined;
    try {
      parseConfig(yaml('listen: nope', 'origin: nope'), { file: 'conf/rules.yaml', env: {} });
    } catch (e) {
      error = e as LarderError;
    }
    expect(error?.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(error?.details).toHaveLength(2);
    expect(error?.message).toMatch(/^conf\/rules\.yaml is invalid \(2 problems\):\n {2}conf\/rules\.yaml:1:9 listen: /);
    expect(error?.message).toContain('\n  conf/rules.yaml:2:9 origin: ');
  });

  it('labels text without a file as <config>', () => {
    expect(() => parseConfig('listen: nope', { env: {} })).toThrow('<config>:1:9 listen:');
  });
});

describe('YAML itself', () => {
  it('reports a syntax error with its line and column', () => {
    const problems = problemsOf(yaml('listen: 127.0.0.1:8080', 'routes: [ { name: a', 'origin: x'));
    expect(problems[0]).toBe(
      'rules.yaml:3:1 YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }',
    );
    for (const problem of problems) expect(problem).toMatch(/^rules\.yaml:\d+:\d+ YAML syntax error: /);
  });

  it('reports duplicate keys', () => {
    expect(problemsOf(yaml('listen: 8080', 'listen: 9090'))).toEqual([
      'rules.yaml:2:1 YAML syntax error: Map keys must be unique',
    ]);
  });

  it('rejects an empty file rather than dropping every route', () => {
    expect(problemsOf('')).toEqual([
      'rules.yaml:1:1 the file is empty; write {} to run with every default, or see docs/configuration.md',
    ]);
    expect(problemsOf('# only a comment\n')).toHaveLength(1);
  });

  it('wants a mapping at the top', () => {
    expect(problemsOf('- a\n')).toEqual(['rules.yaml:1:1 (top level): expected a mapping (key: value), got a list']);
  });
});

describe('types and unknown keys', () => {
  it('reports a wrong type', () => {
    expect(problemsOf(yaml('cache:', '  maxVariants: many'))).toEqual([
      'rules.yaml:2:16 cache.maxVariants: expected an integer of at least 1, got "many"',
    ]);
    expect(problemsOf(yaml('timeouts: 5s'))).toEqual([
      'rules.yaml:1:11 timeouts: expected a mapping (key: value), got "5s"',
    ]);
    expect(problemsOf(route('unsafeShareSetCookie: yes'))).toEqual([
      'rules.yaml:4:27 routes[0].unsafeShareSetCookie: expected true or false, got "yes"',
    ]);
  });

  it('reports an empty value', () => {
    expect(problemsOf(route('ttl:'))).toEqual([
      'rules.yaml:4:9 routes[0].ttl: expected a duration such as 30s, 5m or 1h, got an empty value',
    ]);
  });

  it('suggests the key that was meant', () => {
    expect(problemsOf(route('tll: 5m', 'stale_if_error: 1m'))).toEqual([
      'rules.yaml:4:5 routes[0].tll: unknown key "tll"; did you mean "ttl"?',
      'rules.yaml:5:5 routes[0].stale_if_error: unknown key "stale_if_error"; did you mean "staleIfError"?',
    ]);
    expect(problemsOf(yaml('routes:', '  - name: r', '    match: { path: /r, method: [GET] }'))).toEqual([
      'rules.yaml:3:24 routes[0].match.method: unknown key "method"; did you mean "methods"?',
    ]);
  });

  it('lists the allowed keys when nothing is close', () => {
    expect(problemsOf(yaml('redis: {}'))).toEqual([
      'rules.yaml:1:1 redis: unknown key "redis"; allowed keys here: listen, trustedProxies, origin, upstreams, timeouts, cache, security, admin, warm, reload, log, debugHeaders, shutdownGrace, routes',
    ]);
  });

  it('reports missing required route keys on the route', () => {
    expect(problemsOf(yaml('routes:', '  - ttl: 5m'))).toEqual([
      'rules.yaml:2:5 routes[0].name: required key is missing; add a route name of letters, digits, "_", "." and "-" (it becomes a metric label)',
      'rules.yaml:2:5 routes[0].match: required key is missing; add a path glob such as /api/** or a mapping with path, methods and host',
    ]);
  });
});

describe('durations and sizes', () => {
  it.each([
    ['ttl: 5 minutes', 'got "5 minutes"'],
    ['ttl: -30s', 'got "-30s"'],
    ['ttl: 1.5h', 'got "1.5h"'],
    ['ttl: 300', 'got 300 (a duration needs a unit: write 300s or 300ms)'],
  ])('rejects %s', (line, found) => {
    expect(problemsOf(route(line))).toEqual([
      `rules.yaml:4:10 routes[0].ttl: expected a duration such as 30s, 5m or 1h, ${found}`,
    ]);
  });

  it.each([
    ['8 mb', 'got "8 mb"'],
    ['-1', 'got -1'],
    ['8m', 'got "8m"'],
  ])('rejects the size %s', (size, found) => {
    expect(problemsOf(yaml('cache:', '  memory:', `    maxSize: ${size}`))).toEqual([
      `rules.yaml:3:14 cache.memory.maxSize: expected a size such as 512kb, 8mb or 1gb, ${found}`,
    ]);
  });

  it('rejects a zero size and a zero or overflowing timeout', () => {
    expect(problemsOf(yaml('cache: { memory: { maxSize: 0b, maxEntrySize: 0 } }', 'timeouts: { connect: 0s, body: 30d }'))).toEqual([
      'rules.yaml:1:29 cache.memory.maxSize: expected a size above 0, got "0b"',
      'rules.yaml:1:47 cache.memory.maxEntrySize: expected a size above 0, got 0',
      'rules.yaml:2:22 timeouts.connect: a timeout of 0 would fail every fetch; write a positive duration such as 5s',
      'rules.yaml:2:32 timeouts.body: expected at most 24d (Node timers overflow beyond that), got "30d"',
    ]);
  });

  it('requires maxEntrySize ≤ maxSize, also against the default maxSize', () => {
    expect(problemsOf(yaml('cache:', '  memory:', '    maxEntrySize: 1gb'))).toEqual([
      'rules.yaml:3:19 cache.memory.maxEntrySize: must not exceed cache.memory.maxSize ("256mb"), got "1gb"; lower maxEntrySize or raise maxSize',
    ]);
  });

  it('checks number ranges', () => {
    expect(problemsOf(yaml('cache:', '  heuristic: { fraction: 1.5 }', '  maxVariants: 0'))).toEqual([
      'rules.yaml:2:26 cache.heuristic.fraction: expected a number from 0 to 1, got 1.5',
      'rules.yaml:3:16 cache.maxVariants: expected an integer of at least 1, got 0',
    ]);
  });
});

describe('routes', () => {
  it('rejects duplicate names, bad names and the reserved name', () => {
    expect(
      problemsOf(
        yaml(
          'routes:',
          '  - { name: a, match: /a }',
          '  - { name: a, match: /b }',
          '  - { name: "a b", match: /c }',
          '  - { name: default, match: /d }',
        ),
      ),
    ).toEqual([
      'rules.yaml:3:13 routes[1].name: "a" is already the name of routes[0]; route names must be unique (they label metrics)',
      'rules.yaml:4:13 routes[2].name: expected a route name of letters, digits, "_", "." and "-" (it becomes a metric label), got "a b"',
      'rules.yaml:5:13 routes[3].name: the name "default" is reserved for the built-in route; choose another name',
    ]);
  });

  it('rejects path globs that cannot match a request path', () => {
    expect(problemsOf(yaml('routes:', '  - { name: a, match: api/** }', '  - { name: b, match: 7 }'))).toEqual([
      'rules.yaml:2:23 routes[0].match: expected a path glob starting with "/", such as /api/products/**, got "api/**"',
      'rules.yaml:3:23 routes[1].match: expected a path glob such as /api/** or a mapping with path, methods and host, got 7',
    ]);
  });

  it('rejects a host with a port, and bad methods', () => {
    expect(problemsOf(yaml('routes:', '  - name: r', '    match: { host: "api.example.com", methods: [GET, "NO WAY"] }'))).toEqual([
      'rules.yaml:3:54 routes[0].match.methods[1]: expected an HTTP method such as GET, got "NO WAY"',
    ]);
    expect(problemsOf(yaml('routes:', '  - name: r', '    match: { host: "api.example.com:8080" }'))).toEqual([
      'rules.yaml:3:20 routes[0].match.host: the host is matched without its port; remove ":8080" from "api.example.com:8080"',
    ]);
  });

  it('rejects caching options on a cache: false route', () => {
    expect(problemsOf(route('cache: false', 'ttl: 5m', 'key: { query: none }', 'tags: [a]'))).toEqual([
      'rules.yaml:5:5 routes[0].ttl: has no effect because the route sets cache: false (always passed through); remove ttl, or remove cache: false',
      'rules.yaml:6:5 routes[0].key: has no effect because the route sets cache: false (always passed through); remove key, or remove cache: false',
      'rules.yaml:7:5 routes[0].tags: has no effect because the route sets cache: false (always passed through); remove tags, or remove cache: false',
    ]);
  });

  it('checks key rules', () => {
    expect(problemsOf(route('key: { query: some, headers: ["bad header"] }'))).toEqual([
      'rules.yaml:4:19 routes[0].key.query: expected all, none, or a list of query parameter names, got "some"',
      'rules.yaml:4:35 routes[0].key.headers[0]: expected an HTTP header name such as accept-language, got "bad header"',
    ]);
  });
});

describe('listen and origin', () => {
  it.each([
    ['nope', '(add a port: nope:8080)'],
    ['127.0.0.1:99999', '(the port must be 0 to 65535)'],
    ['"::1:8080"', 'write IPv6 addresses in brackets: [::1]:8080'],
    ['"[::g]:80"', '(the part in brackets is not an IPv6 address)'],
    ['"bad host:80"', '(the host is neither an IP address nor a host name)'],
    ['70000', ''],
  ])('rejects listen: %s', (value, why) => {
    const [problem] = problemsOf(`listen: ${value}\n`);
    expect(problem).toMatch(/^rules\.yaml:1:9 listen: expected host:port, \[ipv6\]:port or a port number, such as 127\.0\.0\.1:8080, got /);
    expect(problem).toContain(why);
  });

  it.each([
    ['ftp://example.com', ''],
    ['example.com:3000', ''],
    ['http://example.com/api', ''],
    ['http://example.com/?a=1', ''],
    ['http://user:pw@example.com', 'remove the user name and password'],
    ['http://example.com:99999', 'not a URL'],
  ])('rejects origin: %s', (value, why) => {
    const [problem] = problemsOf(route(`origin: ${value}`));
    expect(problem).toMatch(/^rules\.yaml:4:13 routes\[0\]\.origin: expected an http:\/\/ or https:\/\/ URL without path, query or fragment/);
    expect(problem).toContain(why);
  });
});
