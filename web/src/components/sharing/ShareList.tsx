import { useId } from 'react';
import type { Person, Share } from '../../api';
import { ConfirmButton } from '../ConfirmButton';
import { SelectField } from '../form';
import { granteeDetail, granteeName } from './grantee';
import type { Levels } from './levels';

export interface ShareListProps<L extends string> {
  owner: Person;
  shares: readonly Share<L>[];
  levels: Levels<L>;
  busy: boolean;
  onChangeLevel: (share: Share<L>, level: L) => void;
  onRevoke: (share: Share<L>) => Promise<unknown>;
}

/** Who has access: the owner, then each share with its level (changeable) and "Revoke". */
export function ShareList<L extends string>({ owner, shares, levels, busy, onChangeLevel, onRevoke }: ShareListProps<L>) {
  const id = useId();
  return (
    <ul className="share-list" aria-label="Who has access">
      <li className="share">
        <div className="share-who">
          <p className="strong">{owner.name}</p>
          <p className="muted">{owner.email}</p>
        </div>
        <span className="badge badge--accent">Owner</span>
      </li>
      {shares.map((share) => {
        const nameId = `${id}-${share.id}`;
        const name = granteeName(share.grantee);
        return (
          <li className="share" key={share.id}>
            <div className="share-who">
              <p className="strong" id={nameId}>{name}</p>
              <p className="muted">{granteeDetail(share.grantee)}</p>
            </div>
            <div className="share-actions">
              <SelectField label="Access" labelHidden describedBy={nameId} value={share.level} options={levels}
                disabled={busy} onChange={(level) => onChangeLevel(share, level)} />
              <ConfirmButton label="Revoke" className="btn--small" describedBy={nameId} disabled={busy}
                question={`Revoke access for ${name}?`} onConfirm={() => onRevoke(share)} />
            </div>
          </li>
        );
      })}
      {shares.length === 0 && <li className="share muted">Not shared with anyone yet.</li>}
    </ul>
  );
}
