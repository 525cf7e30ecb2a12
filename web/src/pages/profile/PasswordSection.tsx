import { useState, type FormEvent } from 'react';
import { auth } from '../../api';
import { Alert } from '../../components/Alert';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { Section } from '../../components/Section';
import { useAction } from '../../lib/useAction';

export function PasswordSection({ onChanged }: { onChanged: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [changed, setChanged] = useState(false);
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, {
    current_password: ['invalid_credentials'],
    new_password: ['weak_password'],
  });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setChanged(false);
    if (!(await run(() => auth.changePassword({ current_password: current, new_password: next }))).ok) return;
    setCurrent('');
    setNext('');
    setChanged(true);
    onChanged();
  }

  return (
    <Section title="Password">
      <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <FormError error={errors.form} />
        {changed && <Alert tone="success">Your password was changed. Your other sessions were signed out.</Alert>}
        <TextField label="Current password" type="password" autoComplete="current-password" required
          value={current} onValueChange={setCurrent} error={errors.field('current_password')} />
        <TextField label="New password" type="password" autoComplete="new-password" required
          value={next} onValueChange={setNext} error={errors.field('new_password')} />
        <Button type="submit" busy={busy}>
          Change password
        </Button>
      </form>
    </Section>
  );
}
