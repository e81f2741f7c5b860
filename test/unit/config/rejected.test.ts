import { describe, expect, it } from 'vitest';
import { buildProblems } from './helpers.js';

describe('values the schema rejects', () => {
  it('take no part in the checks that compare two options', () => {
    expect(buildProblems({ security: { clientTimeouts: { headers: '1x', request: '1s' } } })).toEqual([
      'security.clientTimeouts.headers: expected a duration such as 30s, 5m or 1h, got "1x"',
    ]);
    expect(buildProblems({ cache: { memory: { maxSize: 'big', maxEntrySize: '1gb' } } })).toEqual([
      'cache.memory.maxSize: expected a size such as 512kb, 8mb or 1gb, got "big"',
    ]);
  });

  it('do not read as absent: a rejected redis url is not "needs url or cluster"', () => {
    expect(buildProblems({ cache: { redis: { cluster: ['http://x'] } } })).toEqual([
      'cache.redis.cluster[0]: expected a redis:// URL such as redis://10.0.0.1:7000, got "http://x"',
    ]);
  });

  it('leave the rest of the file checked, whatever their shape', () => {
    expect(
      buildProblems({
        cache: 'big',
        admin: {},
        routes: ['x', { name: 'a', match: '/a' }, { name: 'a', match: { path: 'a', host: 5 } }],
      }),
    ).toEqual([
      'admin.listen: required key is missing; add host:port, [ipv6]:port or a port number, such as 127.0.0.1:8080',
      'cache: expected a mapping (key: value), got "big"',
      'routes[0]: expected a mapping (key: value), got "x"',
      'routes[2].match.host: expected a host glob without port, such as api.example.com or *.example.com, got 5',
      'routes[2].match.path: expected a path glob starting with "/", such as /api/products/**, got "a"',
      'routes[2].name: "a" is already the name of routes[1]; route names must be unique (they label metrics)',
    ]);
  });

  it('cache.compression: each bad value named, with what it expects', () => {
    expect(buildProblems({ cache: { compression: { codings: ['deflate'], level: { br: 12 }, minSize: 'x', types: ['json'] } } })).toEqual([
      'cache.compression.codings[0]: expected "br", "zstd" or "gzip", got "deflate"',
      'cache.compression.level.br: expected an integer from 0 to 11, got 12',
      'cache.compression.minSize: expected a size such as 512kb, 8mb or 1gb, got "x"',
      'cache.compression.types[0]: expected a media type such as text/html, text/* or application/*+json, got "json"',
    ]);
  });
});
