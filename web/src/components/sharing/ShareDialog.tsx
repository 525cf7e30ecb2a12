import { useRef, useState, type ReactNode } from 'react';
import { sharing, type Share, type SharedKind, type ShareLevels, type ShareTarget } from '../../api';
import { useAction } from '../../lib/useAction';
import { useLoad } from '../../lib/useLoad';
import { Alert } from '../Alert';
import { Dialog } from '../Dialog';
import { Button, FormError } from '../form';
import { Loading } from '../Loading';
import { AddShareForm } from './AddShareForm';
import { granteeName } from './grantee';
import { SHARE_LEVELS } from './levels';
import { ShareList } from './ShareList';

export interface ShareDialogProps<K extends SharedKind> {
  /** What is shared: a study (levels read/contribute) or a model (levels use/edit). */
  kind: K;
  /** The study UID or the model id. */
  resourceId: string;
  /** The dialog's name, e.g. "Share this study". */
  title: string;
  /** A line saying which study or model this is. */
  subject?: ReactNode;
  onClose: () => void;
}

/**
 * The owner's sharing of one study or model: add a person or group at a level, change a level,
 * revoke. Every change is the server's to accept; the list is read again after each one.
 */
export function ShareDialog<K extends SharedKind>({ kind, resourceId, title, subject, onClose }: ShareDialogProps<K>) {
  type Level = ShareLevels[K];
  const levels = SHARE_LEVELS[kind];
  const shares = useLoad(() => sharing.listShares(kind, resourceId), [kind, resourceId]);
  const groups = useLoad(sharing.listGroups, []);
  const change = useAction();
  const [notice, setNotice] = useState<string | null>(null);
  const email = useRef<HTMLInputElement>(null);

  async function changeLevel(share: Share<Level>, level: Level) {
    const result = await change.run(() => sharing.changeShareLevel(kind, resourceId, share.id, level));
    if (!result.ok) return;
    setNotice(`${granteeName(share.grantee)} now has ${level} access.`);
    shares.reload();
  }

  async function revoke(share: Share<Level>) {
    const result = await change.run(() => sharing.revokeShare(kind, resourceId, share.id));
    if (!result.ok) return;
    setNotice(`Access for ${granteeName(share.grantee)} was revoked.`);
    shares.reload();
  }

  return (
    <Dialog title={title} onClose={onClose} busy={change.busy} initialFocus={email} className="dialog--wide">
      {subject && <p>{subject}</p>}
      <AddShareForm levels={levels} groups={groups.data?.items ?? []} emailRef={email}
        add={(target: ShareTarget, level: Level) => sharing.addShare(kind, resourceId, target, level)}
        onAdded={(share) => {
          change.clear();
          setNotice(`Shared with ${granteeName(share.grantee)} (${share.level}).`);
          shares.reload();
        }} />
      <section className="stack-sm" aria-busy={shares.loading || change.busy}>
        <h3 className="subheading">Who has access</h3>
        {notice && <Alert tone="success">{notice}</Alert>}
        <FormError error={change.error ?? shares.error} />
        {shares.data ? (
          <ShareList owner={shares.data.owner} shares={shares.data.items} levels={levels} busy={change.busy}
            onChangeLevel={(share, level) => void changeLevel(share, level)} onRevoke={revoke} />
        ) : (
          shares.loading && <Loading label="Loading who has access…" />
        )}
      </section>
      <div className="button-row dialog-footer">
        <Button variant="secondary" onClick={onClose}>Close</Button>
      </div>
    </Dialog>
  );
}
