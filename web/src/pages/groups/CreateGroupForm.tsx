import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import { sharing } from '../../api';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { Section } from '../../components/Section';
import { noticeState } from '../../lib/notice';
import { useAction } from '../../lib/useAction';

/** Create a group by name (the server checks it) and go to it, to add its members. */
export function CreateGroupForm() {
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, { name: [] });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const result = await run(() => sharing.createGroup(name.trim()));
    if (result.ok) {
      navigate(`/groups/${encodeURIComponent(result.value.id)}`, noticeState(`The group ${result.value.name} was created. Add its members below.`));
    }
  }

  return (
    <Section title="Create a group">
      <form className="form form--inline" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <FormError error={errors.form} />
        <TextField label="Group name" autoComplete="off" maxLength={100} value={name} onValueChange={setName}
          hint="For example, the team you share studies with." error={errors.field('name')} />
        <div className="button-row">
          <Button type="submit" busy={busy}>Create group</Button>
        </div>
      </form>
    </Section>
  );
}
