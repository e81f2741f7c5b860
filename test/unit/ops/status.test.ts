import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { BUCKET_MS, BUCKETS, MAX_KEYS, StatusCollector, WINDOW_MS, mergeSnapshots } from '../../../src/ops/status.js';
import type { Outcome } from '../../../src/http/handler.js';

const o = (route: string, result: Outcome['result'], extra: Partial<Outcome> = {}): Outcome => ({ route, result, status: 200, ms: 1, method: 'GET', ...extra });

function collector(clock = new ManualClock(Date.UTC(2026, 0, 1, 0, 0, 0))) {
  const c = new StatusCollector({
    now: () => clock.now(),
    memory: () => ({ bytes: 100, entries: 2, maxSize: 1000 }),
    evictions: () => 3,
    redactQuery: () => ['token'],
  });
  return { c, clock };
}

describe('StatusCollector', () => {
  it('counts requests, hits, bytes and origin requests saved, overall and per route', () => {
    const { c } = collector();
    c.record(o('a', 'MISS'), 'h', '/1', 500);
    c.record(o('a', 'HIT', { tier: 'memory' }), 'h', '/1', 400);
    c.record(o('a', 'HIT', { tier: 'memory' }), 'h', '/1', 400);
    c.record(o('b', 'MISS', { collapsed: true }), 'h', '/2', 300);
    c.record(o('b', 'BYPASS', { reason: 'private' }), 'h', '/3?token=abc', 200);
    const s = c.snapshot();
    expect(s.totals).toMatchObject({ requests: 5, hits: 2, collapsed: 1, bytesCache: 800, bytesFetched: 1000, originSaved: 3 });
    expect(s.totals.routes['a']).toEqual({ requests: 3, hits: 2, collapsed: 0, bytesCache: 800, bytesFetched: 500 });
    expect(s.totals.routes['b']).toMatchObject({ requests: 2, hits: 0, collapsed: 1 });
    expect(s.window.keys[0]).toEqual({ key: 'h/1', requests: 3, misses: 1 });
    expect(s.window.keys.map((k) => k.key)).toContain('h/3?token=REDACTED');
    expect(s.window.missReasons).toEqual([
      { reason: 'uri-miss', count: 2 },
      { reason: 'private', count: 1 },
    ]);
    expect(s.memory).toEqual({ bytes: 100, entries: 2, maxSize: 1000, evictions: 3 });
    expect(s.redis).toEqual({ configured: false });
    expect(s.upstreams).toEqual([]);
  });

  it('keeps 15 minutes of buckets, zeros where nothing happened', () => {
    const { c, clock } = collector();
    c.record(o('a', 'HIT'), 'h', '/', 1);
    clock.advance(BUCKET_MS * 3);
    c.record(o('a', 'MISS'), 'h', '/', 1);
    c.record(o('a', 'MISS'), 'h', '/', 1);
    let s = c.snapshot();
    expect(s.series.map((b) => b.requests)).toEqual([1, 0, 0, 2]);
    expect(s.series[3]?.routes['a']).toMatchObject({ requests: 2, hits: 0 });
    clock.advance(BUCKET_MS * (BUCKETS + 5));
    c.record(o('a', 'HIT'), 'h', '/', 1);
    s = c.snapshot();
    expect(s.series).toHaveLength(BUCKETS);
    expect(s.series.reduce((n, b) => n + b.requests, 0)).toBe(1);
    expect(s.totals.requests).toBe(4);
  });

  it('forgets keys and reasons older than two windows, and bounds the key table', () => {
    const { c, clock } = collector();
    for (let i = 0; i < MAX_KEYS * 3; i++) c.record(o('a', 'MISS'), 'h', `/k${i}`, 1);
    for (let i = 0; i < 50; i++) c.record(o('a', 'HIT'), 'h', '/hot', 1);
    const s = c.snapshot();
    expect(s.window.keys[0]).toEqual({ key: 'h/hot', requests: 50, misses: 0 });
    expect((c as unknown as { keys: { size: number } }).keys.size).toBeLessThanOrEqual(MAX_KEYS);
    clock.advance(WINDOW_MS);
    c.record(o('a', 'HIT'), 'h', '/new', 1);
    expect(c.snapshot().window.keys[0]?.key).toBe('h/hot');
    clock.advance(WINDOW_MS);
    c.record(o('a', 'HIT'), 'h', '/newer', 1);
    expect(c.snapshot().window.keys.map((k) => k.key)).toEqual(['h/new', 'h/newer']);
    expect(c.snapshot().window.missReasons).toEqual([]);
  });

  it('counts keys per host and URL, and bounds the table across hosts', () => {
    const { c } = collector();
    c.record(o('a', 'HIT'), 'a.example', '/x', 1);
    c.record(o('a', 'MISS'), 'b.example', '/x', 1);
    c.record(o('a', 'HIT'), 'a.example', '/x', 1);
    expect(c.snapshot().window.keys).toEqual([
      { key: 'a.example/x', requests: 2, misses: 0 },
      { key: 'b.example/x', requests: 1, misses: 1 },
    ]);
    for (let i = 0; i < 50; i++) c.record(o('a', 'HIT'), 'a.example', '/x', 1);
    for (let i = 0; i < MAX_KEYS * 2; i++) c.record(o('a', 'MISS'), `h${i % 7}`, `/k${i}`, 1);
    const keys = (c as unknown as { keys: { size: number; hosts: Map<string, Map<string, unknown>> } }).keys;
    const held = [...keys.hosts.values()].reduce((n, urls) => n + urls.size, 0);
    expect(keys.size).toBe(held);
    expect(held).toBeLessThanOrEqual(MAX_KEYS);
    expect([...keys.hosts.values()].every((urls) => urls.size > 0)).toBe(true);
    expect(c.snapshot().window.keys[0]?.key).toBe('a.example/x');
  });

  it('remembers the last purges and reloads', () => {
    const { c } = collector();
    for (let i = 0; i < 12; i++) c.event('purge', 'ok', `p${i}`);
    c.event('reload', 'error', 'bad yaml');
    const e = c.snapshot().events;
    expect(e).toHaveLength(10);
    expect(e.at(-1)).toMatchObject({ kind: 'reload', result: 'error', detail: 'bad yaml' });
  });

  it('merges workers: counts add up bucket by bucket, the same reload shows once', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const a = collector(clock).c;
    const b = collector(clock).c;
    a.record(o('r', 'HIT'), 'h', '/x', 10);
    b.record(o('r', 'MISS'), 'h', '/x', 20);
    b.record(o('r', 'HIT'), 'h', '/x', 10);
    a.event('reload', 'ok', '1 routes');
    b.event('reload', 'ok', '1 routes');
    const m = mergeSnapshots([a.snapshot(), b.snapshot()], clock.now())!;
    expect(m.workers).toBe(2);
    expect(m.totals).toMatchObject({ requests: 3, hits: 2, bytesCache: 20, bytesFetched: 20 });
    expect(m.series.at(-1)).toMatchObject({ requests: 3, hits: 2 });
    expect(m.window.keys).toEqual([{ key: 'h/x', requests: 3, misses: 1 }]);
    expect(m.events).toHaveLength(1);
    expect(m.memory.entries).toBe(4);
  });

  it('merges workers: a server is up while any worker sends it traffic, with requests in flight summed', () => {
    const snap = (up: boolean, inFlight: number) => ({
      ...collector().c.snapshot(),
      upstreams: [{ name: 'api', servers: [{ url: 'http://a', up: true, inFlight }, { url: 'http://b', up, inFlight: 0 }] }],
    });
    const m = mergeSnapshots([snap(false, 1), snap(true, 2)], Date.UTC(2026, 0, 1))!;
    expect(m.upstreams).toEqual([{ name: 'api', servers: [{ url: 'http://a', up: true, inFlight: 3 }, { url: 'http://b', up: true, inFlight: 0 }] }]);
    expect(mergeSnapshots([snap(false, 0), snap(false, 0)], Date.UTC(2026, 0, 1))!.upstreams[0]!.servers[1]!.up).toBe(false);
  });
});
