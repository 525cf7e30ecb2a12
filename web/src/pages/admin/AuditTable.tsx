import type { AuditEntry, JsonValue } from '../../api';
import { formatDateTime } from '../../lib/format';

function describe(details: JsonValue): string {
  if (details === null || details === '') return '';
  if (typeof details === 'object' && !Array.isArray(details) && Object.keys(details).length === 0) return '';
  return typeof details === 'string' ? details : JSON.stringify(details);
}

export function AuditTable({ entries, busy }: { entries: readonly AuditEntry[]; busy: boolean }) {
  return (
    <div className="table-wrap" aria-busy={busy}>
      <table className="table table--dense">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Target</th>
            <th scope="col">Address</th>
            <th scope="col">Outcome</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((entry) => (
            <tr key={entry.id}>
              <td className="nowrap">{formatDateTime(entry.at)}</td>
              <td>{entry.actor_email ?? '—'}</td>
              <td><code>{entry.action}</code></td>
              <td className="wrap">{entry.target ?? '—'}</td>
              <td className="nowrap">{entry.client_ip ?? '—'}</td>
              <td><span className={`badge badge--${entry.outcome}`}>{entry.outcome === 'success' ? 'Success' : 'Failure'}</span></td>
              <td className="details"><code>{describe(entry.details)}</code></td>
            </tr>
          ))}
          {entries.length === 0 && (
            <tr><td colSpan={7} className="empty">No audit records match these filters.</td></tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
