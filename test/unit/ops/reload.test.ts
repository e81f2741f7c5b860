import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/load.js';
import { LiveConfig, needsRestart } from '../../../src/ops/reload.js';

const base = { listen: '127.0.0.1:8080', origin: 'http://127.0.0.1:3000' };

describe('reload', () => {
  it('names the settings that only a restart applies, and nothing for route changes', () => {
    const a = buildConfig(base, {});
    const b = buildConfig({ ...base, listen: '127.0.0.1:8081', routes: [{ name: 'r', match: '/r/**', ttl: '1h' }] }, {});
    expect(needsRestart(a, b)).toEqual(['listen']);
    expect(needsRestart(a, a)).toEqual([]);
  });

  it('swaps the config new requests read, through the same function', () => {
    const a = buildConfig(base, {});
    const b = buildConfig({ ...base, routes: [{ name: 'r', match: '/r/**' }] }, {});
    let reloads = 0;
    const live = new LiveConfig(a, () => reloads++);
    const read = live.get;
    expect(live.reload(b)).toEqual({ needsRestart: [] });
    expect(read()).toBe(b);
    expect(reloads).toBe(1);
  });
});
