import type { ReactNode } from 'react';
import type { Role } from '../api';
import { Alert } from '../components/Alert';
import { useUser } from './context';

/** Hides a page from other roles; the server enforces the same rule on every request. */
export function RequireRole({ role, children }: { role: Role; children: ReactNode }) {
  const user = useUser();
  if (user.role !== role) {
    return (
      <Alert tone="warning" title="Not available">
        <p>Your account does not have access to this page.</p>
      </Alert>
    );
  }
  return <>{children}</>;
}
