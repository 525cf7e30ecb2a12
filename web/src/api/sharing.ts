/** Typed functions for every endpoint of the `sharing` function (docs/api/sharing.md). */
import { request } from './http';
import type {
  Access, GroupDetail, Group, Items, MemberRole, ModelAccess, ModelAction, Publication, Share, SharedKind,
  SharedModel, ShareLevels, SharesOf, ShareTarget, StudyAccess, StudyAction,
} from './types';

const GROUPS = '/api/groups';
const SHARES = '/api/shares';
const ACCESS = '/api/access';
const id = (value: string): string => encodeURIComponent(value);

// Groups
export const listGroups = () => request<Items<Group>>('GET', GROUPS);
export const createGroup = (name: string) => request<GroupDetail>('POST', GROUPS, { body: { name } });
export const getGroup = (groupId: string) => request<GroupDetail>('GET', `${GROUPS}/${id(groupId)}`);
export const renameGroup = (groupId: string, name: string) =>
  request<GroupDetail>('PATCH', `${GROUPS}/${id(groupId)}`, { body: { name } });
/** Only its owner may delete a group; its shares go with it. */
export const deleteGroup = (groupId: string) => request<undefined>('DELETE', `${GROUPS}/${id(groupId)}`);

/** Add an active user by email; only the owner may make them a manager (the server's default is member). */
export const addMember = (groupId: string, member: { email: string; role?: MemberRole }) =>
  request<GroupDetail>('POST', `${GROUPS}/${id(groupId)}/members`, { body: member });
export const setMemberRole = (groupId: string, userId: string, role: MemberRole) =>
  request<GroupDetail>('PATCH', `${GROUPS}/${id(groupId)}/members/${id(userId)}`, { body: { role } });
/** Remove a member; with my own id this is leaving the group. */
export const removeMember = (groupId: string, userId: string) =>
  request<undefined>('DELETE', `${GROUPS}/${id(groupId)}/members/${id(userId)}`);
/** Make a current member the owner; the former owner becomes a manager. */
export const transferOwnership = (groupId: string, userId: string) =>
  request<GroupDetail>('POST', `${GROUPS}/${id(groupId)}/owner`, { body: { user_id: userId } });

// Study and model shares: the same endpoints under /api/shares/{studies|models}/{id}
const sharesPath = (kind: SharedKind, resourceId: string): string => `${SHARES}/${kind}/${id(resourceId)}`;

export const listShares = <K extends SharedKind>(kind: K, resourceId: string) =>
  request<SharesOf<K>>('GET', sharesPath(kind, resourceId));
/** Share with a person (by email) or one of my groups; the grantee, or every member but me, is emailed. */
export const addShare = <K extends SharedKind>(kind: K, resourceId: string, target: ShareTarget, level: ShareLevels[K]) =>
  request<Share<ShareLevels[K]>>('POST', sharesPath(kind, resourceId), { body: { ...target, level } });
export const changeShareLevel = <K extends SharedKind>(kind: K, resourceId: string, shareId: string, level: ShareLevels[K]) =>
  request<Share<ShareLevels[K]>>('PATCH', `${sharesPath(kind, resourceId)}/${id(shareId)}`, { body: { level } });
/** Revoking takes effect on the grantee's very next request. */
export const revokeShare = (kind: SharedKind, resourceId: string, shareId: string) =>
  request<undefined>('DELETE', `${sharesPath(kind, resourceId)}/${id(shareId)}`);

// Model publication: every active health professional may run the published version
export const publishModel = (modelId: string, version: number) =>
  request<Publication>('PUT', `${sharesPath('models', modelId)}/publication`, { body: { version } });
export const unpublishModel = (modelId: string) =>
  request<undefined>('DELETE', `${sharesPath('models', modelId)}/publication`);

/** Models shared with me (or published), each with my access and its published version. */
export const sharedModels = () =>
  request<Items<SharedModel>>('GET', `${SHARES}/models`, { query: { scope: 'shared' } });

// What may I do?
export const studyAccess = (studyUid: string) =>
  request<Access<StudyAccess, StudyAction>>('GET', `${ACCESS}/studies/${id(studyUid)}`);
export const modelAccess = (modelId: string) =>
  request<Access<ModelAccess, ModelAction>>('GET', `${ACCESS}/models/${id(modelId)}`);
