import { useState } from 'react';
import { auth, type AdminCertificate, type CertificateStatus } from '../../api';
import { SelectField, type SelectOption } from '../../components/form';
import { Loading } from '../../components/Loading';
import { CERTIFICATE_LABELS } from '../../lib/labels';
import { useLoad } from '../../lib/useLoad';
import { AdminPage } from './AdminPage';
import { AdminProblem } from './AdminProblem';
import { CertificateItem } from './CertificateItem';

const STATUS_OPTIONS: readonly SelectOption<CertificateStatus>[] = (
  Object.entries(CERTIFICATE_LABELS) as [CertificateStatus, string][]
).map(([value, label]) => ({ value, label }));

export function CertificatesPage() {
  const [status, setStatus] = useState<CertificateStatus>('pending');
  const { data, error, loading } = useLoad(() => auth.adminCertificates(status), [status]);
  const [decided, setDecided] = useState<ReadonlyMap<string, AdminCertificate>>(new Map());

  function onDecided(certificate: AdminCertificate) {
    setDecided((map) => new Map(map).set(certificate.id, certificate));
  }

  const items = (data?.items ?? []).map((item) => decided.get(item.id) ?? item);
  return (
    <AdminPage title="Certificates">
      <div className="filters">
        <SelectField label="Status" value={status} options={STATUS_OPTIONS}
          onChange={(value) => { setDecided(new Map()); setStatus(value); }} />
      </div>
      {error && <AdminProblem error={error} />}
      {loading && !data ? (
        <Loading />
      ) : (
        !error && (
          <ul className="cert-list" aria-busy={loading}>
            {items.map((certificate) => (
              <CertificateItem key={certificate.id} certificate={certificate} onDecided={onDecided} />
            ))}
            {items.length === 0 && <li className="empty">No {CERTIFICATE_LABELS[status].toLowerCase()} certificates.</li>}
          </ul>
        )
      )}
    </AdminPage>
  );
}
