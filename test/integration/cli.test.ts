import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { get } from '../helpers/client.js';

const BIN = join(process.cwd(), 'bin/larder.js');
const dir = mkdtempSync(join(tmpdir(), 'larder-cli-'));

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 10_000 });
}

let origin: Origin | undefined;
let started: ReturnType<typeof spawn> | undefined;
afterEach(async () => {
  // A failed assertion must not leave a larder process behind.
  if (started && started.exitCode === null && started.signalCode === null) started.kill('SIGKILL');
  started = undefined;
  await origin?.close();
  origin = undefined;
});

describe('larder command line', () => {
  it('--check accepts the shipped rules.yaml', () => {
    const r = run(['--check', '--config', 'rules.yaml']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/rules\.yaml: OK \(\d+ routes\)/);
  });

  it('--check lists every problem with file and line, and exits 1', () => {
    const bad = write('bad.yaml', 'listen: 127.0.0.1:8080\norigin: http://127.0.0.1:3000\nroutes:\n  - name: a\n    match: /a/**\n    ttl: 5 minutes\n  - name: b\n    match: /b/**\n    staleIfError: -1s\n');
    const r = run(['--check', '--config', bad]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('LARDER_CONFIG_INVALID');
    expect(r.stderr).toMatch(/bad\.yaml:6:\d+ routes\[0\]\.ttl/);
    expect(r.stderr).toMatch(/bad\.yaml:9:\d+ routes\[1\]\.staleIfError/);
  });

  it('names a missing file', () => {
    const r = run(['--check', '--config', join(dir, 'nope.yaml')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('LARDER_CONFIG_UNREADABLE');
    expect(r.stderr).toContain('nope.yaml');
  });

  it('prints help and version, and rejects unknown flags', () => {
    expect(run(['--help']).stdout).toContain('Usage: larder');
    expect(run(['--version']).stdout).toMatch(/^larder \d+\.\d+\.\d+\n$/);
    const bad = run(['--frobnicate']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('LARDER_USAGE');
  });

  it('starts with LARDER_LISTEN and LARDER_ORIGIN overriding the file, serves, and stops on SIGTERM', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end('through the cli');
    });
    const cfg = write('run.yaml', 'listen: 127.0.0.1:1\norigin: http://127.0.0.1:1\n');
    const child = spawn(process.execPath, [BIN, '--config', cfg], {
      env: { ...process.env, LARDER_LISTEN: '127.0.0.1:0', LARDER_ORIGIN: origin.url },
    });
    started = child;
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /"port":(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const a = await get(`http://127.0.0.1:${port}`, '/x');
    const b = await get(`http://127.0.0.1:${port}`, '/x');
    expect(a.body).toBe('through the cli');
    expect(b.h('x-cache')).toBe('HIT');
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', resolve);
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
  });

  it('warns at start-up when the origin does not answer, with application lines in ISO time and level names', async () => {
    const cfg = write('dead.yaml', 'listen: 127.0.0.1:0\norigin: http://127.0.0.1:1\n');
    const child = spawn(process.execPath, [BIN, '--config', cfg], { env: { ...process.env, LARDER_LOG_LEVEL: 'info' } });
    started = child;
    const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const found = out.split('\n').find((l) => l.includes('does not answer'));
        if (found) resolve(JSON.parse(found) as Record<string, unknown>);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    expect(line).toMatchObject({ level: 'warn', origin: 'http://127.0.0.1:1' });
    expect(line['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(String(line['msg'])).toContain('requests routed to it get 502');
  });
});
