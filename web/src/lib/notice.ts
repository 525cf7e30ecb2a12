/** A success message carried to the next page in the router's location state ("You left the group."). */
export interface NoticeState {
  notice: string;
}

export function noticeState(notice: string): { state: NoticeState } {
  return { state: { notice } };
}

export function readNotice(state: unknown): string | null {
  if (typeof state !== 'object' || state === null) return null;
  const notice = (state as Partial<NoticeState>).notice;
  return typeof notice === 'string' ? notice : null;
}
