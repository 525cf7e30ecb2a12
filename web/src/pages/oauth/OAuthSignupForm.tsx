import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { auth, type PendingOAuth, type SignupRole } from '../../api';
import { AuthCard } from '../../components/AuthCard';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { RoleRadios } from '../../components/RoleRadios';
import { useAction } from '../../lib/useAction';
import { useSession } from '../../session/context';

export function OAuthSignupForm({ pending }: { pending: PendingOAuth }) {
  const navigate = useNavigate();
  const { signedIn } = useSession();
  const [name, setName] = useState(pending.name);
  const [role, setRole] = useState<SignupRole | ''>('');
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, { name: [], role: [] });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    // An unchosen role goes to the server as "", which answers with a field error for `role`.
    const result = await run(() => auth.oauthCompleteSignup({ name, role: role as SignupRole }));
    if (!result.ok) return;
    signedIn(result.value.user);
    navigate('/', { replace: true });
  }

  return (
    <AuthCard title="Create your account" lead={<>You are signing up with <strong>{pending.email}</strong> through {pending.provider}.</>}>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <FormError error={errors.form} />
        <TextField label="Full name" autoComplete="name" required value={name} onValueChange={setName} error={errors.field('name')} />
        <RoleRadios value={role} onChange={setRole} error={errors.field('role')} />
        <Button type="submit" busy={busy} className="btn--block">
          Create account
        </Button>
      </form>
    </AuthCard>
  );
}
