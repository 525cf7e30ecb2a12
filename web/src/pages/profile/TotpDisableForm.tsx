import { useState, type FormEvent } from 'react';
import { auth } from '../../api';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { useAction } from '../../lib/useAction';
import { useSession } from '../../session/context';

export function TotpDisableForm() {
  const { reloadUser } = useSession();
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, { password: ['invalid_credentials'], code: ['invalid_code'] });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if ((await run(() => auth.totpDisable({ password, code: code.trim() }))).ok) await reloadUser();
  }

  return (
    <div className="stack-sm">
      <p><span className="badge badge--success">Enabled</span></p>
      <p className="muted">Every sign-in asks for a code from your authenticator app.</p>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <FormError error={errors.form} />
        <TextField label="Current password" type="password" autoComplete="current-password" required
          value={password} onValueChange={setPassword} error={errors.field('password')} />
        <TextField label="Authentication code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]*"
          maxLength={10} required value={code} onValueChange={setCode} error={errors.field('code')} />
        <Button type="submit" variant="danger" busy={busy}>
          Disable two-factor authentication
        </Button>
      </form>
    </div>
  );
}
