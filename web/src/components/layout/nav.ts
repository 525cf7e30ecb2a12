import type { Role } from '../../api';

export interface NavItem {
  to: string;
  label: string;
  /** Roles that see the entry; every signed-in user when absent. */
  roles?: readonly Role[];
}

/** The main navigation. Later features (e.g. "Studies" at /studies) add their entry here. */
export const NAV_ITEMS: readonly NavItem[] = [
  { to: '/', label: 'Home' },
  { to: '/admin/users', label: 'Users', roles: ['admin'] },
  { to: '/admin/certificates', label: 'Certificates', roles: ['admin'] },
  { to: '/admin/audit', label: 'Audit log', roles: ['admin'] },
];

export function navItemsFor(role: Role): NavItem[] {
  return NAV_ITEMS.filter((item) => !item.roles || item.roles.includes(role));
}
