import { describe, expect, it } from 'vitest';
import { clfTime, isoTime, detailOf, formatCombined, formatJson, keyDigest, parseCombined, redactQuery, type AccessRecord } from '../../../src/ops/access-log.js';

const record: AccessRecord = {
  time: '2026-12-01T17:20:00.000Z',
  client: '10.0.0.7',
  method: 'GET',
  path: '/a?token=REDACTED&x=1',
  http: '1.1',
  status: 200,
  bytes: 321,
  ms: 0.42,
  upstreamMs: undefined,
  cache: 'HIT',
  detail: undefined,
  route: 'api',
  tier: 'memory',
  upstream: 'http://127.0.0.1:3000',
  key: 'abcdef012345',
  referer: undefined,
  userAgent: 'curl/8 "quoted" \\ back',
};

describe('redactQuery', () => {
  const names = ['token', 'api_key'];
  it('replaces the values of the named parameters, keeps the rest and their order', () => {
    expect(redactQuery('/p?a=1&token=s3cret&b=2&API_KEY=k&token=again', names)).toBe('/p?a=1&token=REDACTED&b=2&API_KEY=REDACTED&token=REDACTED');
  });
  it('matches encoded names and names without a value', () => {
    expect(redactQuery('/p?%74oken=s&api_key', names)).toBe('/p?%74oken=REDACTED&api_key=REDACTED');
  });
  it('leaves paths without a query or without those parameters as they are', () => {
    expect(redactQuery('/p', names)).toBe('/p');
    expect(redactQuery('/p?tokens=1&xtoken=2', names)).toBe('/p?tokens=1&xtoken=2');
    expect(redactQuery('/p?token=1', [])).toBe('/p?token=1');
  });
});

describe('access lines', () => {
  it('JSON parses back to the record', () => {
    const parsed = JSON.parse(formatJson(record)) as Record<string, unknown>;
    expect(parsed).toMatchObject({ time: record.time, client: '10.0.0.7', method: 'GET', path: '/a?token=REDACTED&x=1', status: 200, bytes: 321, ms: 0.42, upstream_ms: null, cache: 'HIT', detail: null, route: 'api', tier: 'memory', upstream: 'http://127.0.0.1:3000', key: 'abcdef012345', user_agent: record.userAgent });
  });

  it('combined is the Apache/nginx format plus larder fields, and parses back with quotes escaped', () => {
    const at = Date.UTC(2026, 11, 1, 17, 20, 0);
    const line = formatCombined(record, at);
    expect(line.startsWith('10.0.0.7 - - [01/Dec/2026:17:20:00 +0000] "GET /a?token=REDACTED&x=1 HTTP/1.1" 200 321 "-" "curl/8 \\"quoted\\" \\\\ back" cache=HIT')).toBe(true);
    expect(parseCombined(line)).toEqual({
      client: '10.0.0.7',
      time: '01/Dec/2026:17:20:00 +0000',
      request: 'GET /a?token=REDACTED&x=1 HTTP/1.1',
      status: '200',
      bytes: '321',
      referer: '-',
      userAgent: 'curl/8 \\"quoted\\" \\\\ back',
      cache: 'HIT',
      detail: '-',
      route: 'api',
      tier: 'memory',
      ms: '0.42',
      upstreamMs: '-',
      upstream: 'http://127.0.0.1:3000',
      key: 'abcdef012345',
    });
  });

  it('carries the upstream time when the request went to the origin', () => {
    expect((JSON.parse(formatJson({ ...record, cache: 'MISS', upstreamMs: 12.5 })) as Record<string, unknown>)['upstream_ms']).toBe(12.5);
    expect(parseCombined(formatCombined({ ...record, cache: 'MISS', upstreamMs: 12.5 }, 0))?.['upstreamMs']).toBe('12.5');
  });

  it('escapes control characters so one request is one line', () => {
    const line = formatCombined({ ...record, userAgent: 'a\nb\r\x1b' }, 0);
    expect(line).not.toMatch(/[\n\r\x1b]/);
    expect(line).toContain('"a\\x0ab\\x0d\\x1b"');
  });

  it('writes times, details and digests as documented', () => {
    expect(clfTime(Date.UTC(2026, 0, 2, 3, 4, 5))).toBe('02/Jan/2026:03:04:05 +0000');
    for (const t of [Date.UTC(2026, 0, 2, 3, 4, 5), Date.UTC(2026, 0, 2, 3, 4, 5) + 7, Date.UTC(2026, 0, 2, 3, 4, 5) + 42, Date.UTC(2026, 0, 2, 3, 4, 6) + 999, 0]) {
      expect(isoTime(t)).toBe(new Date(t).toISOString());
    }
    expect(detailOf({ result: 'MISS' })).toBe('uri-miss');
    expect(detailOf({ result: 'MISS', reason: 'private' })).toBe('private');
    expect(detailOf({ result: 'STALE', stale: 'revalidate' })).toBe('stale-while-revalidate');
    expect(detailOf({ result: 'HIT' })).toBeUndefined();
    expect(keyDigest('h/a')).toMatch(/^[0-9a-f]{12}$/);
    expect(keyDigest('h/a')).not.toBe(keyDigest('h/b'));
  });
});
