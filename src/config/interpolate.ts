/**
 * `${VAR}` and `${VAR:-default}` in rules.yaml values.
 *
 * Substitution happens on parsed scalar nodes, never on the text, so a variable's value
 * cannot inject YAML structure (a value "x\nroutes: []" stays one string). Keys are never
 * substituted. `$${` writes a literal `${`.
 *
 * An unquoted scalar whose result looks like a YAML number or boolean becomes one, so that
 * `maxVariants: ${MAX_VARIANTS}` works; quote the value to keep it a string.
 */
import { isPair, isScalar, isSeq, visit, type Document } from 'yaml';
import type { KeyPath, ProblemList } from './problems.js';

export type Env = Readonly<Record<string, string | undefined>>;

const REFERENCE = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const NAME_AND_DEFAULT = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/** Replaces references in every scalar value of `doc`, in place; reports undefined variables. */
export function interpolate(doc: Document, env: Env, problems: ProblemList): void {
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const path = keyPathOf(ancestors, node);
      const offset = node.range?.[0];
      const report = (message: string) => problems.add({ path, message, offset });
      let failed = false;
      const result = node.value.replace(REFERENCE, (whole: string, inner: string | undefined) => {
        if (whole === '$${') return '${';
        const parsed = inner === undefined ? null : NAME_AND_DEFAULT.exec(inner);
        if (parsed === null || (parsed[2] ?? '').includes('${')) {
          failed = true;
          report(
            `cannot read the reference ${whole === '${' ? '"${" (no closing "}")' : `"${whole}"`}; ` +
              'write ${NAME} or ${NAME:-default} (no nesting), or $${ for a literal "${"',
          );
          return whole;
        }
        const name = parsed[1] as string;
        const value = env[name];
        if (value !== undefined && (value !== '' || parsed[2] === undefined)) return value;
        if (parsed[2] !== undefined) return parsed[2];
        failed = true;
        report(`environment variable ${name} is not set; set it, or give a default: \${${name}:-value}`);
        return whole;
      });
      if (failed) return;
      node.value = node.type === 'PLAIN' ? retype(result) : result;
    },
  });
}

/** The YAML 1.2 core schema reading of an unquoted result: int, float, bool, else string. */
function retype(text: string): string | number | boolean {
  if (/^[-+]?[0-9]+$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(text)) return Number(text);
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  return text;
}

/** Key path of a node from the visitor's ancestors (Document, then collections and pairs). */
function keyPathOf(ancestors: readonly unknown[], node: unknown): KeyPath {
  const chain = [...ancestors.slice(1), node];
  const path: (string | number)[] = [];
  for (let i = 0; i < chain.length - 1; i++) {
    const current = chain[i];
    if (isSeq(current)) path.push(current.items.indexOf(chain[i + 1]));
    else if (isPair(current)) path.push(isScalar(current.key) ? String(current.key.value) : '?');
  }
  return path;
}
