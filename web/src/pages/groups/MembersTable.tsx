import { useId } from 'react';
import type { GroupDetail, GroupMember, MemberRole } from '../../api';
import { ConfirmButton } from '../../components/ConfirmButton';
import { SelectField, type SelectOption } from '../../components/form';
import { formatDateTime } from '../../lib/format';
import { GROUP_ROLE_LABELS } from '../../lib/labels';

const ROLE_OPTIONS: readonly SelectOption<MemberRole>[] = [
  { value: 'member', label: GROUP_ROLE_LABELS.member },
  { value: 'manager', label: GROUP_ROLE_LABELS.manager },
];

export interface MembersTableProps {
  group: GroupDetail;
  /** The signed-in user's id: their own row says "you" and has no "Remove" (they leave instead). */
  me: string;
  busy: boolean;
  onRoleChange: (member: GroupMember, role: MemberRole) => void;
  onRemove: (member: GroupMember) => Promise<unknown>;
}

/** The members, owner first; the owner changes roles, the owner and managers remove members. */
export function MembersTable({ group, me, busy, onRoleChange, onRemove }: MembersTableProps) {
  const id = useId();
  const isOwner = group.my_role === 'owner';
  const canRemove = group.my_role !== 'member';
  return (
    <div className="table-wrap" aria-busy={busy}>
      <table className="table">
        <caption className="visually-hidden">Members</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">Added</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {group.members.map((member, index) => {
            const nameId = `${id}-${index}`;
            const mine = member.user.id === me;
            const fixed = member.role === 'owner';
            return (
              <tr key={member.user.id}>
                <td className="strong">
                  <span id={nameId}>{member.user.name}</span>
                  {mine && <span className="badge badge--accent">You</span>}
                </td>
                <td>{member.user.email}</td>
                <td>
                  {isOwner && member.role !== 'owner' ? (
                    <SelectField label={`Role of ${member.user.name}`} labelHidden value={member.role}
                      options={ROLE_OPTIONS} disabled={busy} onChange={(role) => onRoleChange(member, role)} />
                  ) : (
                    <span className={`badge badge--${member.role}`}>{GROUP_ROLE_LABELS[member.role]}</span>
                  )}
                </td>
                <td className="nowrap">{formatDateTime(member.added_at)}</td>
                <td className="actions nowrap">
                  {canRemove && !fixed && !mine && (
                    <ConfirmButton label="Remove" className="btn--small" describedBy={nameId} disabled={busy}
                      question={`Remove ${member.user.name} from the group?`} onConfirm={() => onRemove(member)} />
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
