import { useState, type FormEvent } from 'react';
import { auth } from '../../api';
import { Alert } from '../../components/Alert';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { Section } from '../../components/Section';
import { useAction } from '../../lib/useAction';

export function EmailSection() {
  const [newEmail, setNewEmail] = useState('');
  const [password, setPassword] = useState('');
  const [sentTo, setSentTo] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, { new_email: [], password: ['invalid_credentials'] });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setSentTo(null);
    if (!(await run(() => auth.changeEmail({ new_email: newEmail, password }))).ok) return;
    setSentTo(newEmail);
    setNewEmail('');
    setPassword('');
  }

  return (
    <Section title="Email address">
      <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <FormError error={errors.form} />
        {sentTo && (
          <Alert tone="success">
            We sent a confirmation link to <strong>{sentTo}</strong>. Your address changes when you open it.
          </Alert>
        )}
        <TextField label="New email" type="email" autoComplete="email" required
          value={newEmail} onValueChange={setNewEmail} error={errors.field('new_email')} />
        <TextField label="Current password" type="password" autoComplete="current-password" required
          value={password} onValueChange={setPassword} error={errors.field('password')} />
        <Button type="submit" busy={busy}>
          Change email
        </Button>
      </form>
    </Section>
  );
}
