import { useState, type FormEvent } from 'react';
import { auth, type AdminCertificate } from '../../api';
import { Alert } from '../../components/Alert';
import { Button, FormError, TextField, splitErrors } from '../../components/form';
import { formatBytes, formatDateTime } from '../../lib/format';
import { CERTIFICATE_LABELS } from '../../lib/labels';
import { useAction } from '../../lib/useAction';

export interface CertificateItemProps {
  certificate: AdminCertificate;
  onDecided: (certificate: AdminCertificate) => void;
}

/** One certificate to review: who sent it, the file, and approve / reject with a reason. */
export function CertificateItem({ certificate, onDecided }: CertificateItemProps) {
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState('');
  const { busy, error, run, clear } = useAction();
  const errors = splitErrors(error, { reason: [] });
  const { user } = certificate;

  async function approve() {
    const result = await run(() => auth.approveCertificate(certificate.id));
    if (result.ok) onDecided({ ...certificate, ...result.value });
  }

  async function reject(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const result = await run(() => auth.rejectCertificate(certificate.id, reason));
    if (result.ok) onDecided({ ...certificate, ...result.value });
  }

  return (
    <li className="card cert">
      <div className="cert-head">
        <div>
          <p className="cert-name">{user.name}</p>
          <p className="muted">{user.email}</p>
        </div>
        <span className={`badge badge--${certificate.status}`}>{CERTIFICATE_LABELS[certificate.status]}</span>
      </div>
      <p className="muted">
        Uploaded {formatDateTime(certificate.uploaded_at)} · {certificate.content_type} · {formatBytes(certificate.size)}
      </p>
      {certificate.status === 'rejected' && certificate.reason && <Alert tone="info">Reason: {certificate.reason}</Alert>}
      <FormError error={errors.form} />
      <div className="button-row">
        <a className="btn btn--secondary" href={auth.certificateFileUrl(certificate.id)} target="_blank" rel="noopener noreferrer">
          View<span className="visually-hidden"> certificate of {user.name} (opens in a new tab)</span>
        </a>
        {certificate.status === 'pending' && !rejecting && (
          <>
            <Button busy={busy} onClick={() => void approve()}>Approve</Button>
            <Button variant="danger" disabled={busy} onClick={() => setRejecting(true)}>Reject</Button>
          </>
        )}
      </div>
      {certificate.status === 'pending' && rejecting && (
        <form className="form reject-form" onSubmit={(e) => void reject(e)} noValidate aria-busy={busy}>
          <TextField label="Reason" required autoFocus maxLength={500} hint="The applicant sees this reason."
            value={reason} onValueChange={setReason} error={errors.field('reason')} />
          <div className="button-row">
            <Button type="submit" variant="danger" busy={busy}>Confirm rejection</Button>
            <Button variant="secondary" onClick={() => { clear(); setRejecting(false); }}>Cancel</Button>
          </div>
        </form>
      )}
    </li>
  );
}
