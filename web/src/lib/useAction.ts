import { useCallback, useRef, useState } from 'react';
import { type ApiError, toApiError } from '../api';

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ApiError | null };

export interface Action {
  busy: boolean;
  error: ApiError | null;
  /** Run `task` unless one is already running, tracking busy and error state. */
  run: <T>(task: () => Promise<T>) => Promise<Outcome<T>>;
  clear: () => void;
}

/** Busy and error state for one submit button or form. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const running = useRef(false);

  const run = useCallback(async <T,>(task: () => Promise<T>): Promise<Outcome<T>> => {
    if (running.current) return { ok: false, error: null };
    running.current = true;
    setBusy(true);
    setError(null);
    try {
      return { ok: true, value: await task() };
    } catch (cause) {
      const apiError = toApiError(cause);
      setError(apiError);
      return { ok: false, error: apiError };
    } finally {
      running.current = false;
      setBusy(false);
    }
  }, []);

  const clear = useCallback(() => setError(null), []);
  return { busy, error, run, clear };
}
