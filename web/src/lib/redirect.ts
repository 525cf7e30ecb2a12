/** Where to go after sign-in: only a path on this origin, never an external URL. */
export function safeNext(next: string | null | undefined, fallback = '/'): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return fallback;
  if (next.startsWith('/signin')) return fallback;
  return next;
}

/** The sign-in URL that returns to `path` afterwards. */
export function signInUrl(path: string): string {
  const next = safeNext(path, '');
  return next && next !== '/' ? `/signin?next=${encodeURIComponent(next)}` : '/signin';
}

/** Paths this origin serves outside the portal's router (the OHIF viewer, the API): reach them with a page load. */
export function leavesPortal(path: string): boolean {
  return /^\/(viewer|api)(?:[/?#]|$)/.test(path);
}
