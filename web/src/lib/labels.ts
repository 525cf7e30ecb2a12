import type { CertificateStatus, GroupRole, Role, UserStatus } from '../api';

export const ROLE_LABELS: Readonly<Record<Role, string>> = {
  researcher: 'Researcher',
  health_professional: 'Health professional',
  admin: 'Administrator',
};

export const STATUS_LABELS: Readonly<Record<UserStatus, string>> = {
  active: 'Active',
  pending: 'Pending approval',
  rejected: 'Rejected',
  deactivated: 'Deactivated',
};

export const CERTIFICATE_LABELS: Readonly<Record<CertificateStatus, string>> = {
  pending: 'Pending review',
  approved: 'Approved',
  rejected: 'Rejected',
};

export const GROUP_ROLE_LABELS: Readonly<Record<GroupRole, string>> = {
  owner: 'Owner',
  manager: 'Manager',
  member: 'Member',
};
