/**
 * The table etcdctl's `-w table` prints (github.com/olekukonko/tablewriter, as etcdctl 3.4
 * configures it: borders on, header upper-cased and centred, cells right-aligned, one space of
 * padding). Example:
 *
 *   +-----------------+------------+
 *   |    ENDPOINT     |    HASH    |
 *   +-----------------+------------+
 *   | 127.0.0.1:23790 | 3753477088 |
 *   +-----------------+------------+
 */

/** Display width: one column per code point (etcdctl's tables hold ASCII in practice). */
function width(s: string): number {
  return [...s].length;
}

/** tablewriter's Title: `_` becomes a space, then upper case. */
function title(h: string): string {
  return h.replace(/_/g, ' ').trim().toUpperCase();
}

function centre(s: string, w: number): string {
  const gap = w - width(s);
  const left = Math.floor(gap / 2);
  return ' '.repeat(left) + s + ' '.repeat(gap - left);
}

export function renderTable(header: string[], rows: string[][]): string {
  const hdr = header.map(title);
  const widths = hdr.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+\n`;
  const line = (cells: string[]): string => `|${cells.map((c) => ` ${c} `).join('|')}|\n`;
  let out = rule + line(hdr.map((h, i) => centre(h, widths[i]!))) + rule;
  for (const r of rows) out += line(widths.map((w, i) => (r[i] ?? '').padStart(w + (r[i] ?? '').length - width(r[i] ?? ''), ' ')));
  return out + rule;
}
