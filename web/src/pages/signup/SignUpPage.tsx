import { useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { auth, type SignupRole } from '../../api';
import { Alert } from '../../components/Alert';
import { AuthCard } from '../../components/AuthCard';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { RoleRadios } from '../../components/RoleRadios';
import { useAction } from '../../lib/useAction';

export function SignUpPage() {
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<SignupRole | ''>('');
  const [sentTo, setSentTo] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, { name: [], email: [], password: ['weak_password'], role: [] });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    // An unchosen role goes to the server as "", which answers with a field error for `role`.
    const body = { name, email, password, role: role as SignupRole };
    if ((await run(() => auth.signUp(body))).ok) setSentTo(email);
  }

  if (sentTo !== null) {
    return (
      <AuthCard title="Check your email">
        <Alert tone="success">
          <p>
            We sent a link to <strong>{sentTo}</strong>. Open it to verify your address, then sign in.
          </p>
        </Alert>
        {role === 'health_professional' && (
          <p>After signing in, upload your medical certificate from your profile. An administrator will review it.</p>
        )}
        <p className="auth-footer">
          <Link to="/signin">Back to sign in</Link>
        </p>
      </AuthCard>
    );
  }

  return (
    <AuthCard title="Create your account">
      <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <FormError error={errors.form} />
        <TextField label="Full name" autoComplete="name" required autoFocus
          value={name} onValueChange={setName} error={errors.field('name')} />
        <TextField label="Email" type="email" autoComplete="email" required
          value={email} onValueChange={setEmail} error={errors.field('email')} />
        <TextField label="Password" type="password" autoComplete="new-password" required
          hint="Use a long passphrase that you do not use anywhere else."
          value={password} onValueChange={setPassword} error={errors.field('password')} />
        <RoleRadios value={role} onChange={setRole} error={errors.field('role')} />
        <Button type="submit" busy={busy} className="btn--block">
          Create account
        </Button>
      </form>
      <p className="auth-footer">
        Already have an account? <Link to="/signin">Sign in</Link>
      </p>
    </AuthCard>
  );
}
