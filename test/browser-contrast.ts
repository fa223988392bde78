/** Checks the dashboard tests run inside the page (passed to `page.evaluate`). */

/**
 * Runs in the page: every visible element with its own text, whose colour against the first
 * opaque background behind it (walking up the tree) is below 4.5:1 (WCAG AA, normal text).
 */
export function lowContrastText(): string[] {
  const g = globalThis as any;
  const rgb = (value: string): number[] => (value.match(/[\d.]+/g) ?? []).map(Number);
  const luminance = ([r, gr, b]: number[]) => {
    const lin = (c: number) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * lin(r!) + 0.7152 * lin(gr!) + 0.0722 * lin(b!);
  };
  const background = (element: any): number[] => {
    for (let e = element; e; e = e.parentElement) {
      const c = rgb(g.getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3]! >= 0.99)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const failures: string[] = [];
  for (const element of g.document.querySelectorAll('body *')) {
    const ownText = [...element.childNodes].some(
      (n: any) => n.nodeType === 3 && n.textContent.trim() !== '',
    );
    if (!ownText || element.closest('[hidden]') || element.getClientRects().length === 0) continue;
    const style = g.getComputedStyle(element);
    if (style.visibility === 'hidden' || element.closest('.visually-hidden, .skip')) continue;
    const fg = luminance(rgb(style.color));
    const bg = luminance(background(element));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) {
      failures.push(
        `${element.tagName}.${element.className}: ${ratio.toFixed(2)} "${element.textContent.trim().slice(0, 30)}"`,
      );
    }
  }
  return failures;
}
