import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { auth } from '../../api';
import { AuthCard } from '../../components/AuthCard';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { safeNext } from '../../lib/redirect';
import { useGoTo } from '../../lib/useGoTo';
import { useAction } from '../../lib/useAction';
import { useSession } from '../../session/context';

const CODE_ERRORS = ['invalid_code', 'code_replayed'] as const;

export function TwoFactorPage() {
  const [params] = useSearchParams();
  const goTo = useGoTo();
  const { signedIn } = useSession();
  const [useRecovery, setUseRecovery] = useState(false);
  const [code, setCode] = useState('');
  const [recoveryCode, setRecoveryCode] = useState('');
  const { busy, error, run, clear } = useAction();
  const errors = splitErrors(error, { code: CODE_ERRORS, recovery_code: CODE_ERRORS });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const proof = useRecovery ? { recovery_code: recoveryCode.trim() } : { code: code.trim() };
    const result = await run(() => auth.logInMfa(proof));
    if (!result.ok) return;
    signedIn(result.value.user);
    goTo(safeNext(params.get('next')));
  }

  function toggle() {
    clear();
    setUseRecovery((value) => !value);
  }

  return (
    <AuthCard
      title="Two-step verification"
      lead={useRecovery ? 'Enter one of the recovery codes you saved when you set up two-factor authentication.' : 'Enter the 6-digit code from your authenticator app.'}
    >
      <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <FormError error={errors.form} />
        {error?.code === 'mfa_expired' && (
          <p>
            <Link to="/signin">Sign in again</Link>
          </p>
        )}
        {useRecovery ? (
          <TextField key="recovery" label="Recovery code" autoComplete="off" autoCapitalize="none" spellCheck={false}
            required autoFocus value={recoveryCode} onValueChange={setRecoveryCode}
            error={errors.field('recovery_code')} />
        ) : (
          <TextField key="code" label="Authentication code" inputMode="numeric" autoComplete="one-time-code"
            pattern="[0-9]*" maxLength={10} required autoFocus value={code} onValueChange={setCode}
            error={errors.field('code')} />
        )}
        <Button type="submit" busy={busy} className="btn--block">
          Verify
        </Button>
      </form>
      <p className="auth-footer">
        <Button variant="link" onClick={toggle}>
          {useRecovery ? 'Use an authentication code' : 'Use a recovery code'}
        </Button>
      </p>
    </AuthCard>
  );
}
