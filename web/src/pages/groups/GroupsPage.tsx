import { Link, useLocation } from 'react-router-dom';
import { sharing, type Group } from '../../api';
import { Alert } from '../../components/Alert';
import { Button, FormError } from '../../components/form';
import { Loading } from '../../components/Loading';
import { formatDateTime } from '../../lib/format';
import { GROUP_ROLE_LABELS } from '../../lib/labels';
import { readNotice } from '../../lib/notice';
import { isAccountRefusal } from '../../lib/roles';
import { useLoad } from '../../lib/useLoad';
import { useTitle } from '../../lib/useTitle';
import { CreateGroupForm } from './CreateGroupForm';

function GroupTable({ groups, busy }: { groups: readonly Group[]; busy: boolean }) {
  return (
    <div className="table-wrap" aria-busy={busy}>
      <table className="table">
        <caption className="visually-hidden">Your groups</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Your role</th>
            <th scope="col">Members</th>
            <th scope="col">Owner</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {groups.map((group) => (
            <tr key={group.id}>
              <td className="strong"><Link to={`/groups/${encodeURIComponent(group.id)}`}>{group.name}</Link></td>
              <td><span className={`badge badge--${group.my_role}`}>{GROUP_ROLE_LABELS[group.my_role]}</span></td>
              <td className="numeric">{group.member_count.toLocaleString()}</td>
              <td>{group.owner.name}</td>
              <td className="nowrap">{formatDateTime(group.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The groups I belong to, and a form to create one. */
export function GroupsPage() {
  useTitle('Groups');
  const notice = readNotice(useLocation().state);
  const { data, error, loading, reload } = useLoad(sharing.listGroups, []);

  const header = (
    <header className="page-header">
      <h1>Groups</h1>
      <p className="muted">Share studies and models with a whole team at once. Its owner and managers choose its members.</p>
    </header>
  );
  if (error && isAccountRefusal(error)) {
    return (
      <div className="stack">
        {header}
        <Alert tone="warning" title="Groups are not available"><p>{error.detail}</p></Alert>
      </div>
    );
  }
  return (
    <div className="stack">
      {header}
      {notice && <Alert tone="success">{notice}</Alert>}
      <CreateGroupForm />
      <section className="stack-sm" aria-labelledby="your-groups">
        <h2 id="your-groups" className="section-title">Your groups</h2>
        {error && (
          <>
            <FormError error={error} />
            <div><Button variant="secondary" onClick={reload}>Try again</Button></div>
          </>
        )}
        {loading && !data ? (
          <Loading label="Loading your groups…" />
        ) : (
          data && !error && (data.items.length > 0 ? (
            <GroupTable groups={data.items} busy={loading} />
          ) : (
            <p className="empty card">You are not in any group yet. Create one above, or ask a group&apos;s owner to add you.</p>
          ))
        )}
      </section>
    </div>
  );
}
