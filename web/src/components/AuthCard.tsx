import type { ReactNode } from 'react';
import { useTitle } from '../lib/useTitle';

/** The card of a public page: a heading, an optional lead, the content. */
export function AuthCard({ title, lead, children }: { title: string; lead?: ReactNode; children: ReactNode }) {
  useTitle(title);
  return (
    <div className="card auth-card">
      <h1 className="auth-title">{title}</h1>
      {lead && <p className="auth-lead">{lead}</p>}
      {children}
    </div>
  );
}
