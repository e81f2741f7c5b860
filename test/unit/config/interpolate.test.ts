import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { Env } from '../../../src/config/load.js';
import { problemsOf, yaml } from './helpers.js';

const parse = (text: string, env: Env) => parseConfig(text, { file: 'rules.yaml', env });

describe('${VAR} interpolation', () => {
  it('replaces variables inside and around text', () => {
    const config = parse(yaml('origin: http://${HOST}:${PORT}'), { HOST: 'api.internal', PORT: '4000' });
    expect(config.origin).toBe('http://api.internal:4000');
  });

  it('uses the default when the variable is unset or empty', () => {
    const text = yaml('origin: ${ORIGIN:-http://fallback:1}');
    expect(parse(text, {}).origin).toBe('http://fallback:1');
    expect(parse(text, { ORIGIN: '' }).origin).toBe('http://fallback:1');
    expect(parse(text, { ORIGIN: 'http://set:2' }).origin).toBe('http://set:2');
  });

  it('turns an unquoted number or boolean result into one, and keeps quoted values strings', () => {
    const config = parse(
      yaml(
        'listen: ${PORT}',
        'cache:',
        '  maxVariants: ${VARIANTS}',
        '  heuristic:',
        '    fraction: ${FRACTION:-0.5}',
        'routes:',
        '  - name: a',
        '    match: /a',
        '    unsafeShareSetCookie: ${SHARE}',
        '    tags: ["${TAG}"]',
      ),
      { PORT: '9000', VARIANTS: '4', SHARE: 'true', TAG: '123' },
    );
    expect(config.listen.port).toBe(9000);
    expect(config.cache.maxVariants).toBe(4);
    expect(config.cache.heuristicFraction).toBe(0.5);
    expect(config.routes[0]?.unsafeShareSetCookie).toBe(true);
    expect(config.routes[0]?.tags).toEqual(['123']);
  });

  it('rejects quoted numbers, since quotes mean "string"', () => {
    expect(problemsOf(yaml('cache:', '  maxVariants: "${N}"'), { N: '4' })).toEqual([
      'rules.yaml:2:16 cache.maxVariants: expected an integer of at least 1, got "4"',
    ]);
  });

  it('cannot inject YAML structure', () => {
    const config = parse(yaml('routes:', '  - name: a', '    match: ${GLOB}'), { GLOB: '/x\nroutes: []\n  - evil' });
    expect(config.routes).toHaveLength(1);
    expect(config.routes[0]?.matches('', '/x\nroutes: []\n  - evil')).toBe(true);
  });

  it('does not touch keys, and $${ writes a literal ${', () => {
    const config = parse(yaml('routes:', '  - name: a', '    match: /price/$${x}'), {});
    expect(config.routes[0]?.matches('', '/price/${x}')).toBe(true);
    expect(problemsOf(yaml('${KEY}: 1'), { KEY: 'listen' })).toEqual([
      'rules.yaml:1:1 ["${KEY}"]: unknown key "${KEY}"; allowed keys here: listen, trustedProxies, origin, upstreams, timeouts, cache, security, admin, warm, reload, log, debugHeaders, shutdownGrace, routes',
    ]);
  });

  it('names an undefined variable and its line', () => {
    expect(problemsOf(yaml('listen: 8080', 'routes:', '  - name: a', '    match: /a', '    origin: ${UPSTREAM}'))).toEqual([
      'rules.yaml:5:13 routes[0].origin: environment variable UPSTREAM is not set; set it, or give a default: ${UPSTREAM:-value}',
    ]);
  });

  it('rejects malformed references', () => {
    const problems = problemsOf(yaml('origin: ${not valid}', 'listen: ${PORT', 'timeouts: { connect: "${A:-${B}}" }'));
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^rules\.yaml:1:9 origin: cannot read the reference "\$\{not valid\}"; write \$\{NAME\}/);
    expect(problems[1]).toMatch(/^rules\.yaml:2:9 listen: cannot read the reference "\$\{" \(no closing "\}"\)/);
    expect(problems[2]).toMatch(/^rules\.yaml:3:22 timeouts\.connect: cannot read the reference .*\(no nesting\)/);
  });

  it('interpolates anchored values once, for every alias', () => {
    const config = parse(
      yaml('x-ttl: &ttl ${TTL}', 'routes:', '  - { name: a, match: /a, ttl: *ttl }', '  - { name: b, match: /b, ttl: *ttl }'),
      { TTL: '2m' },
    );
    expect(config.routes.map((r) => r.ttl)).toEqual([120_000, 120_000]);
  });
});

describe('environment overrides', () => {
  it('LARDER_LISTEN and LARDER_ORIGIN replace the file values', () => {
    const config = parse(yaml('listen: 127.0.0.1:8080', 'origin: http://file:1', 'routes:', '  - { name: a, match: /a }'), {
      LARDER_LISTEN: '0.0.0.0:9999',
      LARDER_ORIGIN: 'https://env.example:8443',
    });
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 9999 });
    expect(config.origin).toBe('https://env.example:8443');
    // Routes without their own origin follow the override too.
    expect(config.routes[0]?.origin).toBe('https://env.example:8443');
    expect(config.defaultRoute.origin).toBe('https://env.example:8443');
  });

  it('accepts a bare port in LARDER_LISTEN and ignores empty variables', () => {
    const config = parse('{}', { LARDER_LISTEN: '7000', LARDER_ORIGIN: '' });
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(config.origin).toBe('http://127.0.0.1:3000');
  });

  it('names the variable when its value is invalid', () => {
    expect(problemsOf(yaml('listen: 8080', 'origin: http://ok:1'), { LARDER_LISTEN: 'localhost', LARDER_ORIGIN: 'ftp://x' })).toEqual([
      'LARDER_LISTEN (replaces listen): expected host:port, [ipv6]:port or a port number, such as 127.0.0.1:8080, got "localhost" (add a port: localhost:8080)',
      'LARDER_ORIGIN (replaces origin): expected the name of an upstream, or an http:// or https:// URL without path, query or fragment, such as http://127.0.0.1:3000, got "ftp://x"',
    ]);
  });

  it('reads process.env when no env is given', () => {
    const saved = process.env['LARDER_LISTEN'];
    process.env['LARDER_LISTEN'] = '6543';
    try {
      expect(parseConfig('{}').listen.port).toBe(6543);
    } finally {
      if (saved === undefined) delete process.env['LARDER_LISTEN'];
      else process.env['LARDER_LISTEN'] = saved;
    }
  });
});
