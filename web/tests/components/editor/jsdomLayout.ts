/** jsdom lays nothing out: Range has no client rects, which CodeMirror measures. Empty ones let it render. */
export function polyfillRangeRects(): void {
  const empty = (): DOMRectList => Object.assign([], { item: () => null }) as unknown as DOMRectList;
  Range.prototype.getClientRects = empty;
  Range.prototype.getBoundingClientRect = () => new DOMRect(0, 0, 0, 0);
}
