"""A basic accessibility check of a page in the browser: labels, headings, contrast, names.

Not a full audit (no axe-core: no CDN and no external script here); it checks the basics the issue
names, in the page as rendered, and fails with every problem found.
"""

from __future__ import annotations

from typing import Any

CHECK = r"""
() => {
  const problems = [];
  const visible = (el) => {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return s.visibility !== 'hidden' && s.display !== 'none' && r.width > 0 && r.height > 0;
  };
  const name = (el) => (el.getAttribute('aria-label') || el.getAttribute('title') || el.textContent || '').trim();
  if (!document.documentElement.getAttribute('lang')) problems.push('the html element has no lang');
  if (!document.title.trim()) problems.push('the page has no title');
  // form controls need a label
  for (const el of document.querySelectorAll('input, select, textarea')) {
    const type = (el.getAttribute('type') || '').toLowerCase();
    if (['hidden', 'submit', 'button', 'reset', 'image'].includes(type) || !visible(el)) continue;
    const labelled = (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) || el.closest('label')
      || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.getAttribute('title');
    if (!labelled) problems.push(`a ${el.tagName.toLowerCase()} (name=${el.getAttribute('name')}) has no label`);
  }
  // buttons and links need a name; images need alt
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (visible(el) && !name(el) && !el.querySelector('img[alt]:not([alt=""])')) {
      problems.push(`a ${el.tagName.toLowerCase()} has no accessible name`);
    }
  }
  for (const el of document.querySelectorAll('img')) if (!el.hasAttribute('alt')) problems.push('an img has no alt');
  // headings: one h1, no skipped level
  const headings = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter(visible);
  const h1 = headings.filter((h) => h.tagName === 'H1').length;
  if (h1 !== 1) problems.push(`the page has ${h1} h1 headings, not one`);
  let last = 0;
  for (const h of headings) {
    const level = Number(h.tagName[1]);
    if (last && level > last + 1) problems.push(`heading "${h.textContent.trim()}" skips from h${last} to h${level}`);
    last = level;
  }
  // contrast of text against its background (WCAG AA: 4.5, or 3 for large text)
  const rgb = (c) => { const m = c.match(/[\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 1]; };
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0.5) return c;
    }
    return [255, 255, 255, 1];
  };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!el || !node.textContent.trim() || seen.has(el) || !visible(el)) continue;
    if (el.closest('svg')) continue;
    seen.add(el);
    const s = getComputedStyle(el);
    const fg = rgb(s.color), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(s.fontSize), bold = Number(s.fontWeight) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed) {
      problems.push(`contrast ${ratio.toFixed(2)} < ${needed} for "${node.textContent.trim().slice(0, 40)}"`);
    }
  }
  return problems;
}
"""


def accessibility_problems(page: Any) -> list[str]:
    problems: list[str] = page.evaluate(CHECK)
    return problems


def assert_accessible(page: Any) -> None:
    problems = accessibility_problems(page)
    assert not problems, f"accessibility problems on {page.url}:\n" + "\n".join(problems)


def watch_errors(page: Any) -> list[str]:
    """Collect the page's console errors and uncaught exceptions from now on."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors
