import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderRulesJsonSchema, rulesJsonSchema } from '../../../src/config/json-schema.js';

const repo = resolve(import.meta.dirname, '../../..');

describe('schema/rules.schema.json', () => {
  it('is what the TypeBox schema produces (run: npm run build && npm run schema)', () => {
    const committed = readFileSync(resolve(repo, 'schema/rules.schema.json'), 'utf8');
    expect(committed).toBe(renderRulesJsonSchema());
  });

  it('is the schema rules.yaml points editors at', () => {
    const firstLine = readFileSync(resolve(repo, 'rules.yaml'), 'utf8').split('\n')[0];
    expect(firstLine).toBe('# yaml-language-server: $schema=./schema/rules.schema.json');
  });

  it('documents every option with a description', () => {
    const missing: string[] = [];
    const walk = (node: Record<string, unknown>, path: string) => {
      const properties = node['properties'] as Record<string, Record<string, unknown>> | undefined;
      for (const [key, child] of Object.entries(properties ?? {})) {
        if (typeof child['description'] !== 'string') missing.push(`${path}.${key}`);
        walk(child, `${path}.${key}`);
        const items = child['items'] as Record<string, unknown> | undefined;
        if (items) walk(items, `${path}.${key}[]`);
        for (const variant of (child['anyOf'] as Record<string, unknown>[] | undefined) ?? []) walk(variant, `${path}.${key}`);
      }
    };
    walk(rulesJsonSchema(), '');
    expect(missing).toEqual([]);
  });
});
