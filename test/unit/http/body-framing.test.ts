import { describe, expect, it } from 'vitest';
import { RequestFramingScanner, type Violation } from '../../../src/http/body-framing.js';

const LIMIT = 1024 * 1024;
const H = 'Host: a\r\n';

/** Feeds `text` whole, then again one byte at a time and in 7-byte pieces: the verdict must not depend on the reads. */
function scan(text: string, limit = LIMIT): { whole: Violation | undefined; active: boolean } {
  const bytes = Buffer.from(text, 'latin1');
  const verdicts: Array<Violation['kind'] | undefined> = [];
  let whole: Violation | undefined;
  let active = true;
  for (const step of [bytes.length || 1, 1, 7]) {
    const s = new RequestFramingScanner(limit, 16 * 1024);
    let v: Violation | undefined;
    for (let i = 0; i < bytes.length && v === undefined; i += step) v = s.feed(bytes.subarray(i, i + step));
    verdicts.push(v?.kind);
    if (step === (bytes.length || 1)) {
      whole = v;
      active = s.active;
    }
  }
  expect(new Set(verdicts).size).toBe(1);
  return { whole, active };
}

describe('RequestFramingScanner', () => {
  it('follows well-formed requests without a verdict: Content-Length, chunked with extensions and trailers, pipelined', () => {
    const text =
      `GET /a HTTP/1.1\r\n${H}\r\n` +
      `POST /b HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello` +
      `POST /c HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0000000010\r\n${'x'.repeat(16)}\r\n0\r\nX-Sum: 1\r\n\r\n` +
      `\r\nGET /d HTTP/1.1\r\n${H}\r\n`;
    expect(scan(text)).toEqual({ whole: undefined, active: true });
  });

  it.each(['FFFFFFFFFFFFFFED', 'FFFFFFFFFFFFFFFF', 'fffffffffffffff0', '10000000000000000000', '100001'])('refuses the chunk size %s (over 1mb) with 400', (size) => {
    const text = `POST /c HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n${size}\r\n`;
    expect(scan(text).whole).toEqual({ kind: 'chunk-size', status: 400 });
    // Refused with the digit that crosses the limit, before the end of the size line.
    expect(scan(text.slice(0, text.length - 2)).whole).toEqual({ kind: 'chunk-size', status: 400 });
  });

  it('accepts a chunk of exactly the limit; refuses chunks adding up to more with 413', () => {
    const ok = `POST /c HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n400\r\n${'x'.repeat(1024)}\r\n0\r\n\r\n`;
    expect(scan(ok, 1024).whole).toBeUndefined();
    const over = `POST /c HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n200\r\n${'x'.repeat(512)}\r\n201\r\n`;
    expect(scan(over, 1024).whole).toEqual({ kind: 'body-size', status: 413 });
    // The total starts again with each request.
    const two = ok + ok;
    expect(scan(two, 1024).whole).toBeUndefined();
  });

  it('does not read chunk sizes in a Content-Length body', () => {
    const text = `POST /b HTTP/1.1\r\n${H}Content-Length: 20\r\n\r\nFFFFFFFFFFFFFFFF\r\n\r\nGET /x HTTP/1.1\r\n${H}\r\n`;
    expect(scan(text)).toEqual({ whole: undefined, active: true });
  });

  it('stops watching after an upgrade or CONNECT, and on framing node refuses itself', () => {
    expect(scan(`GET /ws HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\nFFFFFFFFFFFFFFFF\r\n`).active).toBe(false);
    expect(scan(`CONNECT a:443 HTTP/1.1\r\n${H}\r\n`).active).toBe(false);
    expect(scan(`POST /c HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n`).active).toBe(false);
    expect(scan(`POST /c HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\nFFFFFFFFFFFFFFFF\r\n`).active).toBe(false);
    // An Upgrade field without Connection: upgrade is an ordinary request: still watched.
    const plain = scan(`POST /c HTTP/1.1\r\n${H}Upgrade: websocket\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n`);
    expect(plain.whole).toEqual({ kind: 'chunk-size', status: 400 });
  });
});
