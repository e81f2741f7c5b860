import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How to get the browser the status page test needs. */
export const INSTALL_BROWSER =
  'the status page test needs Chromium: apt-get install -y chromium (Debian/Ubuntu), brew install --cask chromium (macOS), ' +
  'or set CHROMIUM=/path/to/chrome; LARDER_SKIP_BROWSER=1 skips the test';

/** The Chromium (or Chrome) binary: $CHROMIUM, or the first of the usual names on PATH. */
export function findChromium(): string | undefined {
  const env = process.env['CHROMIUM'];
  if (env) return env;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/**
 * Loads `url` in headless Chromium, lets its scripts run for `budget` ms of virtual time
 * (fetches included), and returns the DOM as it then is.
 */
export function renderedDom(chromium: string, url: string, budget = 4_000): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'larder-chromium-'));
  const args = [
    '--headless',
    '--disable-gpu',
    '--no-sandbox', // CI runs as root, where Chromium's sandbox cannot start
    '--no-first-run',
    '--disable-extensions',
    `--user-data-dir=${profile}`,
    `--virtual-time-budget=${budget}`,
    '--dump-dom',
    url,
  ];
  return new Promise((resolve, reject) => {
    execFile(chromium, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      rmSync(profile, { recursive: true, force: true });
      if (err) reject(new Error(`${chromium} failed: ${err.message}\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

/** The text inside the element with this id (tags stripped, entities decoded). */
export function textOf(dom: string, id: string): string {
  const m = new RegExp(`<(\\w+)[^>]*\\bid="${id}"[^>]*>([\\s\\S]*?)</\\1>`).exec(dom);
  if (m === null) throw new Error(`no element #${id} in the rendered page`);
  return decode((m[2] as string).replace(/<[^>]*>/g, ''));
}

export function decode(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&nbsp;/g, ' ').replace(/&amp;/g, '&');
}
