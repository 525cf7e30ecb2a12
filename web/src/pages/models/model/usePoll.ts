import { useEffect } from 'react';

/** How often a page asks again while something is still changing on the server. */
export const POLL_MS = 2000;

/** Call `reload` every `ms` while `active`; `answer` (the last data loaded) restarts the wait, so calls never overlap. */
export function usePoll(active: boolean, reload: () => void, answer: unknown, ms: number = POLL_MS): void {
  useEffect(() => {
    if (!active) return;
    const timer = setTimeout(reload, ms);
    return () => clearTimeout(timer);
  }, [active, reload, answer, ms]);
}
