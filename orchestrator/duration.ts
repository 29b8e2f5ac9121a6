// Durations as people type them on the command line ("30s", "500ms", "5m"),
// shared by every verb that takes one (`weft apply --confirm-within`, `weft
// agent apply --confirm-within`, `weft status --watch --interval/--for`).

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "3s", "500ms", "2m", "1h" or a bare number of seconds, in milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration (valid: a number with ms, s, m or h, e.g. 30s; a bare number is seconds)`);
  const ms = Number(m[1]) * UNITS[m[2] ?? 's'];
  if (ms <= 0) throw new Error(`"${text}" is not a positive duration`);
  return ms;
}
