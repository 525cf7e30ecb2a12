import { Link } from 'react-router-dom';
import { auth } from '../../api';
import { useSession } from '../../session/context';
import { TokenPage } from './TokenPage';

export function ConfirmEmailPage() {
  const { user, reloadUser } = useSession();
  async function consume(token: string) {
    const result = await auth.confirmEmail(token);
    if (user) await reloadUser();
    return result;
  }
  return (
    <TokenPage
      title="Confirm your new email"
      kind="email-confirm"
      consume={consume}
      success={<p>Your email address was changed. Use the new address to sign in from now on.</p>}
      after={user ? <Link to="/profile">Back to your profile</Link> : <Link to="/signin">Sign in</Link>}
    />
  );
}
