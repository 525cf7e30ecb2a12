/** Types of the API contract: `auth` (docs/api/auth.md), `studies` and `sharing` (docs/api/sharing.md). */

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

/** The study list's page: past 100,000 studies the server may estimate the total rather than count every match. */
export interface StudyPage extends Page<StudySummary> {
  /** false: `total` is PostgreSQL's estimate (the page's own scans did not see every match). */
  total_exact: boolean;
  /** The next page's keyset cursor (`cursor=`), or null on the last page. */
  next_cursor: string | null;
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

// Studies (GET/DELETE /api/studies, POST /api/studies/import)

/** One study as the study list shows it; identifying values are the originals, for its authorised readers. */
export interface StudySummary {
  study_uid: string;
  patient_name: string | null;
  patient_id: string | null;
  /** DICOM DA as stored, e.g. 19700101. */
  patient_birth_date: string | null;
  accession_number: string | null;
  referring_physician: string | null;
  /** ISO date, e.g. 2026-01-15. */
  study_date: string | null;
  modalities: string[];
  description: string | null;
  num_series: number;
  num_instances: number;
  uploaded_at: string | null;
  /** Identifying text may sit in the pixels, which de-identification leaves as they are: "yes" when an instance
   * says BurnedInAnnotation YES, "suspected" for a modality known for it (US, SC, OT …) that does not say. */
  burned_in: 'yes' | 'suspected' | null;
  /** What the signed-in user may do with it: their own study, or shared with them at a level. */
  access: StudyAccess;
  owner: { name: string };
}

/** date: newest study first; -date: oldest first; uploaded: most recently uploaded first. */
export type StudySort = 'date' | '-date' | 'uploaded' | '-uploaded';

/** all: mine and shared with me (the server's default); mine; shared: shared with me. */
export type StudyScope = 'all' | 'mine' | 'shared';

export interface StudyQuery extends PageQuery {
  scope?: StudyScope;
  patient_name?: string;
  patient_id?: string;
  modality?: string;
  /** YYYY-MM-DD */
  date_from?: string;
  /** YYYY-MM-DD */
  date_to?: string;
  sort?: StudySort;
}

export interface ImportedInstance {
  file: string;
  study_uid: string;
  sop_instance_uid: string;
}

export interface ImportFailure {
  file: string;
  /** A STOW-RS Failure Reason (e.g. 49152 = 0xC000) or a short code. */
  reason_code: number | string | null;
  message: string;
}

/** What a zip import stored and what it refused, file by file. */
export interface ImportResult {
  stored: ImportedInstance[];
  failed: ImportFailure[];
}

// Sharing (docs/api/sharing.md): groups, study and model shares, publication, access

/** Another user, as sharing shows them. */
export interface Person {
  id: string;
  email: string;
  name: string;
  role: SignupRole;
}

export type GroupRole = 'owner' | 'manager' | 'member';
/** The roles a member can be given; ownership moves only by transfer. */
export type MemberRole = Exclude<GroupRole, 'owner'>;

export interface Group {
  id: string;
  name: string;
  my_role: GroupRole;
  owner: Person;
  member_count: number;
  created_at: string;
}

export interface GroupMember {
  user: Person;
  role: GroupRole;
  added_at: string;
}

/** A group with its members, owner first, then by name. */
export interface GroupDetail extends Group {
  members: GroupMember[];
}

export type StudyShareLevel = 'read' | 'contribute';
export type ModelShareLevel = 'use' | 'edit';

/** What can be shared, as named in the API's paths, and the levels each is shared at. */
export interface ShareLevels {
  studies: StudyShareLevel;
  models: ModelShareLevel;
}
export type SharedKind = keyof ShareLevels;

export interface GroupRef {
  id: string;
  name: string;
  member_count: number;
}

export type Grantee = { type: 'user'; user: Person } | { type: 'group'; group: GroupRef };

export interface Share<L extends string = StudyShareLevel | ModelShareLevel> {
  id: string;
  level: L;
  grantee: Grantee;
  created_at: string;
  created_by: Person;
}

/** Who a share is for: a person by email, or one of my groups. */
export type ShareTarget = { email: string } | { group_id: string };

/** The owner and shares of a study (GET /api/shares/studies/{uid}) or a model (which adds its publication). */
export interface Shares<L extends string> {
  owner: Person;
  items: Share<L>[];
}

/** What a kind's share list adds to owner and shares: a model's published version. */
interface SharesExtra {
  studies: object;
  models: { published_version: number | null };
}

export type SharesOf<K extends SharedKind> = Shares<ShareLevels[K]> & SharesExtra[K];
export type ModelShares = SharesOf<'models'>;

export interface Publication {
  published_version: number;
}

export type StudyAccess = 'owner' | StudyShareLevel;
export type StudyAction = 'read' | 'store' | 'delete' | 'share';
export type ModelAccess = 'owner' | ModelShareLevel | 'published';
export type ModelAction = 'use' | 'edit' | 'share' | 'publish';

/** What the signed-in user may do with one study or model. */
export interface Access<A extends string, X extends string> {
  access: A;
  actions: X[];
}

/** A model someone shared with me, or published for every health professional. */
export interface SharedModel {
  id: string;
  name: string;
  owner: Person;
  access: Exclude<ModelAccess, 'owner'>;
  published_version: number | null;
}
