import { useId } from 'react';
import { Link } from 'react-router-dom';
import { studies, type StudyShareLevel, type StudySummary } from '../../api';
import { Button } from '../../components/form';
import { formatDate, formatPersonName } from '../../lib/format';

function describe(study: StudySummary): string {
  return `study of ${formatPersonName(study.patient_name)}, ${formatDate(study.study_date)}`;
}

/**
 * A study shared with me carries its level; any other is my own (as every study was before
 * sharing existed). Only the owner shares and deletes; the server checks it again.
 */
export const isSharedWithMe = (study: StudySummary): study is StudySummary & { access: StudyShareLevel } =>
  study.access === 'read' || study.access === 'contribute';

const ACCESS_HINTS: Readonly<Record<StudyShareLevel, string>> = {
  read: 'Shared with you: you may search, view and download it.',
  contribute: 'Shared with you: you may also store derived objects into it, such as measurements.',
};

/** Column widths live in studies.css (a fixed layout: long text never widens the table, it ends in an ellipsis). */
/** Why a study is flagged: de-identification changes attributes, never pixels. */
const BURNED_IN_HINTS = {
  yes: 'Its images say they have burned-in annotation: names or IDs may be visible in the pixels.',
  suspected: 'Its modality often burns text into images (ultrasound, screen captures …): check before sharing.',
} as const;

const COLUMNS = ['name', 'id', 'date', 'date', 'modalities', 'description', 'count', 'owner', 'actions'] as const;

/**
 * The page of studies as a worklist: one line per study, long text cut short with the whole of it as a tooltip,
 * and the actions in a fixed-width last column. "Open" loads the viewer in this tab (a page load: another app).
 */
export function StudyTable({ items, busy, onShare, onDelete }: {
  items: readonly StudySummary[];
  busy: boolean;
  onShare: (study: StudySummary) => void;
  onDelete: (study: StudySummary) => void;
}) {
  const id = useId();
  return (
    <div className="table-wrap" aria-busy={busy}>
      <table className="table worklist">
        <caption className="visually-hidden">Studies</caption>
        <colgroup>
          {COLUMNS.map((column, index) => <col key={index} className={`worklist-col--${column}`} />)}
        </colgroup>
        <thead>
          <tr>
            <th scope="col">Patient name</th>
            <th scope="col">Patient ID</th>
            <th scope="col">Birth date</th>
            <th scope="col">Study date</th>
            <th scope="col" aria-label="Modalities"><abbr title="Modalities">Mod.</abbr></th>
            <th scope="col">Description</th>
            <th scope="col" className="numeric" aria-label="Series / Instances"><abbr title="Series / Instances">Ser./Inst.</abbr></th>
            <th scope="col">Owner</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {items.map((study, index) => {
            const describedId = `${id}-${index}`;
            const name = formatPersonName(study.patient_name);
            const modalities = study.modalities.join(', ');
            return (
              <tr key={study.study_uid}>
                <td className="strong" title={name}>{name}</td>
                <td title={study.patient_id ?? undefined}>{study.patient_id ?? '—'}</td>
                <td>{formatDate(study.patient_birth_date)}</td>
                <td>{formatDate(study.study_date)}</td>
                <td title={modalities || undefined}>{modalities || '—'}</td>
                <td title={study.description ?? undefined}>
                  {study.burned_in && (
                    <span className="badge badge--pending" title={BURNED_IN_HINTS[study.burned_in]}>Text in images</span>
                  )}
                  {study.description ?? (study.burned_in ? '' : '—')}
                </td>
                <td className="numeric">
                  {study.num_series.toLocaleString()} / {study.num_instances.toLocaleString()}
                </td>
                {isSharedWithMe(study) ? (
                  <td title={study.owner.name}>
                    <span className="worklist-owner">
                      <span className="worklist-owner-name">{study.owner.name}</span>
                      <span className="badge badge--access" title={ACCESS_HINTS[study.access]}>{study.access}</span>
                    </span>
                  </td>
                ) : (
                  <td className="muted">You</td>
                )}
                <td className="actions">
                  <span id={describedId} hidden>{describe(study)}</span>
                  <div className="row-actions">
                    <a className="btn btn--secondary btn--small" href={studies.viewerUrl(study.study_uid)}>
                      Open<span className="visually-hidden"> {describe(study)} in the viewer</span>
                    </a>
                    <Link className="btn btn--secondary btn--small" to={`/studies/${study.study_uid}/view`}>
                      AI<span className="visually-hidden"> models on {describe(study)}, in the viewer</span>
                    </Link>
                    {!isSharedWithMe(study) && (
                      <>
                        <Button variant="secondary" className="btn--small" aria-describedby={describedId}
                          onClick={() => onShare(study)}>
                          Share
                        </Button>
                        <Button variant="danger" className="btn--small" onClick={() => onDelete(study)}>
                          Delete<span className="visually-hidden"> {describe(study)}</span>
                        </Button>
                      </>
                    )}
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
