import { expect } from 'vitest';
import { ErrorCodes, LarderError } from '../../../src/errors.js';
import { buildConfig, parseConfig } from '../../../src/config/load.js';
import type { Env } from '../../../src/config/load.js';

/** The `details` of the CONFIG_INVALID error that parsing `text` (as rules.yaml) must throw. */
export function problemsOf(text: string, env: Env = {}): string[] {
  return caught(() => parseConfig(text, { file: 'rules.yaml', env }));
}

/** The `details` of the CONFIG_INVALID error that buildConfig must throw. */
export function buildProblems(partial: object, env: Env = {}): string[] {
  return caught(() => buildConfig(partial, env));
}

function caught(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(LarderError);
    expect((error as LarderError).code).toBe(ErrorCodes.CONFIG_INVALID);
    return (error as LarderError).details;
  }
  throw new Error('expected the configuration to be rejected');
}

/** Joins lines, so that tests read like the file they describe. */
export const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;
