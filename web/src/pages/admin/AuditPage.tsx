import { useState } from 'react';
import { auth, type AuditQuery } from '../../api';
import { Loading } from '../../components/Loading';
import { Pagination } from '../../components/Pagination';
import { useLoad } from '../../lib/useLoad';
import { AdminPage } from './AdminPage';
import { AdminProblem } from './AdminProblem';
import { AuditFilters, EMPTY_AUDIT_FILTERS, type AuditFilterValues } from './AuditFilters';
import { AuditTable } from './AuditTable';
import { VerifyChain } from './VerifyChain';

const LIMIT = 50;

export function AuditPage() {
  const [filters, setFilters] = useState<AuditFilterValues>(EMPTY_AUDIT_FILTERS);
  const [offset, setOffset] = useState(0);
  const query: AuditQuery = { ...filters, limit: LIMIT, offset };
  const { data, error, loading } = useLoad(() => auth.auditLog(query), [filters, offset]);

  return (
    <AdminPage title="Audit log" actions={<VerifyChain />}>
      <AuditFilters initial={filters} onApply={(next) => { setFilters(next); setOffset(0); }} />
      {error && <AdminProblem error={error} />}
      {loading && !data ? <Loading /> : data && !error && <AuditTable entries={data.items} busy={loading} />}
      {data && !error && <Pagination offset={offset} limit={LIMIT} total={data.total} onOffsetChange={setOffset} />}
    </AdminPage>
  );
}
