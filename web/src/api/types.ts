/** Types of the `auth` API contract (docs/api/auth.md). */

export type Role = 'researcher' | 'health_professional' | 'admin';
export type SignupRole = Exclude<Role, 'admin'>;
export type UserStatus = 'active' | 'pending' | 'rejected' | 'deactivated';
export type CertificateStatus = 'pending' | 'approved' | 'rejected';

export interface Certificate {
  id: string;
  status: CertificateStatus;
  reason: string | null;
  uploaded_at: string;
}

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  status: UserStatus;
  email_verified: boolean;
  totp_enabled: boolean;
  created_at: string;
  certificate: Certificate | null;
}

export type LoginResult = { status: 'ok'; user: User } | { status: 'mfa_required' };
export type MfaProof = { code: string } | { recovery_code: string };

export interface SignedIn {
  status: 'ok';
  user: User;
}

export interface Status<S extends string> {
  status: S;
}

export interface OAuthProvider {
  name: string;
  display_name: string;
}

export interface PendingOAuth {
  kind: 'signup' | 'link';
  email: string;
  name: string;
  provider: string;
}

export interface Session {
  id: string;
  device: string;
  ip: string;
  created_at: string;
  last_used_at: string;
  current: boolean;
}

export interface TotpSetup {
  secret: string;
  otpauth_uri: string;
  qr_svg: string;
}

export interface RecoveryCodes {
  recovery_codes: string[];
}

export interface Items<T> {
  items: T[];
}

export interface Page<T> extends Items<T> {
  total: number;
}

export interface PageQuery {
  limit?: number;
  offset?: number;
}

export interface AdminUserQuery extends PageQuery {
  q?: string;
  role?: Role | '';
  status?: UserStatus | '';
}

export interface AdminCertificate extends Certificate {
  content_type: string;
  size: number;
  user: Pick<User, 'id' | 'email' | 'name'>;
}

export type AuditOutcome = 'success' | 'failure';

export interface AuditQuery extends PageQuery {
  action?: string;
  actor?: string;
  outcome?: AuditOutcome | '';
  since?: string;
  until?: string;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface AuditEntry {
  id: string | number;
  at: string;
  actor_email: string | null;
  action: string;
  target: string | null;
  client_ip: string | null;
  outcome: AuditOutcome;
  details: JsonValue;
}

export interface ChainVerification {
  ok: boolean;
  checked: number;
  first_broken_id: string | number | null;
}
