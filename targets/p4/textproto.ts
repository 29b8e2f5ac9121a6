// Reader for protobuf text format (the .txtpb P4Info p4c writes), driven by
// the message's protobufjs type so repeated and nested fields come out right.

import type protobuf from 'protobufjs';

type Token = { kind: 'ident' | 'string' | 'number' | 'punct'; text: string; line: number };

function tokenize(text: string, file: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\\') {
          const n = text[j + 1];
          s += n === 'n' ? '\n' : n === 't' ? '\t' : n;
          j += 2;
        } else {
          s += text[j++];
        }
      }
      if (j >= text.length) throw new Error(`${file}:${line}: unterminated string`);
      out.push({ kind: 'string', text: s, line });
      i = j + 1;
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?(0x[0-9a-fA-F]+|[0-9.eE+-]+)/.exec(text.slice(i));
      if (!m) throw new Error(`${file}:${line}: bad number`);
      out.push({ kind: 'number', text: m[0], line });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i))!;
      out.push({ kind: 'ident', text: m[0], line });
      i += m[0].length;
    } else if ('{}:<>[],;'.includes(c)) {
      out.push({ kind: 'punct', text: c, line });
      i++;
    } else {
      throw new Error(`${file}:${line}: unexpected character "${c}"`);
    }
  }
  return out;
}

/**
 * Parses `text` as a `type` message into a plain object accepted by
 * `type.fromObject` (camelCase field names, enums by name, 64-bit as strings).
 */
export function parseTextProto(text: string, type: protobuf.Type, file = '<text>'): Record<string, unknown> {
  const toks = tokenize(text, file);
  let pos = 0;
  const peek = (): Token | undefined => toks[pos];
  const fail = (msg: string): never => {
    throw new Error(`${file}:${peek()?.line ?? 'eof'}: ${msg}`);
  };

  const parseMessage = (t: protobuf.Type, close: string | undefined): Record<string, unknown> => {
    const obj: Record<string, unknown> = {};
    for (;;) {
      const tok = peek();
      if (!tok) {
        if (close) fail(`expected "${close}"`);
        return obj;
      }
      if (tok.kind === 'punct' && tok.text === close) {
        pos++;
        return obj;
      }
      if (tok.kind !== 'ident') fail(`expected a field name, found "${tok.text}"`);
      pos++;
      const field = t.fields[tok.text] ?? t.fields[camel(tok.text)] ?? Object.values(t.fields).find((f) => f.name === tok.text);
      if (!field) fail(`${t.fullName} has no field "${tok.text}"`);
      const f = field!;
      f.resolve();
      let value: unknown;
      if (f.resolvedType && 'fields' in f.resolvedType) {
        if (peek()?.text === ':') pos++;
        const open = toks[pos++];
        if (!open || (open.text !== '{' && open.text !== '<')) fail(`expected "{" after ${tok.text}`);
        value = parseMessage(f.resolvedType as protobuf.Type, open.text === '{' ? '}' : '>');
      } else {
        if (toks[pos++]?.text !== ':') fail(`expected ":" after ${tok.text}`);
        const v = toks[pos++];
        if (!v) fail('unexpected end of input');
        value = scalar(v!, f);
      }
      if (f.repeated) {
        const arr = (obj[f.name] as unknown[] | undefined) ?? [];
        arr.push(value);
        obj[f.name] = arr;
      } else {
        obj[f.name] = value;
      }
      if (peek()?.text === ',' || peek()?.text === ';') pos++;
    }
  };

  const scalar = (v: Token, f: protobuf.Field): unknown => {
    if (f.resolvedType) return v.text; // enum by name (or number text)
    switch (f.type) {
      case 'string':
        return v.text;
      case 'bytes':
        return Buffer.from(v.text, 'latin1').toString('base64');
      case 'bool':
        return v.text === 'true';
      case 'int64':
      case 'uint64':
      case 'sint64':
      case 'fixed64':
      case 'sfixed64':
        return BigInt(v.text).toString();
      default:
        return Number(v.text);
    }
  };

  return parseMessage(type, undefined);
}

function camel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}
