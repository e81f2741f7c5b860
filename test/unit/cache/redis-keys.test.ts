import { describe, expect, it } from 'vitest';
import { variantKey } from '../../../src/cache/key.js';
import {
  checkPrefix,
  filledChannel,
  indexKey,
  invalidateChannel,
  lockKey,
  redisKey,
  slotTag,
  splitStoreKey,
  variantRedisKey,
} from '../../../src/cache/redis-keys.js';

/** The part of a key Redis Cluster hashes (CLUSTER KEYSLOT rules). */
function hashedPart(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

describe('redis keys', () => {
  const primary = 'example.com/a/b?x=1';
  const id = 'AbCdEfGhIjKlMnOpQrStUv';

  it('splits store keys at the variant separator', () => {
    expect(splitStoreKey(primary)).toEqual({ primary, variantId: undefined });
    expect(splitStoreKey(variantKey(primary, id))).toEqual({ primary, variantId: id });
  });

  it('maps primary and variant keys to the documented layout', () => {
    const tag = slotTag(primary);
    expect(tag).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(redisKey('larder:', primary)).toBe(`larder:{${tag}}:i`);
    expect(redisKey('larder:', variantKey(primary, id))).toBe(`larder:{${tag}}:v:${id}`);
    expect(indexKey('larder:', primary)).toBe(redisKey('larder:', primary));
    expect(variantRedisKey('larder:', primary, id)).toBe(redisKey('larder:', variantKey(primary, id)));
    expect(lockKey('larder:', primary)).toBe(`larder:{${tag}}:lock:i`);
    expect(lockKey('larder:', variantKey(primary, id))).toBe(`larder:{${tag}}:lock:${id}`);
  });

  it('puts an entry, its variants and their locks in one hash slot', () => {
    const keys = [
      redisKey('p:', primary),
      redisKey('p:', variantKey(primary, id)),
      redisKey('p:', variantKey(primary, 'other')),
      lockKey('p:', primary),
      lockKey('p:', variantKey(primary, id)),
    ];
    expect(new Set(keys.map(hashedPart)).size).toBe(1);
  });

  it('keeps braces in the primary from changing the hashed part', () => {
    const odd = 'example.com/{x}/}{?q={}';
    expect(hashedPart(redisKey('p:', odd))).toBe(slotTag(odd));
    expect(hashedPart(redisKey('p:', variantKey(odd, id)))).toBe(slotTag(odd));
  });

  it('gives different primaries different tags', () => {
    const tags = new Set(Array.from({ length: 1000 }, (_, i) => slotTag(`h/${i}`)));
    expect(tags.size).toBe(1000);
  });

  it('names the channels after the prefix', () => {
    expect(invalidateChannel('larder:')).toBe('larder:invalidate');
    expect(filledChannel('larder:')).toBe('larder:filled');
  });

  it('refuses prefixes with braces', () => {
    expect(() => checkPrefix('a{b}:')).toThrow(/must not contain/);
    expect(() => checkPrefix('larder:')).not.toThrow();
    expect(() => checkPrefix('')).not.toThrow();
  });
});
