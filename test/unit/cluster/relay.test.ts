import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { Relay, type WorkerLink } from '../../../src/cluster/relay.js';
import type { Msg } from '../../../src/cluster/messages.js';
import type { PurgeRule } from '../../../src/cache/purge-rules.js';

/** A worker that records what the primary sent it. */
class Link implements WorkerLink {
  readonly got: Msg[] = [];
  connected = true;
  constructor(readonly id: number) {}
  isConnected(): boolean {
    return this.connected;
  }
  send(m: Msg): void {
    this.got.push(m);
  }
}

function setup(n: number) {
  const clock = new ManualClock();
  const links = Array.from({ length: n }, (_, i) => new Link(i + 1));
  const relay = new Relay({ live: () => links.filter((l) => l.connected), byId: (id) => links[id - 1], clock });
  return { clock, links, relay };
}

describe('the cluster primary relay', () => {
  it('grants a fill lock to one worker and tells the next it is held, for how long', () => {
    const { clock, links: [a, b], relay } = setup(2);
    relay.receive(a!, { t: 'lock', id: 1, key: 'k', owner: 'a1', ttl: 5_000 });
    clock.advance(1_000);
    relay.receive(b!, { t: 'lock', id: 7, key: 'k', owner: 'b1', ttl: 5_000 });
    expect(a!.got).toEqual([{ t: 'lock-reply', id: 1, result: 'acquired' }]);
    expect(b!.got).toEqual([{ t: 'lock-reply', id: 7, result: 'held', heldFor: 4_000 }]);
  });

  it('sends the filled entry to every other worker once, those that waited and those that did not, never back to the filler', () => {
    const { links: [a, b, c], relay } = setup(3);
    relay.receive(a!, { t: 'lock', id: 1, key: 'k', owner: 'a1', ttl: 5_000 });
    relay.receive(b!, { t: 'lock', id: 2, key: 'k', owner: 'b1', ttl: 5_000 });
    const filled: Msg = { t: 'filled', key: 'k', primary: 'p', entry: 'e' };
    relay.receive(a!, filled);
    expect(b!.got.filter((m) => m.t === 'filled')).toEqual([filled]);
    expect(c!.got).toEqual([filled]);
    expect(a!.got.filter((m) => m.t === 'filled')).toEqual([]);
  });

  it('skips a disconnected worker', () => {
    const { links: [a, b, c], relay } = setup(3);
    c!.connected = false;
    relay.receive(a!, { t: 'filled', key: 'k', primary: 'p', entry: 'e' });
    expect(b!.got).toHaveLength(1);
    expect(c!.got).toEqual([]);
  });

  it('lets the lock go when its holder unlocks, its lease lapses, or its process exits', () => {
    const { clock, links: [a, b], relay } = setup(2);
    const lock = (w: Link, owner: string) => relay.receive(w, { t: 'lock', id: 1, key: 'k', owner, ttl: 5_000 });
    lock(a!, 'a1');
    relay.receive(a!, { t: 'unlock', key: 'k', owner: 'a1' });
    lock(b!, 'b1');
    expect(b!.got.at(-1)).toMatchObject({ result: 'acquired' });
    clock.advance(5_001);
    lock(a!, 'a2');
    expect(a!.got.at(-1)).toMatchObject({ result: 'acquired' });
    relay.exited(a!.id);
    lock(b!, 'b2');
    expect(b!.got.at(-1)).toMatchObject({ result: 'acquired' });
  });

  it('relays invalidations and rules to the other workers, and hands rules to a worker that starts later', () => {
    const { clock, links: [a, b], relay } = setup(2);
    const rule: PurgeRule = { kind: 'prefix', value: '/a/', at: clock.now(), soft: false, until: clock.now() + 60_000 };
    relay.receive(a!, { t: 'invalidate', primary: 'p' });
    relay.receive(a!, { t: 'rule', rules: [rule] });
    expect(a!.got).toEqual([]);
    expect(b!.got).toEqual([{ t: 'invalidate', primary: 'p' }, { t: 'rule', rules: [rule] }]);
    relay.receive(b!, { t: 'listening' });
    expect(b!.got.at(-1)).toEqual({ t: 'rules', rules: [rule] });
  });

  it('carries an ask to a worker and its answer back', async () => {
    const { links: [a], relay } = setup(1);
    const answer = relay.ask(a!, 'ready');
    const sent = a!.got[0] as Extract<Msg, { t: 'ask' }>;
    expect(sent).toMatchObject({ t: 'ask', what: 'ready' });
    relay.receive(a!, { t: 'answer', id: sent.id, body: { ready: true } });
    await expect(answer).resolves.toEqual({ ready: true });
  });
});
