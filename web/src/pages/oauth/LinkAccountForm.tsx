import { useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { auth, type PendingOAuth } from '../../api';
import { AuthCard } from '../../components/AuthCard';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { useAction } from '../../lib/useAction';
import { useSession } from '../../session/context';

export function LinkAccountForm({ pending }: { pending: PendingOAuth }) {
  const navigate = useNavigate();
  const { signedIn } = useSession();
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, { password: ['invalid_credentials'] });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const result = await run(() => auth.oauthConfirmLink(password));
    if (!result.ok) return;
    if (result.value.status === 'mfa_required') {
      navigate('/signin/2fa');
      return;
    }
    signedIn(result.value.user);
    navigate('/', { replace: true });
  }

  return (
    <AuthCard title="Link your account">
      <p>
        An account with <strong>{pending.email}</strong> already exists. Enter the password of that account to sign in
        with {pending.provider} from now on.
      </p>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <FormError error={errors.form} />
        <TextField label="Password" type="password" autoComplete="current-password" required autoFocus
          value={password} onValueChange={setPassword} error={errors.field('password')} />
        <Button type="submit" busy={busy} className="btn--block">
          Link account
        </Button>
      </form>
      <p className="auth-footer">
        <Link to="/forgot-password">Forgot password?</Link>
      </p>
    </AuthCard>
  );
}
