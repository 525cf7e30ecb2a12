import { Link } from 'react-router-dom';
import { auth } from '../../api';
import { TokenPage } from './TokenPage';

export function VerifyEmailPage() {
  return (
    <TokenPage
      title="Verify your email"
      kind="verify-email"
      consume={auth.verifyEmail}
      success={<p>Your email address is verified. You can now sign in.</p>}
      after={<Link to="/signin">Sign in</Link>}
    />
  );
}
