import { describe, expect, it } from 'vitest';
import { buildConfig, parseConfig } from '../../../src/config/load.js';
import { hiddenBy } from '../../../src/config/response-fields.js';
import { buildProblems, problemsOf, yaml } from './helpers.js';

const route = (responseHeaders: object) => ({ routes: [{ name: 'r', match: '/r/**', responseHeaders }] });

describe('routes[].responseHeaders', () => {
  it('defaults to the built-in list, on configured routes and on the default route', () => {
    const config = buildConfig({ routes: [{ name: 'r', match: '/r/**' }] });
    const builtIn = ['cache-tag', 'surrogate-control', 'surrogate-key', 'x-accel-*'];
    expect(config.routes[0]?.responseHeaders).toEqual(builtIn);
    expect(config.defaultRoute.responseHeaders).toEqual(builtIn);
  });

  it('keep takes names off the list, strip adds them (lower case, sorted, once)', () => {
    const config = buildConfig(route({ keep: ['Surrogate-Key', 'x-accel-*'], strip: ['X-Powered-By', 'x-debug-*', 'cache-tag'] }));
    expect(config.routes[0]?.responseHeaders).toEqual(['cache-tag', 'surrogate-control', 'x-debug-*', 'x-powered-by']);
  });

  it('strip: [] and keep of everything leave nothing', () => {
    const config = buildConfig(route({ keep: ['surrogate-key', 'cache-tag', 'surrogate-control', 'x-accel-*'] }));
    expect(config.routes[0]?.responseHeaders).toEqual([]);
  });

  it('refuses a name that is not a field name', () => {
    expect(buildProblems(route({ strip: ['x accel'] }))).toEqual([
      'routes[0].responseHeaders.strip[0]: expected a header name such as surrogate-key, or a prefix ending in *, such as x-accel-*, got "x accel"',
    ]);
    expect(buildProblems(route({ keep: ['*'] }))).toHaveLength(1);
    expect(buildProblems(route({ strip: ['a*b'] }))).toHaveLength(1);
  });

  it('refuses to strip the framing larder writes, as an exact name or under a prefix, with its place in the file', () => {
    const text = yaml('routes:', '  - name: r', '    match: /r/**', '    responseHeaders:', '      strip: [x-a, Content-Length, transfer-*]');
    const problems = problemsOf(text);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^rules\.yaml:5:\d+ routes\[0\]\.responseHeaders\.strip\[1\]: "Content-Length" would remove content-length/);
    expect(problems[1]).toMatch(/routes\[0\]\.responseHeaders\.strip\[2\]: "transfer-\*" would remove transfer-encoding/);
    expect(buildProblems(route({ strip: ['content-*'] }))[0]).toMatch(/would remove content-length/);
    expect(buildConfig(route({ strip: ['content-security-*'] })).routes[0]?.responseHeaders).toContain('content-security-*');
  });

  it('compiles to a test on names: exact names and prefixes, never the framing', () => {
    const test = hiddenBy(['surrogate-key', 'x-accel-*', 'c*']);
    expect(test('surrogate-key')).toBe(true);
    expect(test('x-accel-redirect')).toBe(true);
    expect(test('x-accel')).toBe(false);
    expect(test('surrogate-keys')).toBe(false);
    expect(test('cache-control')).toBe(true);
    expect(test('content-length')).toBe(false);
    expect(hiddenBy([])('surrogate-key')).toBe(false);
  });
});

describe('debugHeaders', () => {
  it('defaults to always; takes never and a token', () => {
    expect(buildConfig({}).debugHeaders).toBe('always');
    expect(buildConfig({ debugHeaders: 'never' }).debugHeaders).toBe('never');
    expect(buildConfig({ debugHeaders: { token: 'x'.repeat(16) } }).debugHeaders).toEqual({ token: 'x'.repeat(16) });
  });

  it('reads the token from the environment', () => {
    const token = 'a-debug-token-of-some-length';
    const config = parseConfig(yaml('debugHeaders: { token: "${LARDER_DEBUG_TOKEN}" }'), { file: 'rules.yaml', env: { LARDER_DEBUG_TOKEN: token } });
    expect(config.debugHeaders).toEqual({ token });
  });

  it('refuses other words, a short token and unknown keys', () => {
    expect(buildProblems({ debugHeaders: 'sometimes' })).toHaveLength(1);
    expect(buildProblems({ debugHeaders: { token: 'short' } })).toHaveLength(1);
    expect(buildProblems({ debugHeaders: { token: 'x'.repeat(16), header: 'x' } })).toHaveLength(1);
  });
});
