#!/usr/bin/env node
// Writes schema/rules.schema.json from the compiled TypeBox schema (build first: npm run build).
// `--check` only compares, and exits 1 when the committed file is stale (for CI).
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'schema', 'rules.schema.json');

let renderRulesJsonSchema;
try {
  ({ renderRulesJsonSchema } = await import('../dist/config/json-schema.js'));
} catch (error) {
  console.error(`cannot load dist/config/json-schema.js (${error.message}); run "npx tsc -p tsconfig.build.json" first`);
  process.exit(2);
}

const text = renderRulesJsonSchema();
if (process.argv.includes('--check')) {
  const current = await readFile(target, 'utf8').catch(() => '');
  if (current !== text) {
    console.error('schema/rules.schema.json is out of date; run: npm run build && npm run schema');
    process.exit(1);
  }
  console.log('schema/rules.schema.json is up to date');
} else {
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, text);
  console.log(`wrote ${target}`);
}
