/**
 * Access lines are batched before they reach stdout: they must still come out whole, in order
 * with the application's own lines, without an explicit flush, and all of them on flush().
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log.js';

function tempFile(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'larder-log-')), 'out.log');
}

async function until(check: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const read = (file: string): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

describe('access line batching', () => {
  it('keeps access lines in order with application lines', async () => {
    const file = tempFile();
    const log = createLogger('info', file);
    await new Promise((r) => setTimeout(r, 50)); // the file is opened asynchronously
    log.line('{"type":"access","n":1}');
    log.line('{"type":"access","n":2}');
    log.info('between');
    log.line('{"type":"access","n":3}');
    log.flush();
    const lines = read(file);
    expect(lines.map((l) => JSON.parse(l) as { n?: number; msg?: string }).map((o) => o.n ?? o.msg)).toEqual([1, 2, 'between', 3]);
  });

  it('writes queued lines by itself soon after, without a flush', async () => {
    const file = tempFile();
    const log = createLogger('info', file);
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 10; i++) log.line(`{"n":${i}}`);
    expect(read(file)).toEqual([]);
    await until(() => read(file).length === 10);
    expect(read(file).map((l) => (JSON.parse(l) as { n: number }).n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('writes a full batch at once, whole lines only', async () => {
    const file = tempFile();
    const log = createLogger('info', file);
    await new Promise((r) => setTimeout(r, 50));
    const line = `{"pad":"${'x'.repeat(500)}"}`;
    for (let i = 0; i < 200; i++) log.line(line); // ~100 KB: past the batch size
    await until(() => read(file).length >= 100, 1_000);
    log.flush();
    const lines = read(file);
    expect(lines).toHaveLength(200);
    expect(new Set(lines)).toEqual(new Set([line]));
  });
});
