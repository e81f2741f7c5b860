/**
 * The JSON Schema that editors use for rules.yaml (schema/rules.schema.json), generated from
 * the TypeBox schema so that it cannot disagree with validation.
 *
 * One deliberate difference: any scalar may also be a string holding a ${VAR} reference,
 * which larder substitutes before validating; without this an editor would flag
 * `origin: ${ORIGIN}` that larder accepts.
 */
import { RulesSchema } from './schema.js';

type Json = Record<string, unknown>;

const REFERENCE: Json = { $ref: '#/definitions/envReference' };
const DEFINITIONS: Json = {
  envReference: {
    type: 'string',
    pattern: '\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}',
    description: 'An environment variable reference, ${NAME} or ${NAME:-default}, substituted at load.',
  },
};

/** Keywords that describe a value rather than constrain it: they stay on the outside. */
const ANNOTATIONS = ['title', 'description', 'default', 'examples'];

export function rulesJsonSchema(): Json {
  const plain = JSON.parse(JSON.stringify(RulesSchema)) as Json;
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...allowReferences(plain), definitions: DEFINITIONS };
}

/** The exact text of schema/rules.schema.json. */
export function renderRulesJsonSchema(): string {
  return `${JSON.stringify(rulesJsonSchema(), null, 2)}\n`;
}

function allowReferences(node: Json): Json {
  if (node['type'] === 'object') {
    const properties = (node['properties'] ?? {}) as Record<string, Json>;
    for (const key of Object.keys(properties)) properties[key] = allowReferences(properties[key] as Json);
    return node;
  }
  if (node['type'] === 'array') {
    if (node['items']) node['items'] = allowReferences(node['items'] as Json);
    return node;
  }
  const variants = node['anyOf'] as Json[] | undefined;
  if (variants?.some((v) => v['type'] === 'object' || v['type'] === 'array')) {
    node['anyOf'] = [...variants.map(allowReferences), REFERENCE];
    return node;
  }
  // A scalar: keep its annotations outside, where editors show them on hover.
  const outer: Json = {};
  const inner: Json = {};
  for (const [key, value] of Object.entries(node)) (ANNOTATIONS.includes(key) ? outer : inner)[key] = value;
  return { ...outer, anyOf: [inner, REFERENCE] };
}
