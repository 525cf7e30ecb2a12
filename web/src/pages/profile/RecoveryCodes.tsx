import { Alert } from '../../components/Alert';
import { Button } from '../../components/form';

/** Shows the one-time recovery codes once; the server never shows them again. */
export function RecoveryCodes({ codes, onDone }: { codes: readonly string[]; onDone: () => void }) {
  const download = `data:text/plain;charset=utf-8,${encodeURIComponent(`MedCloudCare recovery codes\n\n${codes.join('\n')}\n`)}`;
  return (
    <div className="stack-sm">
      <Alert tone="warning" title="Save your recovery codes">
        <p>Each code signs you in once if you lose your authenticator. Store them somewhere safe: they are shown only now.</p>
      </Alert>
      <ol className="recovery-codes" data-testid="recovery-codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ol>
      <div className="button-row">
        <Button onClick={onDone}>I have saved these codes</Button>
        <a className="btn btn--secondary" href={download} download="medcloudcare-recovery-codes.txt">
          Download codes
        </a>
      </div>
    </div>
  );
}
