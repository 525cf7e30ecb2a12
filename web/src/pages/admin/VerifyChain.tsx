import { useState } from 'react';
import { auth, type ChainVerification } from '../../api';
import { Button, FormError } from '../../components/form';
import { useAction } from '../../lib/useAction';

/** Asks the server to re-check the audit log's hash chain and shows its answer. */
export function VerifyChain() {
  const [result, setResult] = useState<ChainVerification | null>(null);
  const { busy, error, run } = useAction();

  async function verify() {
    setResult(null);
    const outcome = await run(auth.verifyAuditChain);
    if (outcome.ok) setResult(outcome.value);
  }

  return (
    <div className="verify-chain">
      <Button variant="secondary" busy={busy} onClick={() => void verify()}>Verify chain</Button>
      <div aria-live="polite">
        {result && (
          <p className={`verify-result verify-result--${result.ok ? 'ok' : 'broken'}`} data-testid="chain-result">
            {result.ok
              ? `Chain intact: ${result.checked} records checked.`
              : `Chain broken at record ${String(result.first_broken_id)} (${result.checked} records checked).`}
          </p>
        )}
      </div>
      <FormError error={error} />
    </div>
  );
}
