import { useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { auth } from '../../api';
import { Alert } from '../../components/Alert';
import { AuthCard } from '../../components/AuthCard';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { useAction } from '../../lib/useAction';

export function ForgotPasswordPage() {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, { email: [] });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if ((await run(() => auth.forgotPassword(email))).ok) setSent(true);
  }

  return (
    <AuthCard title="Reset your password" lead={sent ? undefined : 'Enter your account email and we will send you a link to choose a new password.'}>
      {sent ? (
        <Alert tone="success" title="Check your email">
          <p>If an account exists for {email}, a reset link is on its way. The link works once and expires soon.</p>
        </Alert>
      ) : (
        <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
          <FormError error={errors.form} />
          <TextField label="Email" type="email" autoComplete="email" required autoFocus
            value={email} onValueChange={setEmail} error={errors.field('email')} />
          <Button type="submit" busy={busy} className="btn--block">
            Send reset link
          </Button>
        </form>
      )}
      <p className="auth-footer">
        <Link to="/signin">Back to sign in</Link>
      </p>
    </AuthCard>
  );
}
