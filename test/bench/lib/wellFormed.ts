/**
 * Throws unless `xml` is well-formed XML (enough for the benchmark's SVG, no DTD): one root element, every tag
 * closed in order, attributes quoted and not repeated, `&` only in known entities, `<` only in markup.
 */
export function assertWellFormed(xml: string): void {
  const TAG = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
  const ATTRIBUTE = /([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  const ENTITIES = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
  const fail = (why: string, at: number) => {
    throw new Error(`not well-formed XML: ${why} at offset ${at}: ${JSON.stringify(xml.slice(at, at + 40))}`);
  };
  const open: string[] = [];
  let roots = 0;
  let at = xml.startsWith('<?xml') ? xml.indexOf('?>') + 2 : 0;
  while (at < xml.length) {
    const next = xml.indexOf('<', at);
    const textEnd = next < 0 ? xml.length : next;
    const text = xml.slice(at, textEnd);
    if (ENTITIES.test(text)) fail('a bare &', at);
    if (open.length === 0 && text.trim()) fail('text outside the root element', at);
    if (next < 0) break;
    if (xml.startsWith('<!--', next)) {
      const end = xml.indexOf('-->', next + 4);
      if (end < 0) fail('an unclosed comment', next);
      at = end + 3;
      continue;
    }
    TAG.lastIndex = next;
    const tag = TAG.exec(xml);
    if (!tag) return fail('a malformed tag', next);
    const [ whole, closing, name, attributes, selfClosing ] = tag;
    const names = new Set<string>();
    for (const [ , attribute, double, single ] of attributes.matchAll(ATTRIBUTE)) {
      if (names.has(attribute)) fail(`attribute ${attribute} repeated`, next);
      names.add(attribute);
      if (ENTITIES.test(double ?? single)) fail('a bare & in an attribute', next);
    }
    if (closing) {
      if (attributes || selfClosing) fail('a closing tag with attributes', next);
      if (open.pop() !== name) fail(`</${name}> closes another element`, next);
    } else {
      if (open.length === 0 && ++roots > 1) fail('a second root element', next);
      if (!selfClosing) open.push(name);
    }
    at = next + whole.length;
  }
  if (open.length) throw new Error(`not well-formed XML: <${open.join('>, <')}> never closed`);
  if (roots !== 1) throw new Error('not well-formed XML: no root element');
}
