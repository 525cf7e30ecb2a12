import { useId, useRef, useState, type FormEvent } from 'react';
import { auth } from '../../api';
import { Alert } from '../../components/Alert';
import { Button, FormError, splitErrors } from '../../components/form';
import { Section } from '../../components/Section';
import { formatDateTime } from '../../lib/format';
import { CERTIFICATE_LABELS } from '../../lib/labels';
import { useAction } from '../../lib/useAction';
import { useSession, useUser } from '../../session/context';

const ACCEPT = '.pdf,.png,.jpg,.jpeg';

/** A health professional's certificate: its review status and an upload with progress. */
export function CertificateSection() {
  const { certificate, status } = useUser();
  const { reloadUser } = useSession();
  const inputId = useId();
  const inputRef = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [uploaded, setUploaded] = useState(false);
  const [missingFile, setMissingFile] = useState(false);
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, { file: ['too_large', 'unsupported_type'] });

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!file) {
      setMissingFile(true);
      inputRef.current?.focus();
      return;
    }
    setUploaded(false);
    setProgress(0);
    const result = await run(() => auth.uploadCertificate(file, setProgress));
    setProgress(null);
    if (!result.ok) return;
    setUploaded(true);
    setFile(null);
    if (inputRef.current) inputRef.current.value = '';
    await reloadUser();
  }

  const fileError = errors.field('file') ?? (missingFile ? 'Choose a file to upload.' : undefined);
  return (
    <Section title="Medical certificate">
      {certificate ? (
        <div className="certificate-status">
          <p>
            Status: <span className={`badge badge--${certificate.status}`}>{CERTIFICATE_LABELS[certificate.status]}</span>
          </p>
          <p className="muted">Uploaded {formatDateTime(certificate.uploaded_at)}</p>
          {certificate.status === 'rejected' && certificate.reason && (
            <Alert tone="error" title="Reason for rejection">
              <p>{certificate.reason}</p>
            </Alert>
          )}
        </div>
      ) : (
        <p className="muted">
          {status === 'active'
            ? 'Your account is approved.'
            : 'No certificate uploaded yet. An administrator approves your account once it is reviewed.'}
        </p>
      )}
      {status !== 'active' && (
      <form className="form" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <FormError error={errors.form} />
        {uploaded && <Alert tone="success">Your certificate was uploaded and is waiting for review.</Alert>}
        <div className={`field${fileError ? ' field--invalid' : ''}`}>
          <label className="field-label" htmlFor={inputId}>
            Medical certificate
          </label>
          <p className="field-hint" id={`${inputId}-hint`}>PDF, PNG or JPEG, up to 5 MB.</p>
          <input ref={inputRef} id={inputId} className="input input--file" type="file" accept={ACCEPT}
            aria-describedby={`${inputId}-hint${fileError ? ` ${inputId}-error` : ''}`} aria-invalid={fileError ? true : undefined}
            onChange={(event) => {
              setFile(event.target.files?.[0] ?? null);
              setMissingFile(false);
            }} />
          {fileError && <p className="field-error" id={`${inputId}-error`}>{fileError}</p>}
        </div>
        {progress !== null && (
          <div className="progress">
            <progress max={1} value={progress} aria-label="Upload progress" />
            <span>{Math.round(progress * 100)}%</span>
          </div>
        )}
        <div>
          <Button type="submit" busy={busy}>Upload certificate</Button>
        </div>
      </form>
      )}
    </Section>
  );
}
