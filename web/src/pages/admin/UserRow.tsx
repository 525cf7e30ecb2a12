import type { User } from '../../api';
import { Button } from '../../components/form';
import { ROLE_LABELS, STATUS_LABELS } from '../../lib/labels';

export function UserRow({ user, busy, onSetActive }: { user: User; busy: boolean; onSetActive: (active: boolean) => void }) {
  const deactivated = user.status === 'deactivated';
  return (
    <tr>
      <td>{user.name}</td>
      <td>{user.email}</td>
      <td>{ROLE_LABELS[user.role]}</td>
      <td><span className={`badge badge--${user.status}`}>{STATUS_LABELS[user.status]}</span></td>
      <td>{user.totp_enabled ? 'On' : 'Off'}</td>
      <td className="actions">
        {deactivated ? (
          <Button variant="secondary" disabled={busy} onClick={() => onSetActive(true)} aria-label={`Reactivate ${user.name}`}>
            Reactivate
          </Button>
        ) : (
          <Button variant="danger" disabled={busy} onClick={() => onSetActive(false)} aria-label={`Deactivate ${user.name}`}>
            Deactivate
          </Button>
        )}
      </td>
    </tr>
  );
}
