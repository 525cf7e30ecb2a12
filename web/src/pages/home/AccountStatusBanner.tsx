import { Link } from 'react-router-dom';
import type { User } from '../../api';
import { Alert } from '../../components/Alert';
import { CERTIFICATE_LABELS } from '../../lib/labels';

/** Explains why a pending or rejected account cannot do everything yet. */
export function AccountStatusBanner({ user }: { user: User }) {
  const { certificate } = user;
  if (user.status === 'pending') {
    return (
      <Alert tone="warning" title="Your account is awaiting approval">
        {certificate ? (
          <p>
            Medical certificate: <strong>{CERTIFICATE_LABELS[certificate.status]}</strong>.
            {certificate.status === 'rejected' && certificate.reason && <> Reason: {certificate.reason}.</>}
            {certificate.status === 'pending' && ' An administrator will review it soon.'}
          </p>
        ) : (
          <p>
            Medical certificate: <strong>not uploaded yet</strong>. <Link to="/profile">Upload it from your profile</Link> so
            an administrator can approve your account.
          </p>
        )}
        {certificate?.status === 'rejected' && (
          <p>
            <Link to="/profile">Upload a new certificate</Link>
          </p>
        )}
      </Alert>
    );
  }
  if (user.status === 'rejected') {
    return (
      <Alert tone="error" title="Your account was not approved">
        {certificate?.reason && <p>Reason: {certificate.reason}</p>}
        <p>
          <Link to="/profile">Upload a new medical certificate</Link>
        </p>
      </Alert>
    );
  }
  return null;
}
