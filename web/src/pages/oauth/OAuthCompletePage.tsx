import { Link } from 'react-router-dom';
import { auth } from '../../api';
import { Alert } from '../../components/Alert';
import { AuthCard } from '../../components/AuthCard';
import { Loading } from '../../components/Loading';
import { useLoad } from '../../lib/useLoad';
import { LinkAccountForm } from './LinkAccountForm';
import { OAuthSignupForm } from './OAuthSignupForm';

/** After a social sign-in the server needs one more answer: a role, or the password to link. */
export function OAuthCompletePage() {
  const { data: pending, error, loading } = useLoad(auth.oauthPending, []);
  if (loading) {
    return (
      <AuthCard title="Finishing sign-in">
        <Loading />
      </AuthCard>
    );
  }
  if (!pending) {
    return (
      <AuthCard title="Finishing sign-in">
        <Alert tone="error">
          <p>{error?.code === 'no_pending' ? 'This social sign-in has expired or was already completed. Please start again.' : error?.detail}</p>
        </Alert>
        <p className="auth-footer">
          <Link to="/signin">Back to sign in</Link>
        </p>
      </AuthCard>
    );
  }
  return pending.kind === 'signup' ? <OAuthSignupForm pending={pending} /> : <LinkAccountForm pending={pending} />;
}
