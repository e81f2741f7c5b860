/**
 * Follows the request stream of a client connection that sent a chunked body, alongside node's
 * parser (http/server.ts starts it at that request), to see what that parser keeps to itself: the size each chunk of a chunked request body announces.
 *
 * llhttp accepts any chunk size that fits in 64 bits, FFFFFFFFFFFFFFFF included, then waits
 * for that many bytes: the client would hold the connection (and an origin request) until
 * the request timeout. Here a chunk size over the request body limit is refused as soon as
 * its digits arrive, and so is a chunked body whose sizes add up to more than the limit.
 *
 * The scanner only ever refuses; whatever it does not follow exactly (an upgrade, CONNECT,
 * framing node rejects itself) makes it stop watching the connection, never refuse it.
 */

export type Violation =
  /** One chunk announces more than the limit (or more than 64 bits can hold). */
  | { kind: 'chunk-size'; status: 400 }
  /** The chunks announced so far add up to more than the limit. */
  | { kind: 'body-size'; status: 413 };

const enum State {
  /** Between requests or inside a request head. */
  Head,
  /** A body of known length: `remaining` bytes to skip. */
  Fixed,
  /** The hex digits of a chunk size. */
  ChunkSize,
  /** After the digits (extensions), up to the LF ending the chunk-size line. */
  ChunkLine,
  /** Chunk data (`remaining` bytes), then its CRLF (counted in `remaining`). */
  ChunkData,
  /** Start of a trailer line: an empty line ends the message. */
  TrailerStart,
  /** Inside a trailer line, up to its LF. */
  TrailerLine,
  /** CR of the empty line that ends the trailer section; LF expected. */
  TrailerEnd,
  /** Not following this connection any more. */
  Off,
}

const CR = 13;
const LF = 10;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

export class RequestFramingScanner {
  private state = State.Head;
  private head = '';
  private remaining = 0;
  private size = 0;
  private digits = 0;
  private total = 0;

  /**
   * @param limit largest request body, in bytes
   * @param maxHead past this many head bytes the scanner gives up (node answers 431 first)
   */
  constructor(
    private readonly limit: number,
    private readonly maxHead: number,
  ) {}

  /** Whether the scanner still follows the connection. */
  get active(): boolean {
    return this.state !== State.Off;
  }

  /** Starts inside a chunked body whose head was read elsewhere. */
  startChunkedBody(): void {
    this.state = State.ChunkSize;
    this.size = 0;
    this.digits = 0;
    this.total = 0;
  }

  /** Reads the next bytes of the connection; returns the first violation found, if any. */
  feed(data: Buffer): Violation | undefined {
    let i = 0;
    while (i < data.length) {
      if (this.state === State.Off) return undefined;
      const next = this.step(data, i);
      if (typeof next !== 'number') return next;
      i = next;
    }
    return undefined;
  }

  /** One step of the state machine from `data[i]`: the next index, or a violation. */
  private step(data: Buffer, i: number): number | Violation {
    switch (this.state) {
      case State.Head:
        return this.readHead(data, i);
      case State.Fixed:
      case State.ChunkData:
        return this.skip(data, i);
      case State.ChunkSize:
        return this.chunkDigit(data[i]!, i);
      case State.ChunkLine:
        return this.chunkLineEnd(data, i);
      case State.TrailerStart: {
        const c = data[i]!;
        if (c === CR) this.state = State.TrailerEnd;
        else if (c === LF) this.off(); // bare LF: node's business
        else this.state = State.TrailerLine;
        return i + 1;
      }
      case State.TrailerLine: {
        const lf = data.indexOf(LF, i);
        if (lf === -1) return data.length;
        this.state = State.TrailerStart;
        return lf + 1;
      }
      case State.TrailerEnd:
        if (data[i] !== LF) this.off();
        else this.startMessage();
        return i + 1;
      default:
        return data.length;
    }
  }

  /** Body bytes of known length (a Content-Length body, or chunk data and its CRLF). */
  private skip(data: Buffer, i: number): number {
    const take = Math.min(this.remaining, data.length - i);
    this.remaining -= take;
    if (this.remaining === 0) this.state = this.state === State.Fixed ? State.Head : State.ChunkSize;
    return i + take;
  }

