import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig, loadConfig, parseConfig } from '../../../src/config/load.js';
import { ErrorCodes, LarderError } from '../../../src/errors.js';
import { buildProblems, yaml } from './helpers.js';

const repo = resolve(import.meta.dirname, '../../..');

describe('defaults', () => {
  const config = parseConfig('{}', { env: {} });

  it('fills every default from the schema', () => {
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.origin).toBe('http://127.0.0.1:3000');
    expect(config.timeouts).toEqual({ connect: 5_000, headers: 30_000, body: 30_000 });
    expect(config.cache).toEqual({
      memory: { maxSize: 256 * 1024 ** 2, maxEntrySize: 8 * 1024 ** 2 },
      hitForPass: 10_000,
      lockTimeout: 10_000,
      maxVariants: 16,
      heuristicFraction: 0.1,
      heuristicMax: 86_400_000,
      maxTtl: 604_800_000,
      targeted: ['larder-cache-control', 'cdn-cache-control'],
      compression: {
        codings: ['br', 'gzip'],
        level: { br: 5, gzip: 6, zstd: 3 },
        minSize: 1024,
        types: [
          'text/*',
          'application/json',
          'application/*+json',
          'application/javascript',
          'application/xml',
          'application/*+xml',
          'application/wasm',
          'image/svg+xml',
          'font/ttf',
          'font/otf',
        ],
      },
    });
    expect(config.routes).toEqual([]);
    expect(config.file).toBeUndefined();
  });

  it('has a default route that matches everything and follows the origin', () => {
    const route = config.defaultRoute;
    expect(route).toMatchObject({
      name: 'default',
      configured: false,
      cache: true,
      origin: 'http://127.0.0.1:3000',
      methods: [],
      key: { query: 'all', headers: [] },
      tags: [],
      unsafeShareSetCookie: false,
    });
    expect(route.ttl).toBeUndefined();
    expect(route.matches('anything', '/at/all')).toBe(true);
  });

  it('fills route defaults', () => {
    const route = parseConfig(yaml('routes:', '  - { name: a, match: /a }'), { env: {} }).routes[0];
    expect(route).toMatchObject({
      name: 'a',
      configured: true,
      cache: true,
      origin: 'http://127.0.0.1:3000',
      methods: [],
      key: { query: 'all', headers: [] },
      tags: [],
      unsafeShareSetCookie: false,
    });
    expect(route?.ttl).toBeUndefined();
  });
});

describe('compiled values', () => {
  const config = parseConfig(
    yaml(
      'listen: "[::1]:9090"',
      'origin: https://Example.com:443/',
      'timeouts: { connect: 250ms, headers: 2s, body: 1m }',
      'cache:',
      '  memory: { maxSize: 1GB, maxEntrySize: 1048576 }',
      '  hitForPass: 0s',
      '  heuristic: { fraction: 0, max: 1h }',
      'routes:',
      '  - name: p',
      '    match: { path: /p/**, methods: [get, post, GET] }',
      '    origin: http://10.0.0.1:4000',
      '    ttl: 5m',
      '    staleWhileRevalidate: 30s',
      '    staleIfError: 1d',
      '    key: { query: [sort, page, sort], headers: [X-B, accept-language] }',
      '    tags: [catalog, t2]',
      '    unsafeShareSetCookie: true',
      '  - { name: q, match: /q, key: { query: none } }',
      '  - { name: r, match: /r, key: { query: [] } }',
      '  - { name: s, match: /s, cache: false }',
    ),
    { env: {} },
  );

  it('converts units, canonicalises URLs and addresses', () => {
    expect(config.listen).toEqual({ host: '::1', port: 9090 });
    expect(config.origin).toBe('https://example.com');
    expect(config.timeouts).toEqual({ connect: 250, headers: 2_000, body: 60_000 });
    expect(config.cache.memory).toEqual({ maxSize: 1024 ** 3, maxEntrySize: 1024 ** 2 });
    expect(config.cache.hitForPass).toBe(0);
    expect(config.cache.heuristicFraction).toBe(0);
    expect(config.cache.heuristicMax).toBe(3_600_000);
  });

  it('compiles a route', () => {
    const [p, q, r, s] = config.routes;
    expect(p).toMatchObject({
      origin: 'http://10.0.0.1:4000',
      ttl: 300_000,
      staleWhileRevalidate: 30_000,
      staleIfError: 86_400_000,
      key: { query: ['page', 'sort'], headers: ['accept-language', 'x-b'] },
      tags: ['catalog', 't2'],
      unsafeShareSetCookie: true,
    });
    expect([...(p?.methods ?? [])].sort()).toEqual(['GET', 'HEAD', 'POST']);
    expect(q?.key.query).toEqual([]);
    expect(r?.key.query).toEqual([]);
    expect(s?.cache).toBe(false);
  });

  it('accepts listen as a bare port, number or string', () => {
    expect(parseConfig('listen: 9000', { env: {} }).listen).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parseConfig('listen: "9000"', { env: {} }).listen).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parseConfig('listen: 0.0.0.0:0', { env: {} }).listen).toEqual({ host: '0.0.0.0', port: 0 });
    expect(parseConfig('listen: localhost:80', { env: {} }).listen).toEqual({ host: 'localhost', port: 80 });
  });

  it('is deeply frozen', () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.cache.memory)).toBe(true);
    expect(Object.isFrozen(config.routes)).toBe(true);
    expect(Object.isFrozen(config.routes[0]?.key.query)).toBe(true);
    expect(Object.isFrozen(config.defaultRoute)).toBe(true);
    expect(() => {
      (config.timeouts as { connect: number }).connect = 1;
    }).toThrow(TypeError);
  });

  it('supports anchors, merge keys and x- keys to hold them', () => {
    const merged = parseConfig(
      yaml(
        'x-cached: &cached',
        '  ttl: 1m',
        '  tags: [shared]',
        'routes:',
        '  - { <<: *cached, name: a, match: /a/** }',
        '  - <<: *cached',
        '    name: b',
        '    match: /b/**',
        '    ttl: 2m',
      ),
      { env: {} },
    );
    expect(merged.routes.map((r) => [r.name, r.ttl, r.tags])).toEqual([
      ['a', 60_000, ['shared']],
      ['b', 120_000, ['shared']],
    ]);
  });
});

