import { describe, expect, it } from 'vitest';
import { buildConfig, parseConfig } from '../../../src/config/load.js';
import { problemsOf, yaml } from './helpers.js';

const api = ['upstreams:', '  api:', '    servers: [http://10.0.0.1:3000, "http://10.0.0.2:3000/"]'];

describe('upstreams', () => {
  it('compiles a named upstream with the schema defaults', () => {
    const config = parseConfig(yaml(...api, 'origin: api'), { env: {} });
    expect(config.origin).toBe('api');
    expect(config.upstreams['api']).toEqual({
      name: 'api',
      implicit: false,
      servers: ['http://10.0.0.1:3000', 'http://10.0.0.2:3000'],
      balance: 'round-robin',
      connections: 256,
      retry: { attempts: 1, connect: true, statuses: [502, 503, 504] },
      host: 'preserve',
    });
    expect(config.defaultRoute.upstream).toBe(config.upstreams['api']);
  });

  it('reads every option', () => {
    const config = parseConfig(
      yaml(
        ...api,
        '    balance: least-connections',
        '    connections: 128',
        '    healthCheck: { path: /healthz, interval: 5s, timeout: 1s, unhealthyAfter: 3, healthyAfter: 2 }',
        '    retry: { attempts: 2, on: [connect, 502, 503, 504] }',
        '    host: upstream',
        'routes:',
        '  - { name: products, match: /api/products/**, upstream: api }',
      ),
      { env: {} },
    );
    const upstream = config.routes[0]?.upstream;
    expect(upstream).toMatchObject({
      balance: 'least-connections',
      connections: 128,
      healthCheck: { path: '/healthz', interval: 5_000, timeout: 1_000, unhealthyAfter: 3, healthyAfter: 2 },
      retry: { attempts: 2, connect: true, statuses: [502, 503, 504] },
      host: 'upstream',
    });
    expect(config.routes[0]?.origin).toBe('api');
    // The top-level origin is still the URL default: its own implicit upstream.
    expect(config.defaultRoute.upstream).toMatchObject({ implicit: true, name: 'http://127.0.0.1:3000', host: 'preserve', connections: 256 });
  });

  it('gives routes with the same URL origin one implicit upstream', () => {
    const config = buildConfig({
      origin: 'http://a:1',
      routes: [
        { name: 'x', match: '/x', origin: 'http://b:2' },
        { name: 'y', match: '/y', origin: 'http://b:2/' },
      ],
    });
    expect(config.routes[0]?.upstream).toBe(config.routes[1]?.upstream);
    expect(Object.keys(config.upstreams).sort()).toEqual(['http://a:1', 'http://b:2']);
  });

  it('LARDER_ORIGIN may name an upstream', () => {
    const config = parseConfig(yaml(...api), { env: { LARDER_ORIGIN: 'api' } });
    expect(config.defaultRoute.upstream.name).toBe('api');
  });

  it('rejects an unknown name with a suggestion, and origin with upstream on one route', () => {
    expect(
      problemsOf(
        yaml(
          ...api,
          'origin: apj',
          'routes:',
          '  - { name: a, match: /a, upstream: aip }',
          '  - { name: b, match: /b, upstream: api, origin: http://x:1 }',
          '  - { name: c, match: /c, upstream: zzz }',
        ),
      ),
    ).toEqual([
      'rules.yaml:4:9 origin: no upstream is named "apj"; did you mean "api"?',
      'rules.yaml:6:37 routes[0].upstream: no upstream is named "aip"; did you mean "api"?',
      'rules.yaml:7:27 routes[1].upstream: give either origin (a URL) or upstream (a name), not both',
      'rules.yaml:8:37 routes[2].upstream: no upstream is named "zzz"; upstreams: api',
    ]);
  });

  it('rejects bad entries at their place', () => {
    const problems = problemsOf(
      yaml(
        'upstreams:',
        '  api:',
        '    servers: [http://a:1, http://a:1/, http://b:1/path]',
        '    balanse: round-robin',
        '    retry: { attempts: 0, on: [connect, 404] }',
        '  empty: { servers: [] }',
        '  "bad name": { servers: [http://c:1] }',
      ),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^rules\.yaml:3:40 upstreams\.api\.servers\[2\]: expected an http:\/\/ or https:\/\/ URL without path/),
      'rules.yaml:4:5 upstreams.api.balanse: unknown key "balanse"; did you mean "balance"?',
      'rules.yaml:5:24 upstreams.api.retry.attempts: expected an integer from 1 to 10, got 0',
      'rules.yaml:5:41 upstreams.api.retry.on[1]: expected connect, or a 5xx status such as 502, got 404',
      'rules.yaml:6:21 upstreams.empty.servers: expected a list of one or more server URLs, such as [http://10.0.0.1:3000, http://10.0.0.2:3000], got a list',
      'rules.yaml:7:3 upstreams["bad name"]: "bad name" is not allowed here; expected a mapping (key: value)',
    ]);
  });

  it('rejects a server listed twice', () => {
    expect(problemsOf(yaml('upstreams:', '  api:', '    servers: [http://a:1, http://a:1/]'))).toEqual([
      'rules.yaml:3:27 upstreams.api.servers[1]: http://a:1 is listed twice; list each server once',
    ]);
  });
});
