import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { auth } from '../../api';
import { Alert } from '../../components/Alert';
import { AuthCard } from '../../components/AuthCard';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { useAction } from '../../lib/useAction';

export function ResetPasswordPage() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, { password: ['weak_password'] });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if ((await run(() => auth.resetPassword({ token, password }))).ok) setDone(true);
  }

  return (
    <AuthCard title="Choose a new password">
      {done ? (
        <Alert tone="success">
          <p>Your password was changed. Sign in with your new password.</p>
        </Alert>
      ) : (
        <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
          <FormError error={errors.form} />
          {error?.code === 'invalid_token' && (
            <p>
              <Link to="/forgot-password">Request a new link</Link>
            </p>
          )}
          <TextField label="New password" type="password" autoComplete="new-password" required autoFocus
            value={password} onValueChange={setPassword} error={errors.field('password')} />
          <Button type="submit" busy={busy} className="btn--block">
            Set new password
          </Button>
        </form>
      )}
      <p className="auth-footer">
        <Link to="/signin">{done ? 'Sign in' : 'Back to sign in'}</Link>
      </p>
    </AuthCard>
  );
}
