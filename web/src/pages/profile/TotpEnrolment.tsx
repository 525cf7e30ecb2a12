import { useState, type FormEvent } from 'react';
import { auth, type TotpSetup } from '../../api';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { useAction } from '../../lib/useAction';
import { useSession } from '../../session/context';
import { RecoveryCodes } from './RecoveryCodes';

type Step = { step: 'off' } | { step: 'password' } | { step: 'scan'; setup: TotpSetup } | { step: 'codes'; codes: string[] };

/** Off → confirm password → scan QR and enter a code → save recovery codes. */
export function TotpEnrolment() {
  const { reloadUser } = useSession();
  const [state, setState] = useState<Step>({ step: 'off' });
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const { busy, error, run, clear } = useAction();
  const errors = splitErrors(error, { password: ['invalid_credentials'], code: ['invalid_code'] });

  async function startSetup(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const result = await run(() => auth.totpSetup(password));
    if (!result.ok) return;
    setPassword('');
    setState({ step: 'scan', setup: result.value });
  }

  async function confirm(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const result = await run(() => auth.totpConfirm(code.trim()));
    if (result.ok) setState({ step: 'codes', codes: result.value.recovery_codes });
  }

  function cancel() {
    clear();
    setPassword('');
    setCode('');
    setState({ step: 'off' });
  }

  switch (state.step) {
    case 'off':
      return (
        <div className="stack-sm">
          <p><span className="badge badge--muted">Off</span></p>
          <p className="muted">Protect your account with a 6-digit code from an authenticator app at every sign-in.</p>
          <div><Button onClick={() => setState({ step: 'password' })}>Set up two-factor authentication</Button></div>
        </div>
      );
    case 'password':
      return (
        <form className="form" onSubmit={(e) => void startSetup(e)} noValidate aria-busy={busy}>
          <p className="muted">Confirm it is you before changing how you sign in.</p>
          <FormError error={errors.form} />
          <TextField label="Current password" type="password" autoComplete="current-password" required autoFocus
            value={password} onValueChange={setPassword} error={errors.field('password')} />
          <div className="button-row">
            <Button type="submit" busy={busy}>Continue</Button>
            <Button variant="secondary" onClick={cancel}>Cancel</Button>
          </div>
        </form>
      );
    case 'scan':
      return (
        <form className="form" onSubmit={(e) => void confirm(e)} noValidate aria-busy={busy}>
          <p>Scan this QR code with your authenticator app, or enter the key by hand.</p>
          <img className="qr" width={200} height={200} alt="QR code for your authenticator app"
            src={`data:image/svg+xml;utf8,${encodeURIComponent(state.setup.qr_svg)}`} />
          <p className="secret">
            Key: <code data-testid="totp-secret">{state.setup.secret}</code>
          </p>
          <FormError error={errors.form} />
          <TextField label="Authentication code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]*"
            maxLength={10} required value={code} onValueChange={setCode} error={errors.field('code')} />
          <div className="button-row">
            <Button type="submit" busy={busy}>Enable</Button>
            <Button variant="secondary" onClick={cancel}>Cancel</Button>
          </div>
        </form>
      );
    case 'codes':
      return <RecoveryCodes codes={state.codes} onDone={() => void reloadUser()} />;
  }
}
