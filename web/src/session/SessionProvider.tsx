import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { auth, onSessionEnded, toApiError, type ApiError, type User } from '../api';
import { SessionContext, type SessionValue } from './context';

/** Asks the server who is signed in (GET /me) and shares the answer with every page. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [loading, setLoading] = useState(true);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [returnAfterSignOut, setReturnAfterSignOut] = useState<string | null>(null);

  const reloadUser = useCallback(async () => {
    try {
      setUser(await auth.me());
      setLoadError(null);
    } catch (cause) {
      const error = toApiError(cause);
      setUser(null);
      setLoadError(error.status === 401 ? null : error);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void reloadUser();
    return onSessionEnded(() => setUser(null));
  }, [reloadUser]);

  const signOut = useCallback(async (returnTo = '/') => {
    try {
      await auth.logOut();
    } finally {
      setReturnAfterSignOut(returnTo);
      setUser(null);
    }
  }, []);

  const value = useMemo<SessionValue>(
    () => ({
      user,
      loading,
      loadError,
      returnAfterSignOut,
      signedIn: (next) => {
        setUser(next);
        setLoadError(null);
        setReturnAfterSignOut(null);
      },
      reloadUser,
      signOut,
      forget: () => {
        setReturnAfterSignOut('/');
        setUser(null);
      },
    }),
    [user, returnAfterSignOut, loading, loadError, reloadUser, signOut],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
