import { afterEach, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { startLarder, type Running } from '../helpers/larder.js';
import { get } from '../helpers/client.js';

let origin: Origin;
let proxy: Running;

afterEach(async () => {
  await proxy?.close();
  await origin?.close();
});

describe('coalescing', () => {
  it('sends 500 concurrent GETs for a cold key to the origin once', async () => {
    origin = await startOrigin((_req, res) => {
      setTimeout(() => {
        res.setHeader('cache-control', 'max-age=60');
        res.end('shared');
      }, 200);
    });
    proxy = await startLarder(origin.url);
    const replies = await Promise.all(Array.from({ length: 500 }, () => get(proxy.url, '/cold')));
    expect(replies.every((r) => r.status === 200 && r.body === 'shared')).toBe(true);
    expect(origin.count('/cold')).toBe(1);
    const collapsed = replies.filter((r) => r.h('cache-status').includes('collapsed')).length;
    expect(collapsed).toBeGreaterThan(0);
  });

  it('never hands a private response to a coalesced follower', async () => {
    origin = await startOrigin((_req, res, n) => {
      setTimeout(() => {
        res.setHeader('cache-control', 'private, max-age=60');
        res.end(`user-${n}`);
      }, 100);
    });
    proxy = await startLarder(origin.url);
    const replies = await Promise.all(Array.from({ length: 20 }, () => get(proxy.url, '/account')));
    const bodies = replies.map((r) => r.body);
    expect(new Set(bodies).size).toBe(20);
    expect(replies.some((r) => r.h('x-cache') === 'HIT')).toBe(false);
    expect(origin.count()).toBe(20);
  });

  it('lets requests for a key that answered uncacheable skip the queue (hit-for-pass)', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let gate = false;
    const held: Array<() => void> = [];
    // After the first request, the origin holds every answer until ten are in flight at once
    // (or 3 s pass): only requests that do not queue behind one another can get there.
    origin = await startOrigin((_req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const answer = (): void => {
        inFlight--;
        res.setHeader('cache-control', 'no-store');
        res.end('dynamic');
      };
      if (!gate) return answer();
      held.push(answer);
      if (inFlight === 10) for (const a of held.splice(0)) a();
      else setTimeout(() => held.includes(answer) && held.splice(held.indexOf(answer), 1) && answer(), 3_000);
    });
    proxy = await startLarder(origin.url);
    await get(proxy.url, '/dyn');
    gate = true;
    const replies = await Promise.all(Array.from({ length: 10 }, () => get(proxy.url, '/dyn')));
    expect(replies.every((r) => r.body === 'dynamic')).toBe(true);
    // Without hit-for-pass they would wait for one another: one leader, then nine refetches.
    expect(maxInFlight).toBe(10);
  });

  it('completes the fill for followers when the leader\'s client goes away', async () => {
    origin = await startOrigin((_req, res) => {
      setTimeout(() => {
        res.setHeader('cache-control', 'max-age=60');
        res.end('filled');
      }, 200);
    });
    proxy = await startLarder(origin.url);
    const ac = new AbortController();
    const { request } = await import('undici');
    const leader = request(proxy.url + '/leave', { signal: ac.signal }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    const follower = get(proxy.url, '/leave');
    ac.abort();
    await leader;
    const f = await follower;
    expect([f.status, f.body]).toEqual([200, 'filled']);
    const hit = await get(proxy.url, '/leave');
    expect(hit.h('x-cache')).toBe('HIT');
    expect(origin.count()).toBe(1);
  });
});
