import { useState } from 'react';
import { Link, useLocation } from 'react-router-dom';
import type { ApiError } from '../../api';
import { Alert } from '../../components/Alert';
import { Button } from '../../components/form';
import { useSession } from '../../session/context';

/** Signs out, then back in with a code, returning to this admin page. */
function SignInAgain() {
  const { signOut } = useSession();
  const { pathname } = useLocation();
  const [busy, setBusy] = useState(false);
  return (
    <div>
      <Button busy={busy} onClick={() => { setBusy(true); signOut(pathname).catch(() => setBusy(false)); }}>
        Sign in again
      </Button>
    </div>
  );
}

/** An admin request's refusal, with the way forward when it is about two-factor sign-in. */
export function AdminProblem({ error }: { error: ApiError }) {
  if (error.code === 'mfa_enrolment_required') {
    return (
      <Alert tone="warning" title="Two-factor authentication required">
        <p>Administrators must protect their account with two-factor authentication before using the admin tools.</p>
        <p>
          <Link to="/profile#two-factor-authentication">Set up two-factor authentication</Link>
        </p>
      </Alert>
    );
  }
  if (error.code === 'mfa_required') {
    return (
      <Alert tone="warning" title="Sign in with your authentication code">
        <p>This session was not verified with two-factor authentication. Sign in again with your code to use the admin tools.</p>
        <SignInAgain />
      </Alert>
    );
  }
  return (
    <Alert tone="error">
      <p>{error.detail}</p>
    </Alert>
  );
}
