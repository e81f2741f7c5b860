import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { problemsOf, yaml } from './helpers.js';

describe('route policies in rules.yaml', () => {
  it('compiles forceTtl, ttlByStatus, clientDirectives and cookies', () => {
    const config = parseConfig(
      yaml(
        'routes:',
        '  - name: catalog',
        '    match: /api/**',
        '    forceTtl: 10m',
        '    ttlByStatus: { 404: 30s, 410: 10m }',
        '    clientDirectives: ignore',
        '    cookies: [lang, currency, lang]',
        '    key: { headers: [Accept-Language] }',
      ),
      { env: {} },
    );
    const r = config.routes[0]!;
    expect(r.forceTtl).toBe(600_000);
    expect([...r.ttlByStatus]).toEqual([
      [404, 30_000],
      [410, 600_000],
    ]);
    expect(r.clientDirectives).toBe('ignore');
    expect(r.cookies).toEqual(['currency', 'lang']);
    // The kept cookies are part of the key.
    expect(r.key.headers).toEqual(['accept-language', 'cookie']);
  });

  it('refuses 407 and statuses outside 4xx/5xx in ttlByStatus, with the place', () => {
    const proxyAuth = problemsOf(yaml('routes:', '  - name: r', '    match: /**', '    ttlByStatus: { 404: 1m, 407: 1m }'));
    expect(proxyAuth.join('\n')).toMatch(/rules\.yaml:4:\d+ routes\[0\]\.ttlByStatus.*407 Proxy Authentication Required/);
    const others = problemsOf(yaml('routes:', '  - name: r', '    match: /**', '    ttlByStatus: { 200: 1m, 404: soon }'));
    expect(others.join('\n')).toMatch(/"200" is not allowed here; expected a mapping of 4xx or 5xx status codes/);
    expect(others.join('\n')).toMatch(/404.*expected a duration/);
  });

  it('refuses unknown values and the options on a pass-through route', () => {
    expect(problemsOf(yaml('routes:', '  - { name: r, match: /**, clientDirectives: obey }')).join('\n')).toMatch(/clientDirectives/);
    expect(problemsOf(yaml('routes:', '  - { name: r, match: /**, cookies: [] }')).join('\n')).toMatch(/cookies/);
    expect(problemsOf(yaml('routes:', '  - { name: r, match: /**, cookies: ["a b"] }')).join('\n')).toMatch(/cookie name/);
    const pass = problemsOf(yaml('routes:', '  - { name: r, match: /**, cache: false, forceTtl: 1m, cookies: strip }')).join('\n');
    expect(pass).toMatch(/forceTtl.*cache: false|cache: false.*forceTtl/);
    expect(pass).toMatch(/cookies/);
  });
});
