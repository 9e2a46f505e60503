// A small Markdown renderer for problem statements: headings, fenced code blocks,
// bullet and numbered lists, paragraphs, `inline code` and **bold**. It builds DOM
// nodes and puts every piece of text in a text node, so nothing in a statement is ever
// parsed as HTML (the safe equivalent of "escape, then mark up"). The problem files
// use only this subset; a full Markdown library would be the page's only third-party
// code, and the page loads nothing from a CDN.

export function renderMarkdown(src) {
  const out = document.createDocumentFragment();
  const lines = String(src).replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^\s*$/.test(line)) { i++; continue; }

    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) { // code until the closing fence (or the end)
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence[1])) body.push(lines[i++]);
      i++; // the closing fence
      const pre = document.createElement('pre');
      const code = document.createElement('code');
      code.textContent = body.join('\n');
      pre.append(code);
      out.append(pre);
      continue;
    }

    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      // Statement headings sit under the problem's own title: start at h3.
      const level = Math.min(6, heading[1].length + 2);
      out.append(inline(document.createElement(`h${level}`), heading[2]));
      i++;
      continue;
    }

    const bullet = /^\s*[-*+]\s+/;
    const numbered = /^\s*\d+[.)]\s+/;
    if (bullet.test(line) || numbered.test(line)) {
      const marker = bullet.test(line) ? bullet : numbered;
      const list = document.createElement(marker === bullet ? 'ul' : 'ol');
      while (i < lines.length && marker.test(lines[i])) {
        let text = lines[i++].replace(marker, '');
        // Indented lines continue the item.
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !marker.test(lines[i])) text += ' ' + lines[i++].trim();
        list.append(inline(document.createElement('li'), text));
      }
      out.append(list);
      continue;
    }

    const para = [];
    while (i < lines.length && !/^\s*$/.test(lines[i]) && !/^(#{1,6})\s/.test(lines[i])
      && !/^\s*(```|~~~)/.test(lines[i]) && !bullet.test(lines[i]) && !numbered.test(lines[i])) {
      para.push(lines[i++].trim());
    }
    out.append(inline(document.createElement('p'), para.join(' ')));
  }
  return out;
}

// `code` and **bold** inside one line of text, appended to `node`.
function inline(node, text) {
  const re = /`([^`]+)`|\*\*([^*]+)\*\*/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) node.append(text.slice(last, m.index));
    const part = document.createElement(m[1] != null ? 'code' : 'strong');
    part.textContent = m[1] ?? m[2];
    node.append(part);
    last = re.lastIndex;
  }
  if (last < text.length) node.append(text.slice(last));
  return node;
}
