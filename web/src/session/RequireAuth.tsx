import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router-dom';
import { Alert } from '../components/Alert';
import { Button } from '../components/form';
import { Loading } from '../components/Loading';
import { signInUrl } from '../lib/redirect';
import { useSession } from './context';

/** Renders its children for a signed-in user; otherwise sends them to sign in and back. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const { user, loading, loadError, reloadUser, returnAfterSignOut } = useSession();
  const location = useLocation();
  if (loading) return <main className="page page--centered"><Loading label="Checking your session…" /></main>;
  if (loadError && !user) {
    return (
      <main className="page page--centered">
        <Alert tone="error" title="MedCloudCare is not reachable">
          <p>{loadError.detail}</p>
        </Alert>
        <Button onClick={() => void reloadUser()}>Try again</Button>
      </main>
    );
  }
  if (!user) {
    const wanted = returnAfterSignOut ?? location.pathname + location.search + location.hash;
    return <Navigate to={signInUrl(wanted)} replace />;
  }
  return <>{children}</>;
}
