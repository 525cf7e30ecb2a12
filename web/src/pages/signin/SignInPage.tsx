import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { auth } from '../../api';
import { Alert } from '../../components/Alert';
import { AuthCard } from '../../components/AuthCard';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { safeNext } from '../../lib/redirect';
import { useGoTo } from '../../lib/useGoTo';
import { useAction } from '../../lib/useAction';
import { useSession } from '../../session/context';
import { OAuthButtons } from './OAuthButtons';

const OAUTH_ERRORS: Readonly<Record<string, string>> = {
  oauth_failed: 'Signing in with that provider did not work. Please try again, or sign in with your email and password.',
};

export function SignInPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const goTo = useGoTo();
  const { signedIn } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, { email: [], password: [] });
  const next = safeNext(params.get('next'));
  const oauthError = OAUTH_ERRORS[params.get('error') ?? ''];

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const result = await run(() => auth.logIn({ email, password }));
    if (!result.ok) return;
    if (result.value.status === 'mfa_required') {
      navigate(next === '/' ? '/signin/2fa' : `/signin/2fa?next=${encodeURIComponent(next)}`);
      return;
    }
    signedIn(result.value.user);
    goTo(next);
  }

  return (
    <AuthCard title="Sign in" lead="Welcome back to MedCloudCare.">
      {oauthError && <Alert tone="error">{oauthError}</Alert>}
      <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <FormError error={errors.form} />
        <TextField label="Email" type="email" autoComplete="username" required autoFocus
          value={email} onValueChange={setEmail} error={errors.field('email')} />
        <TextField label="Password" type="password" autoComplete="current-password" required
          value={password} onValueChange={setPassword} error={errors.field('password')} />
        <div className="form-row form-row--end">
          <Link to="/forgot-password">Forgot password?</Link>
        </div>
        <Button type="submit" busy={busy} className="btn--block">
          Sign in
        </Button>
      </form>
      <OAuthButtons />
      <p className="auth-footer">
        New to MedCloudCare? <Link to="/signup">Create an account</Link>
      </p>
    </AuthCard>
  );
}
