import type { ReactNode } from 'react';
import { useTitle } from '../../lib/useTitle';

export function AdminPage({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  useTitle(title);
  return (
    <div className="stack">
      <header className="page-header page-header--row">
        <h1>{title}</h1>
        {actions}
      </header>
      {children}
    </div>
  );
}
