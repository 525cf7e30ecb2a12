import { createContext, useContext } from 'react';
import type { ApiError, User } from '../api';

export interface SessionValue {
  /** The signed-in user, or null when signed out. */
  user: User | null;
  /**
   * Where sign-in leads after the user chose to sign out ("/" unless they asked to come back);
   * null when they did not sign out on purpose (then sign-in returns to the page they were on).
   */
  returnAfterSignOut: string | null;
  /** True until the first GET /me has answered. */
  loading: boolean;
  /** Why GET /me failed, when it was not simply "not signed in". */
  loadError: ApiError | null;
  signedIn: (user: User) => void;
  reloadUser: () => Promise<void>;
  /** Sign out on the server, then forget the user here; sign-in then returns to `returnTo`. */
  signOut: (returnTo?: string) => Promise<void>;
  /** Forget the user here, after the server ended the session on the user's request. */
  forget: () => void;
}

export const SessionContext = createContext<SessionValue | null>(null);

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession must be used inside <SessionProvider>');
  return value;
}

/** The signed-in user, for pages that are only rendered behind <RequireAuth>. */
export function useUser(): User {
  const { user } = useSession();
  if (!user) throw new Error('useUser must be used behind <RequireAuth>');
  return user;
}
