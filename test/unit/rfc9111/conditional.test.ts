import { describe, expect, it } from 'vitest';
import {
  clientNotModified,
  notModifiedHeaders,
  parseETagList,
  revalidationHeaders,
  update304,
  validatorMatches,
} from '../../../src/rfc9111/conditional.js';
import { formatHttpDate } from '../../../src/rfc9111/dates.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const LM = formatHttpDate(NOW - 3_600_000);

describe('parseETagList', () => {
  it('splits on commas outside quotes and reads W/', () => {
    expect(parseETagList('"a", W/"b,c" ,"d"')).toEqual([
      { weak: false, opaque: '"a"' },
      { weak: true, opaque: '"b,c"' },
      { weak: false, opaque: '"d"' },
    ]);
    expect(parseETagList(' , ')).toEqual([]);
  });
});

describe('clientNotModified', () => {
  const stored = { etag: '"v1"', 'last-modified': LM, date: formatHttpDate(NOW) };

  it('matches If-None-Match with the weak comparison', () => {
    expect(clientNotModified({ 'if-none-match': '"v1"' }, 200, stored, NOW)).toBe(true);
    expect(clientNotModified({ 'if-none-match': 'W/"v1"' }, 200, stored, NOW)).toBe(true);
    expect(clientNotModified({ 'if-none-match': '"v1"' }, 200, { etag: 'W/"v1"' }, NOW)).toBe(true);
    expect(clientNotModified({ 'if-none-match': '"x", "v1"' }, 200, stored, NOW)).toBe(true);
    expect(clientNotModified({ 'if-none-match': '"v2"' }, 200, stored, NOW)).toBe(false);
    expect(clientNotModified({ 'if-none-match': '"V1"' }, 200, stored, NOW)).toBe(false);
  });

  it('treats * as matching any stored response', () => {
    expect(clientNotModified({ 'if-none-match': ' * ' }, 200, {}, NOW)).toBe(true);
  });

  it('is false when the stored response has no ETag', () => {
    expect(clientNotModified({ 'if-none-match': '"v1"' }, 200, { 'last-modified': LM }, NOW)).toBe(false);
  });

  it('gives If-None-Match precedence over If-Modified-Since', () => {
    const req = { 'if-none-match': '"v2"', 'if-modified-since': formatHttpDate(NOW) };
    expect(clientNotModified(req, 200, stored, NOW)).toBe(false);
  });

  it('compares If-Modified-Since with Last-Modified', () => {
    expect(clientNotModified({ 'if-modified-since': LM }, 200, stored, NOW)).toBe(true);
    expect(clientNotModified({ 'if-modified-since': formatHttpDate(NOW - 3_600_001) }, 200, stored, NOW)).toBe(false);
    expect(clientNotModified({ 'if-modified-since': formatHttpDate(NOW - 3_599_000) }, 200, stored, NOW)).toBe(true);
  });

  it('falls back to Date, then to the storage time', () => {
    const ims = formatHttpDate(NOW - 60_000);
    expect(clientNotModified({ 'if-modified-since': ims }, 200, { date: formatHttpDate(NOW - 120_000) }, NOW)).toBe(true);
    expect(clientNotModified({ 'if-modified-since': ims }, 200, { date: formatHttpDate(NOW) }, NOW - 120_000)).toBe(false);
    expect(clientNotModified({ 'if-modified-since': ims }, 200, {}, NOW - 120_000)).toBe(true);
    expect(clientNotModified({ 'if-modified-since': ims }, 200, {}, NOW)).toBe(false);
  });

  it('evaluates conditions only for a stored 2xx (RFC 9110 §13.2.1)', () => {
    for (const status of [301, 404, 410, 500]) {
      expect(clientNotModified({ 'if-none-match': '"v1"' }, status, stored, NOW)).toBe(false);
      expect(clientNotModified({ 'if-none-match': '*' }, status, stored, NOW)).toBe(false);
      expect(clientNotModified({ 'if-modified-since': LM }, status, stored, NOW)).toBe(false);
    }
    expect(clientNotModified({ 'if-none-match': '"v1"' }, 203, stored, NOW)).toBe(true);
  });

  it('ignores an invalid If-Modified-Since and requests without conditions', () => {
    expect(clientNotModified({ 'if-modified-since': 'yesterday' }, 200, stored, NOW)).toBe(false);
    expect(clientNotModified({}, 200, stored, NOW)).toBe(false);
  });
});

describe('revalidationHeaders', () => {
  it('sends the stored validators', () => {
    expect(revalidationHeaders({ etag: 'W/"v1"', 'last-modified': LM })).toEqual({
      'if-none-match': 'W/"v1"',
      'if-modified-since': LM,
    });
  });

  it('sends nothing for missing or invalid validators', () => {
    expect(revalidationHeaders({ 'last-modified': 'never' })).toEqual({});
    expect(revalidationHeaders({})).toEqual({});
  });
});

