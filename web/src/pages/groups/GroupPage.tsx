import { useState } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router-dom';
import { sharing, type GroupMember, type MemberRole } from '../../api';
import { Alert } from '../../components/Alert';
import { FormError } from '../../components/form';
import { Loading } from '../../components/Loading';
import { Section } from '../../components/Section';
import { plural } from '../../lib/format';
import { GROUP_ROLE_LABELS } from '../../lib/labels';
import { noticeState, readNotice } from '../../lib/notice';
import { isAccountRefusal } from '../../lib/roles';
import { useAction } from '../../lib/useAction';
import { useLoad } from '../../lib/useLoad';
import { useTitle } from '../../lib/useTitle';
import { useUser } from '../../session/context';
import { AddMemberForm } from './AddMemberForm';
import { GroupSettings } from './GroupSettings';
import { MembersTable } from './MembersTable';

const BACK = <p><Link to="/groups">All groups</Link></p>;

/** One group: its members and, by my role in it, adding, removing, roles, ownership, deleting, leaving. */
export function GroupPage() {
  const { groupId = '' } = useParams();
  const user = useUser();
  const navigate = useNavigate();
  const location = useLocation();
  const { data: group, error, reload } = useLoad(() => sharing.getGroup(groupId), [groupId]);
  const action = useAction();
  const [notice, setNotice] = useState<string | null>(readNotice(location.state));
  useTitle(group?.name ?? 'Group');

  /** Run a change; on success say what happened and read the group again. */
  async function change(task: () => Promise<unknown>, done: string) {
    setNotice(null);
    if ((await action.run(task)).ok) {
      setNotice(done);
      reload();
    }
  }

  /** Run a change after which this page has nothing to show; go back to the list with a notice. */
  async function leavePage(task: () => Promise<unknown>, done: string) {
    setNotice(null);
    if ((await action.run(task)).ok) navigate('/groups', noticeState(done));
  }

  if (error && isAccountRefusal(error)) {
    return <div className="stack">{BACK}<Alert tone="warning" title="Groups are not available"><p>{error.detail}</p></Alert></div>;
  }
  if (!group) {
    return <div className="stack">{BACK}{error ? <FormError error={error} /> : <Loading label="Loading the group…" />}</div>;
  }

  const setRole = (member: GroupMember, role: MemberRole) =>
    void change(() => sharing.setMemberRole(group.id, member.user.id, role),
      `${member.user.name} is now a ${GROUP_ROLE_LABELS[role].toLowerCase()}.`);
  const remove = (member: GroupMember) =>
    change(() => sharing.removeMember(group.id, member.user.id), `${member.user.name} was removed from the group.`);

  return (
    <div className="stack">
      {BACK}
      <header className="page-header">
        <h1>{group.name}</h1>
        <p className="muted">
          Owned by {group.owner.name} · {plural(group.member_count, 'member', 'members')} · your role: {GROUP_ROLE_LABELS[group.my_role].toLowerCase()}
        </p>
      </header>
      {notice && <Alert tone="success">{notice}</Alert>}
      <FormError error={action.error ?? error} />
      <Section title="Members">
        {group.my_role !== 'member' && (
          <AddMemberForm group={group} canAddManagers={group.my_role === 'owner'}
            onAdded={(email) => { setNotice(`${email} was added to the group.`); reload(); }} />
        )}
        <MembersTable group={group} me={user.id} busy={action.busy} onRoleChange={setRole} onRemove={remove} />
      </Section>
      <GroupSettings group={group} busy={action.busy}
        onRenamed={() => { setNotice('The group was renamed.'); reload(); }}
        onTransfer={(userId, name) => change(() => sharing.transferOwnership(group.id, userId),
          `${name} now owns the group; you are a manager.`)}
        onDelete={() => leavePage(() => sharing.deleteGroup(group.id), `The group ${group.name} was deleted.`)}
        onLeave={() => leavePage(() => sharing.removeMember(group.id, user.id), `You left the group ${group.name}.`)} />
    </div>
  );
}