describe('buildConfig', () => {
  it('builds from an object, with durations in ms and sizes in bytes as numbers', () => {
    const config = buildConfig({
      listen: 0,
      timeouts: { connect: 100, headers: '1s' },
      cache: { memory: { maxSize: 4096, maxEntrySize: '1kb' }, hitForPass: 0 },
      routes: [{ name: 'a', match: '/a/**', ttl: 1500, staleIfError: '1m' }],
    });
    expect(config.listen.port).toBe(0);
    expect(config.timeouts).toEqual({ connect: 100, headers: 1_000, body: 30_000 });
    expect(config.cache.memory).toEqual({ maxSize: 4096, maxEntrySize: 1024 });
    expect(config.cache.hitForPass).toBe(0);
    expect(config.routes[0]).toMatchObject({ ttl: 1500, staleIfError: 60_000 });
    expect(Object.isFrozen(config.routes[0])).toBe(true);
  });

  it('does not touch the object it is given', () => {
    const input = { routes: [{ name: 'a', match: '/a', ttl: 5 }] };
    buildConfig(input);
    expect(input.routes[0]?.ttl).toBe(5);
  });

  it('validates the same way, without file positions', () => {
    expect(buildProblems({ routes: [{ name: 'a', match: '/a', ttl: -1, tll: '1s' }] })).toEqual([
      'routes[0].tll: unknown key "tll"; did you mean "ttl"?',
      'routes[0].ttl: expected a duration such as 30s, 5m or 1h, got -1',
    ]);
  });

  it('ignores the process environment unless given one', () => {
    const saved = process.env['LARDER_ORIGIN'];
    process.env['LARDER_ORIGIN'] = 'http://from-env:1';
    try {
      expect(buildConfig({}).origin).toBe('http://127.0.0.1:3000');
      expect(buildConfig({}, { LARDER_ORIGIN: 'http://given:2' }).origin).toBe('http://given:2');
    } finally {
      if (saved === undefined) delete process.env['LARDER_ORIGIN'];
      else process.env['LARDER_ORIGIN'] = saved;
    }
  });
});

describe('loadConfig', () => {
  it('loads the shipped rules.yaml', () => {
    const config = loadConfig(join(repo, 'rules.yaml'), {});
    expect(config.file).toBe(join(repo, 'rules.yaml'));
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.origin).toBe('http://127.0.0.1:3000');
    expect(config.routes.map((r) => r.name)).toEqual(['products', 'images', 'legacy-app', 'auth']);
    expect(config.routes.find((r) => r.name === 'auth')?.cache).toBe(false);
  });

  it('resolves Config.file to an absolute path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'larder-config-'));
    writeFileSync(join(dir, 'rules.yaml'), '{}\n');
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(loadConfig('rules.yaml', {}).file).toBe(join(dir, 'rules.yaml'));
    } finally {
      process.chdir(cwd);
    }
  });

  it('names the path of a file it cannot read', () => {
    const missing = join(tmpdir(), 'larder-no-such-dir', 'rules.yaml');
    let error: unknown;
    try {
      loadConfig(missing, {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LarderError);
    expect((error as LarderError).code).toBe(ErrorCodes.CONFIG_UNREADABLE);
    expect((error as LarderError).message).toContain(missing);
    expect((error as LarderError).message).toContain('no such file');
  });

  it('reports problems with the path it was given', () => {
    expect(() => loadConfig(join(repo, 'test/fixtures/config/many-errors.yaml'), {})).toThrow(
      /test\/fixtures\/config\/many-errors\.yaml:\d+:\d+ /,
    );
  });
});
