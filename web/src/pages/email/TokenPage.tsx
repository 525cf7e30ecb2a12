import type { ReactNode } from 'react';
import { useSearchParams } from 'react-router-dom';
import { Alert } from '../../components/Alert';
import { AuthCard } from '../../components/AuthCard';
import { Loading } from '../../components/Loading';
import { useOnce } from '../../lib/useOnce';

export interface TokenPageProps {
  title: string;
  /** Key that makes the one-shot request unique per page kind. */
  kind: string;
  consume: (token: string) => Promise<unknown>;
  success: ReactNode;
  after: ReactNode;
}

/** A page that spends the `?token=` of an emailed link once and shows the outcome. */
export function TokenPage({ title, kind, consume, success, after }: TokenPageProps) {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const result = useOnce(`${kind}:${token}`, () => consume(token));
  return (
    <AuthCard title={title}>
      {result.state === 'running' && <Loading label="Checking your link…" />}
      {result.state === 'done' && <Alert tone="success">{success}</Alert>}
      {result.state === 'failed' && (
        <Alert tone="error">
          <p>{result.error.detail}</p>
        </Alert>
      )}
      {result.state !== 'running' && <p className="auth-footer">{after}</p>}
    </AuthCard>
  );
}
