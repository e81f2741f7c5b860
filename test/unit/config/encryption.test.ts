import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';

const HEX = 'a'.repeat(64);
const B64 = Buffer.alloc(32, 7).toString('base64');

function rules(keys: string): string {
  return ['origin: http://127.0.0.1:3000', 'cache:', '  redis:', '    url: redis://127.0.0.1:6379', '    encryption:', '      keys:', keys].join('\n');
}

describe('cache.redis.encryption', () => {
  it('takes 64 hex digits or 44 base64 characters, from the environment, first key first', () => {
    const c = parseConfig(rules('        - { id: k2, key: "${LARDER_KEY_K2}" }\n        - { id: k1, key: "${LARDER_KEY_K1}" }'), {
      env: { LARDER_KEY_K2: B64, LARDER_KEY_K1: HEX },
    });
    expect(c.cache.redis?.encryption?.keys.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(c.cache.redis?.encryption?.keys[0]!.key).toBe(Buffer.alloc(32, 7).toString('hex'));
    expect(c.cache.redis?.encryption?.keys[1]!.key).toBe(HEX);
  });

  it('rejects a key of any other shape with file:line:col, and never shows the key', () => {
    const secret = 'not-a-key-but-secret-31-bytes-long-0123';
    for (const bad of [secret, 'a'.repeat(63), Buffer.alloc(31).toString('base64'), Buffer.alloc(33).toString('base64')]) {
      let message = '';
      try {
        parseConfig(rules(`        - { id: k1, key: "${bad}" }`), { file: 'rules.yaml', env: {} });
      } catch (err) {
        message = String((err as { details?: unknown }).details ?? '') + String(err);
      }
      expect(message).toMatch(/rules\.yaml:7:\d+ cache\.redis\.encryption\.keys\[0\]\.key/);
      expect(message).toMatch(/32 bytes written as 64 hex digits or 44 base64 characters/);
      expect(message).not.toContain(bad);
    }
  });

  it('rejects an id listed twice', () => {
    expect(() => parseConfig(rules(`        - { id: k1, key: "${HEX}" }\n        - { id: k1, key: "${B64}" }`), { file: 'rules.yaml', env: {} })).toThrow(
      /rules\.yaml:8:\d+ cache\.redis\.encryption\.keys\[1\]\.id: key id "k1" is listed twice/,
    );
  });
});
