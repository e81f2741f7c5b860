import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOGUE, ErrorCodes, LarderError, type ErrorCode } from '../../src/errors.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CODES = Object.keys(CATALOGUE) as ErrorCode[];

/** Environment variable names: they start like codes and are not codes. */
const ENV_VARS = new Set(['LARDER_LISTEN', 'LARDER_ORIGIN', 'LARDER_LOG_LEVEL', 'LARDER_ADMIN_TOKEN']);

/** Files that still spell a code out, with the codes they spell: each entry must still be true. */
const SPELLED_OUT: Record<string, string[]> = {};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every 'LARDER_…' string literal (quoted or a template) in src/ outside errors.ts, by file. */
function literals(): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  for (const file of sources(join(ROOT, 'src'))) {
    const name = relative(ROOT, file).split('\\').join('/');
    if (name === 'src/errors.ts') continue;
    for (const m of readFileSync(file, 'utf8').matchAll(/['"`](LARDER_[A-Z0-9_]*)/g)) {
      if (!ENV_VARS.has(m[1]!)) (found[name] ??= []).push(m[1]!);
    }
  }
  return found;
}

describe('the error catalogue', () => {
  it('names every code LARDER_…, with a status larder can answer with (or none) and a message', () => {
    for (const code of CODES) {
      const spec = CATALOGUE[code];
      expect(code, code).toMatch(/^LARDER_[A-Z][A-Z0-9_]*$/);
      expect(ENV_VARS.has(code), code).toBe(false);
      if (spec.status !== null) expect(spec.status >= 400 && spec.status <= 599, code).toBe(true);
      expect(spec.message.length, code).toBeGreaterThan(0);
    }
  });

  it('gives each code a short name in ErrorCodes', () => {
    expect(Object.values(ErrorCodes).sort()).toEqual([...CODES].sort());
    expect(ErrorCodes.ORIGIN_TIMEOUT).toBe('LARDER_ORIGIN_TIMEOUT');
    expect(ErrorCodes.PURGE_RULES_FULL).toBe('LARDER_PURGE_RULES_FULL');
  });

  it('builds a LarderError from the catalogue: its status and default message, unless given', () => {
    const e = new LarderError(ErrorCodes.NOT_CACHED);
    expect([e.code, e.status, e.message, e.close, e.name]).toEqual(['LARDER_NOT_CACHED', 504, CATALOGUE.LARDER_NOT_CACHED.message, false, 'LarderError']);
    const f = new LarderError(ErrorCodes.BAD_REQUEST, 'only HTTP/1.0 and HTTP/1.1 are supported', { status: 505, close: true });
    expect([f.status, f.message, f.close]).toEqual([505, 'only HTTP/1.0 and HTTP/1.1 are supported', true]);
    // Codes that are never an HTTP answer still have a status, should one reach a listener.
    expect(new LarderError(ErrorCodes.CONFIG_INVALID).status).toBe(500);
  });

  it('is documented: docs/errors.md lists every code, and no code the catalogue does not have', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
    const listed = new Set([...doc.matchAll(/^\| `(LARDER_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!));
    expect(CODES.filter((c) => !listed.has(c)), 'codes missing from docs/errors.md').toEqual([]);
    const mentioned = new Set([...doc.matchAll(/LARDER_[A-Z0-9_]*[A-Z0-9]/g)].map((m) => m[0]));
    expect([...mentioned].filter((c) => !(c in CATALOGUE) && !ENV_VARS.has(c)), 'unknown codes in docs/errors.md').toEqual([]);
  });

  it('is the only place a code is spelled out in src/ (env var names aside)', () => {
    expect(literals()).toEqual(SPELLED_OUT);
  });
});