  /** One character of a chunk size. */
  private chunkDigit(c: number, i: number): number | Violation {
    const v = hexValue(c);
    if (v === -1) {
      // llhttp refuses a size line without digits itself.
      if (this.digits === 0) this.off();
      else this.state = State.ChunkLine;
      return i;
    }
    this.digits++;
    this.size = this.size * 16 + v;
    // Leading zeros are allowed; the value is what counts. It is compared at each digit, so the
    // refusal comes with the digit that crosses the limit.
    if (this.size > this.limit) return this.violation({ kind: 'chunk-size', status: 400 });
    return i + 1;
  }

  /** The rest of a chunk-size line (extensions) up to its LF; then the chunk's data or the trailer. */
  private chunkLineEnd(data: Buffer, i: number): number | Violation {
    const lf = data.indexOf(LF, i);
    if (lf === -1) return data.length;
    this.total += this.size;
    if (this.total > this.limit) return this.violation({ kind: 'body-size', status: 413 });
    if (this.size === 0) {
      this.state = State.TrailerStart;
    } else {
      this.remaining = this.size + 2; // the data and its CRLF
      this.state = State.ChunkData;
    }
    this.size = 0;
    this.digits = 0;
    return lf + 1;
  }

  private startMessage(): void {
    this.state = State.Head;
    this.head = '';
    this.total = 0;
  }

  private off(): undefined {
    this.state = State.Off;
    this.head = '';
    return undefined;
  }

  private violation(v: Violation): Violation {
    this.state = State.Off;
    return v;
  }

  /** Collects a request head; at its end, decides how the body is framed. Returns the new index. */
  private readHead(data: Buffer, start: number): number {
    let i = start;
    // RFC 9112 §2.2: empty lines before a request line are ignored.
    if (this.head === '') {
      while (i < data.length && (data[i] === CR || data[i] === LF)) i++;
      if (i === data.length) return i;
    }
    const before = this.head.length;
    this.head += data.toString('latin1', i, Math.min(data.length, i + this.maxHead + 4));
    // Look for the blank line from just before the new bytes (it may straddle two reads).
    const end = this.head.indexOf('\r\n\r\n', Math.max(0, before - 3));
    if (end === -1) {
      if (this.head.length > this.maxHead) this.off();
      return data.length;
    }
    const consumed = end + 4 - before; // bytes of `data` that belong to the head
    const head = this.head.slice(0, end);
    this.head = '';
    this.frame(head);
    return i + consumed;
  }

  private frame(head: string): void {
    const lines = head.split('\r\n');
    const method = lines[0]!.slice(0, lines[0]!.indexOf(' '));
    let te: string | undefined;
    let cl: string | undefined;
    let upgrade = false;
    let connection = '';
    for (let k = 1; k < lines.length; k++) {
      const line = lines[k]!;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'transfer-encoding') te = te === undefined ? value : `${te}, ${value}`;
      else if (name === 'content-length') cl = value;
      else if (name === 'upgrade') upgrade = true;
      else if (name === 'connection') connection += `,${value.toLowerCase()}`;
    }
    // What follows an upgrade or a CONNECT is another protocol.
    if (method === 'CONNECT' || (upgrade && /(^|,)\s*upgrade\s*(,|$)/.test(connection))) {
      this.off();
      return;
    }
    if (te !== undefined) {
      const codings = te.toLowerCase().split(',');
      // Only chunked-last bodies are read as chunked; anything else is refused by node or larder.
      if (codings[codings.length - 1]!.trim() !== 'chunked') this.off();
      else {
        this.state = State.ChunkSize;
        this.size = 0;
        this.digits = 0;
        this.total = 0;
      }
      return;
    }
    if (cl !== undefined) {
      const length = /^[0-9]+$/.test(cl) ? Number(cl) : NaN;
      if (!Number.isSafeInteger(length)) this.off();
      else if (length > 0) {
        this.remaining = length;
        this.state = State.Fixed;
      }
    }
  }
}
