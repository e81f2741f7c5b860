/**
 * --workers without Redis: a fill handed over by the primary is stored by every worker, but a
 * notice that arrives late never replaces a response the worker received after it.
 */
import { describe, expect, it } from 'vitest';
import { IpcPeers } from '../../../src/cluster/ipc-peers.js';
import type { Msg } from '../../../src/cluster/messages.js';
import { encode } from '../../../src/cache/codec.js';
import { MemoryStore } from '../../../src/cache/memory-store.js';
import { TieredStore } from '../../../src/cache/tiered-store.js';
import { ManualClock } from '../../../src/clock.js';
import { sampleEntry } from '../cache/entries.js';

function worker(clock: ManualClock) {
  const memory = new MemoryStore({ maxSize: 1 << 30, clock });
  const peers = new IpcPeers(() => undefined);
  const store = new TieredStore(memory, { clock, maxVariants: 4, keepForRevalidation: 0, maxTtl: 3_600_000, urlRuleTtl: 5_000 }, undefined, peers);
  return { store, peers };
}

function entryAt(now: number, responseTime: number) {
  return { ...sampleEntry(), requestTime: responseTime - 5, responseTime, initialAge: 0, lifetime: 600_000, freshUntil: now + 600_000, staleWhileRevalidateUntil: now + 600_000, staleIfErrorUntil: now + 600_000 };
}

const filled = (primary: string, entry: ReturnType<typeof entryAt>): Msg => ({ t: 'filled', key: primary, primary, entry: encode(entry, primary).toString('base64') });

describe('a fill handed to a worker that did not wait for it', () => {
  it('is stored when the worker holds nothing, or something older', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const now = clock.now();
    const { store, peers } = worker(clock);
    peers.receive(filled('h/a', entryAt(now, now - 1_000)));
    expect(store.lookup('h/a', { 'accept-encoding': 'gzip' }).entry?.responseTime).toBe(now - 1_000);
    peers.receive(filled('h/a', entryAt(now, now - 500)));
    expect(store.lookup('h/a', { 'accept-encoding': 'gzip' }).entry?.responseTime).toBe(now - 500);
  });

  it('never replaces a response the worker received after it', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const now = clock.now();
    const { store, peers } = worker(clock);
    await store.store('h/a', entryAt(now, now - 100));
    peers.receive(filled('h/a', entryAt(now, now - 1_000)));
    expect(store.lookup('h/a', { 'accept-encoding': 'gzip' }).entry?.responseTime).toBe(now - 100);
  });
});
