import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { problemsOf, yaml } from './helpers.js';

describe('cache.redis', () => {
  it('is absent by default: memory only', () => {
    expect(parseConfig('{}', { env: {} }).cache.redis).toBeUndefined();
  });

  it('fills in the defaults around a url', () => {
    const c = parseConfig(yaml('cache:', '  redis:', '    url: redis://127.0.0.1:6380'), { env: {} });
    expect(c.cache.redis).toEqual({
      url: 'redis://127.0.0.1:6380',
      prefix: 'larder:',
      commandTimeout: 50,
      breakerFailures: 5,
      breakerCoolDown: 5000,
    });
  });

  it('takes cluster seed nodes and interpolated values', () => {
    const c = parseConfig(yaml('cache:', '  redis:', '    cluster: [redis://a:7000, "${SEED}"]', '    commandTimeout: 20ms'), {
      env: { SEED: 'redis://b:7000' },
    });
    expect(c.cache.redis?.cluster).toEqual(['redis://a:7000', 'redis://b:7000']);
    expect(c.cache.redis?.commandTimeout).toBe(20);
  });

  it('needs exactly one of url and cluster', () => {
    expect(problemsOf(yaml('cache:', '  redis:', '    prefix: "x:"'))).toEqual([
      'rules.yaml:2:3 cache.redis: needs url (one server, e.g. redis://127.0.0.1:6379) or cluster (seed node URLs)',
    ]);
    expect(problemsOf(yaml('cache:', '  redis:', '    url: redis://a:1', '    cluster: [redis://b:1]'))).toEqual([
      'rules.yaml:4:5 cache.redis.cluster: give either url (one server) or cluster (seed nodes), not both',
    ]);
  });

  it('rejects a bad url, prefix, timeout and breaker, each with its line', () => {
    const problems = problemsOf(
      yaml(
        'cache:',
        '  redis:',
        '    url: http://127.0.0.1:6379',
        '    prefix: "{tag}"',
        '    commandTimeout: fast',
        '    breaker: { failures: 0, coolDown: 5 }',
      ),
    );
    expect(problems).toHaveLength(5);
    expect(problems[0]).toMatch(/^rules\.yaml:3:10 cache\.redis\.url: expected a redis:\/\/ or rediss:\/\/ URL/);
    expect(problems[1]).toMatch(/^rules\.yaml:4:13 cache\.redis\.prefix: /);
    expect(problems[2]).toMatch(/^rules\.yaml:5:21 cache\.redis\.commandTimeout: expected a duration/);
    expect(problems[3]).toMatch(/^rules\.yaml:6:26 cache\.redis\.breaker\.failures: /);
    expect(problems[4]).toMatch(/^rules\.yaml:6:\d+ cache\.redis\.breaker\.coolDown: expected a duration/);
  });

  it('suggests the right key for a typo', () => {
    expect(problemsOf(yaml('cache:', '  redis:', '    url: redis://a:1', '    comandTimeout: 5ms'))[0]).toContain(
      'did you mean "commandTimeout"?',
    );
  });
});