describe('notModifiedHeaders', () => {
  it('keeps only the fields a 304 carries', () => {
    const stored = {
      'cache-control': 'max-age=60',
      'content-location': '/a',
      date: formatHttpDate(NOW),
      etag: '"v1"',
      expires: formatHttpDate(NOW + 60_000),
      'last-modified': LM,
      vary: ['accept', 'origin'],
      'content-length': '1234',
      'content-type': 'text/html',
      'content-encoding': 'gzip',
      'set-cookie': ['a=b'],
      'x-custom': '1',
    };
    const out = notModifiedHeaders(stored);
    expect(Object.keys(out).sort()).toEqual([
      'cache-control',
      'content-location',
      'date',
      'etag',
      'expires',
      'last-modified',
      'vary',
    ]);
    expect(out['vary']).toEqual(['accept', 'origin']);
    expect(out['vary']).not.toBe(stored.vary);
  });
});

describe('update304', () => {
  const stored = {
    'cache-control': 'max-age=1',
    'content-length': '36',
    'content-type': 'text/plain',
    'content-encoding': 'gzip',
    'x-test': ['a', 'b'],
    etag: '"v1"',
    age: '50',
    'set-cookie': ['old=1'],
  };

  it('replaces stored fields with the 304 ones and keeps the rest', () => {
    const out = update304(stored, { 'cache-control': 'max-age=3600', 'x-test': 'c', 'x-new': 'n' });
    expect(out['cache-control']).toBe('max-age=3600');
    expect(out['x-test']).toBe('c');
    expect(out['x-new']).toBe('n');
    expect(out['content-type']).toBe('text/plain');
    expect(out['etag']).toBe('"v1"');
  });

  it('never updates Content-Length, Content-Encoding or Content-Range', () => {
    const out = update304(stored, { 'content-length': '10', 'content-encoding': 'br', 'content-range': 'bytes 0-1/2' });
    expect(out['content-length']).toBe('36');
    expect(out['content-encoding']).toBe('gzip');
    expect(out['content-range']).toBeUndefined();
  });

  it('does not apply hop-by-hop or Connection-listed fields', () => {
    const out = update304(stored, {
      connection: 'x-hop',
      'x-hop': '1',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'x-end': '2',
    });
    expect(out).not.toHaveProperty('connection');
    expect(out).not.toHaveProperty('x-hop');
    expect(out).not.toHaveProperty('keep-alive');
    expect(out).not.toHaveProperty('transfer-encoding');
    expect(out['x-end']).toBe('2');
  });

  it('takes Age from the 304 only', () => {
    expect(update304(stored, {})).not.toHaveProperty('age');
    expect(update304(stored, { age: '3' })['age']).toBe('3');
  });

  it('stores a 304 Set-Cookie only when opted in', () => {
    expect(update304(stored, { 'set-cookie': ['new=2'] })['set-cookie']).toEqual(['old=1']);
    expect(update304(stored, { 'set-cookie': ['new=2'] }, { shareSetCookie: true })['set-cookie']).toEqual(['new=2']);
  });

  it('does not mutate its inputs', () => {
    const copy = structuredClone(stored);
    const fresh = { 'x-test': ['z'] };
    const out = update304(stored, fresh);
    (out['x-test'] as string[]).push('mutated');
    expect(stored).toEqual(copy);
    expect(fresh['x-test']).toEqual(['z']);
  });
});

describe('validatorMatches', () => {
  it('accepts a matching strong ETag and refuses a different one', () => {
    expect(validatorMatches({ etag: '"v1"' }, { etag: '"v1"' })).toBe(true);
    expect(validatorMatches({ etag: '"v1"' }, { etag: '"v2"' })).toBe(false);
  });

  it('needs both sides strong for a strong ETag', () => {
    expect(validatorMatches({ etag: 'W/"v1"' }, { etag: '"v1"' })).toBe(false);
  });

  it('compares a weak ETag weakly', () => {
    expect(validatorMatches({ etag: 'W/"v1"' }, { etag: 'W/"v1"' })).toBe(true);
    expect(validatorMatches({ etag: '"v1"' }, { etag: 'W/"v1"' })).toBe(true);
    expect(validatorMatches({ etag: '"v1"' }, { etag: 'W/"v2"' })).toBe(false);
  });

  it('refuses an ETag when the stored response has none', () => {
    expect(validatorMatches({ 'last-modified': LM }, { etag: '"v1"', 'last-modified': LM })).toBe(false);
  });

  it('falls back to Last-Modified without an ETag', () => {
    expect(validatorMatches({ 'last-modified': LM }, { 'last-modified': LM })).toBe(true);
    expect(validatorMatches({ 'last-modified': LM }, { 'last-modified': formatHttpDate(NOW) })).toBe(false);
    expect(validatorMatches({}, { 'last-modified': LM })).toBe(false);
    expect(validatorMatches({ 'last-modified': 'bad' }, { 'last-modified': 'bad' })).toBe(false);
  });

  it('accepts a 304 without validators', () => {
    expect(validatorMatches({ etag: '"v1"' }, { date: formatHttpDate(NOW) })).toBe(true);
  });
});
