import { useState, type FormEvent } from 'react';
import { auth } from '../../api';
import { Alert } from '../../components/Alert';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { Section } from '../../components/Section';
import { useAction } from '../../lib/useAction';
import { useSession, useUser } from '../../session/context';

export function NameSection() {
  const user = useUser();
  const { signedIn } = useSession();
  const [name, setName] = useState(user.name);
  const [saved, setSaved] = useState(false);
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, { name: [] });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setSaved(false);
    const result = await run(() => auth.updateMe({ name }));
    if (!result.ok) return;
    signedIn(result.value);
    setName(result.value.name);
    setSaved(true);
  }

  return (
    <Section title="Name">
      <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <FormError error={errors.form} />
        {saved && <Alert tone="success">Your name was saved.</Alert>}
        <TextField label="Full name" autoComplete="name" required value={name}
          onValueChange={(value) => { setName(value); setSaved(false); }} error={errors.field('name')} />
        <Button type="submit" busy={busy}>
          Save
        </Button>
      </form>
    </Section>
  );
}
