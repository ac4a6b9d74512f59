/**
 * Where each key of a TOML document is written, for error messages that name a file and line.
 * The parser (smol-toml) returns values only; this scan finds `[table]` headers and `key =` lines
 * (bare, quoted or dotted keys). A key inside an inline table is found at the line of its table.
 */

/** `"a b"` → `a b`; bare keys as they are. */
function unquote(part: string): string {
  const trimmed = part.trim();
  return /^(["']).*\1$/.test(trimmed) ? trimmed.slice(1, -1) : trimmed;
}

/** Splits a dotted key on the dots outside quotes. */
function keyPath(text: string): string {
  const parts: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (const char of text) {
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      current += char;
    } else if (char === '.') {
      parts.push(unquote(current));
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(unquote(current));
  return parts.join('.');
}

/** Line numbers (from 1) of the keys and table headers of `source`, by dotted path. */
export function keyLines(source: string): Map<string, number> {
  const lines = new Map<string, number>();
  let table = '';
  // Multi-line strings and arrays hold no keys of their own: skip their lines.
  let openString: string | undefined;
  let openBrackets = 0;
  source.split(/\r?\n/).forEach((line, index) => {
    const number = index + 1;
    if (openString !== undefined) {
      if (line.includes(openString)) openString = undefined;
      return;
    }
    if (openBrackets > 0) {
      openBrackets += count(line, '[') - count(line, ']');
      return;
    }
    const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(line);
    if (header) {
      table = keyPath(header[1]!);
      if (!lines.has(table)) lines.set(table, number);
      return;
    }
    const assignment = /^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=(.*)$/.exec(line);
    if (!assignment) return;
    const path = table === '' ? keyPath(assignment[1]!) : `${table}.${keyPath(assignment[1]!)}`;
    if (!lines.has(path)) lines.set(path, number);
    const value = assignment[2]!.trim();
    const multiline = /^("""|''')/.exec(value);
    if (multiline && !value.slice(3).includes(multiline[1]!)) openString = multiline[1];
    else if (value.startsWith('[')) openBrackets = Math.max(0, count(value, '[') - count(value, ']'));
  });
  return lines;
}

function count(text: string, char: string): number {
  let n = 0;
  for (const c of text) if (c === char) n++;
  return n;
}

/** The line of `path`, or of its nearest enclosing table or inline table. */
export function lineOf(lines: ReadonlyMap<string, number>, path: string): number | undefined {
  for (let at = path; ; at = at.slice(0, at.lastIndexOf('.'))) {
    const line = lines.get(at);
    if (line !== undefined) return line;
    if (!at.includes('.')) return undefined;
  }
}
