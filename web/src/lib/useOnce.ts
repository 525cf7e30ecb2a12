import { useEffect, useState } from 'react';
import { type ApiError, toApiError } from '../api';

export type OnceState<T> =
  | { state: 'running' }
  | { state: 'done'; value: T }
  | { state: 'failed'; error: ApiError };

const started = new Map<string, Promise<unknown>>();

/**
 * Run a one-shot side effect (e.g. consuming an email token) exactly once per key,
 * even when React mounts the component twice in development.
 */
export function useOnce<T>(key: string, task: () => Promise<T>): OnceState<T> {
  const [result, setResult] = useState<OnceState<T>>({ state: 'running' });
  useEffect(() => {
    let current = true;
    let promise = started.get(key) as Promise<T> | undefined;
    if (!promise) {
      promise = task();
      started.set(key, promise);
    }
    promise.then(
      (value) => current && setResult({ state: 'done', value }),
      (cause: unknown) =>
        current &&
        setResult({ state: 'failed', error: toApiError(cause) }),
    );
    return () => {
      current = false;
    };
  }, [key]);
  return result;
}
