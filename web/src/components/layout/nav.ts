import type { Role } from '../../api';
import { PATIENT_DATA_ROLES } from '../../lib/roles';

export interface NavItem {
  to: string;
  label: string;
  /** Roles that see the entry; every signed-in user when absent. */
  roles?: readonly Role[];
}

/** The main navigation: one line per feature. */
export const NAV_ITEMS: readonly NavItem[] = [
  { to: '/', label: 'Home' },
  { to: '/studies', label: 'Studies', roles: PATIENT_DATA_ROLES },
  { to: '/models', label: 'Models', roles: PATIENT_DATA_ROLES },
  { to: '/groups', label: 'Groups', roles: PATIENT_DATA_ROLES },
  { to: '/admin/users', label: 'Users', roles: ['admin'] },
  { to: '/admin/certificates', label: 'Certificates', roles: ['admin'] },
  { to: '/admin/audit', label: 'Audit log', roles: ['admin'] },
];

export function navItemsFor(role: Role): NavItem[] {
  return NAV_ITEMS.filter((item) => !item.roles || item.roles.includes(role));
}
