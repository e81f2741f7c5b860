/**
 * Parsing of Structured Field Dictionaries (RFC 8941 §4.2.2), the syntax of the targeted
 * cache-control fields of RFC 9213 (CDN-Cache-Control and friends). Parameters are parsed
 * and dropped: no cache directive uses them.
 */

export type BareItem = number | string | boolean | { token: string } | { bytes: string };

/** A member's value: a bare item, or an inner list of them. */
export type Member = BareItem | BareItem[];

/** RFC 8941 §4.2: a field that fails to parse is ignored as a whole; undefined then. */
export function parseDictionary(value: string | string[] | undefined): Map<string, Member> | undefined {
  if (value === undefined) return undefined;
  // RFC 8941 §4.2: several field lines are combined with commas before parsing.
  const p = new Parser(Array.isArray(value) ? value.join(', ') : value);
  return p.dictionary();
}

const KEY_START = /[a-z*]/;
const KEY_CHAR = /[a-z0-9_\-.*]/;
const TOKEN_START = /[A-Za-z*]/;
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/;
const BASE64 = /^[A-Za-z0-9+/=]*$/;

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  dictionary(): Map<string, Member> | undefined {
    const out = new Map<string, Member>();
    // RFC 8941 §4.2: leading and trailing spaces are discarded.
    this.skip(' ');
    if (this.i === this.s.length) return out;
    for (;;) {
      const key = this.key();
      if (key === undefined) return undefined;
      let member: Member | undefined;
      if (this.s[this.i] === '=') {
        this.i++;
        member = this.s[this.i] === '(' ? this.innerList() : this.bareItem();
        if (member === undefined) return undefined;
      } else {
        member = true;
      }
      if (!this.parameters()) return undefined;
      // RFC 8941 §4.2.2: a repeated key overwrites the earlier value.
      out.set(key, member);
      this.skip(' \t');
      if (this.i === this.s.length) return out;
      if (this.s[this.i] !== ',') return undefined;
      this.i++;
      this.skip(' \t');
      if (this.i === this.s.length) return undefined; // trailing comma
    }
  }

  private key(): string | undefined {
    if (!KEY_START.test(this.s[this.i] ?? '')) return undefined;
    const start = this.i;
    while (this.i < this.s.length && KEY_CHAR.test(this.s[this.i]!)) this.i++;
    return this.s.slice(start, this.i);
  }

  private parameters(): boolean {
    while (this.s[this.i] === ';') {
      this.i++;
      this.skip(' ');
      if (this.key() === undefined) return false;
      if (this.s[this.i] === '=') {
        this.i++;
        if (this.bareItem() === undefined) return false;
      }
    }
    return true;
  }

  private innerList(): BareItem[] | undefined {
    this.i++; // (
    const items: BareItem[] = [];
    for (;;) {
      this.skip(' ');
      if (this.s[this.i] === ')') {
        this.i++;
        return this.parameters() ? items : undefined;
      }
      const item = this.bareItem();
      if (item === undefined || !this.parameters()) return undefined;
      items.push(item);
      const c = this.s[this.i];
      if (c !== ' ' && c !== ')') return undefined;
    }
  }

  private bareItem(): BareItem | undefined {
    const c = this.s[this.i];
    if (c === undefined) return undefined;
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    if (c === '"') return this.string();
    if (c === ':') return this.bytes();
    if (c === '?') return this.boolean();
    if (TOKEN_START.test(c)) return this.token();
    return undefined;
  }

  /** RFC 8941 §4.2.4: at most 15 integer digits, or 12 + 3 for a decimal. */
  private number(): number | undefined {
    const m = /^(-?)(\d{1,15})(?:\.(\d{1,3}))?/.exec(this.s.slice(this.i));
    if (m === null) return undefined;
    if (m[3] === undefined) {
      this.i += m[0].length;
      return Number(m[1]! + m[2]!);
    }
    if (m[2]!.length > 12) return undefined;
    this.i += m[0].length;
    if (/^\./.test(this.s.slice(this.i))) return undefined;
    return Number(m[0]);
  }

  private string(): string | undefined {
    this.i++;
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i++]!;
      if (c === '\\') {
        const next = this.s[this.i++];
        if (next !== '"' && next !== '\\') return undefined;
        out += next;
      } else if (c === '"') {
        return out;
      } else if (c < ' ' || c > '~') {
        return undefined;
      } else {
        out += c;
      }
    }
    return undefined;
  }

  private token(): { token: string } {
    const start = this.i;
    this.i++;
    while (this.i < this.s.length && TOKEN_CHAR.test(this.s[this.i]!)) this.i++;
    return { token: this.s.slice(start, this.i) };
  }

  private bytes(): { bytes: string } | undefined {
    const end = this.s.indexOf(':', this.i + 1);
    if (end === -1) return undefined;
    const b = this.s.slice(this.i + 1, end);
    if (!BASE64.test(b)) return undefined;
    this.i = end + 1;
    return { bytes: b };
  }

  private boolean(): boolean | undefined {
    const c = this.s[this.i + 1];
    if (c !== '0' && c !== '1') return undefined;
    this.i += 2;
    return c === '1';
  }

  private skip(chars: string): void {
    while (this.i < this.s.length && chars.includes(this.s[this.i]!)) this.i++;
  }
}
