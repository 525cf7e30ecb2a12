import { useId } from 'react';
import type { ModelDetail, ModelVersion } from '../../../api/models';
import { ConfirmButton } from '../../../components/ConfirmButton';
import { Button } from '../../../components/form';
import { formatDateTime, plural } from '../../../lib/format';
import { STATUS_BADGES, statusText } from '../labels';
import { ProblemList } from '../ProblemList';

export interface VersionsTableProps {
  model: ModelDetail;
  busy: boolean;
  onActivate: (version: ModelVersion) => void;
  onPublish: (version: ModelVersion) => void;
  onUnpublish: (version: ModelVersion) => Promise<unknown>;
}

/** Every version I may see, newest first: its status (and stage while validating), who, when, why, and its actions. */
export function VersionsTable({ model, busy, onActivate, onPublish, onUnpublish }: VersionsTableProps) {
  const id = useId();
  const canEdit = model.actions.includes('edit');
  const canPublish = model.actions.includes('publish');
  return (
    <div className="table-wrap">
      <table className="table">
        <caption className="visually-hidden">Versions</caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Status</th>
            <th scope="col">Author</th>
            <th scope="col">Published on</th>
            <th scope="col">Notes</th>
            <th scope="col">In use</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {model.versions.map((version) => {
            const nameId = `${id}-${version.version}`;
            const ready = version.status === 'ready';
            const older = model.active_version !== null && version.version < model.active_version;
            return (
              <tr key={version.version}>
                <td className="numeric" id={nameId}>Version {version.version}</td>
                <td>
                  <span className={`badge ${STATUS_BADGES[version.status]}`} data-testid="version-status">
                    {statusText(version.status, version.stage)}
                  </span>
                  {version.problems.length > 0 && (
                    <details>
                      <summary>{plural(version.problems.length, 'problem', 'problems')}</summary>
                      <ProblemList problems={version.problems} />
                    </details>
                  )}
                </td>
                <td>{version.author?.name ?? '—'}</td>
                <td className="nowrap">{formatDateTime(version.created_at)}</td>
                <td className="wrap">{version.notes || '—'}</td>
                <td>
                  {version.active && <span className="badge badge--active">Active</span>}
                  {version.published && <span className="badge badge--accent">Published</span>}
                </td>
                <td className="actions">
                  {canEdit && ready && !version.active && (
                    <Button variant="secondary" className="btn--small" disabled={busy} aria-describedby={nameId}
                      onClick={() => onActivate(version)}>
                      {older ? 'Roll back' : 'Activate'}
                    </Button>
                  )}
                  {canPublish && ready && !version.published && (
                    <Button variant="secondary" className="btn--small" disabled={busy} aria-describedby={nameId}
                      onClick={() => onPublish(version)}>
                      Publish to health professionals
                    </Button>
                  )}
                  {canPublish && version.published && (
                    <ConfirmButton label="Unpublish" className="btn--small" describedBy={nameId} disabled={busy}
                      question={`Stop health professionals running version ${version.version}?`}
                      onConfirm={() => onUnpublish(version)} />
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
