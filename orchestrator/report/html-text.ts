// Escaping for the report's HTML, SVG and inline scripts.

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or an attribute value. */
export function esc(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** Data for a <script type="application/json">: no sequence in it can close the element. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Source for an inline <script>: the only sequence that would end it early is written another way. */
export function scriptSource(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1');
}
