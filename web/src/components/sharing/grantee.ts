import type { Grantee } from '../../api';
import { plural } from '../../lib/format';

/** The name a share's grantee goes by: the person's or the group's. */
export function granteeName(grantee: Grantee): string {
  return grantee.type === 'user' ? grantee.user.name : grantee.group.name;
}

/** The line under the name: the person's email, or what the group is. */
export function granteeDetail(grantee: Grantee): string {
  return grantee.type === 'user' ? grantee.user.email : `Group · ${plural(grantee.group.member_count, 'member', 'members')}`;
}
