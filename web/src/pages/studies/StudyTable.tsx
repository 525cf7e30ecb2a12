import { studies, type StudySummary } from '../../api';
import { Button } from '../../components/form';
import { formatDate, formatPersonName } from '../../lib/format';

function describe(study: StudySummary): string {
  return `study of ${formatPersonName(study.patient_name)}, ${formatDate(study.study_date)}`;
}

/** The page of studies; "Open" loads the viewer in this tab (a page load: it is another app). */
export function StudyTable({ items, busy, onDelete }: {
  items: readonly StudySummary[];
  busy: boolean;
  onDelete: (study: StudySummary) => void;
}) {
  return (
    <div className="table-wrap" aria-busy={busy}>
      <table className="table">
        <caption className="visually-hidden">Studies</caption>
        <thead>
          <tr>
            <th scope="col">Patient name</th>
            <th scope="col">Patient ID</th>
            <th scope="col">Birth date</th>
            <th scope="col">Study date</th>
            <th scope="col">Modalities</th>
            <th scope="col">Description</th>
            <th scope="col">Series / Instances</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {items.map((study) => (
            <tr key={study.study_uid}>
              <td className="strong" title={study.patient_name ?? undefined}>{formatPersonName(study.patient_name)}</td>
              <td>{study.patient_id ?? '—'}</td>
              <td className="nowrap">{formatDate(study.patient_birth_date)}</td>
              <td className="nowrap">{formatDate(study.study_date)}</td>
              <td>{study.modalities.length > 0 ? study.modalities.join(', ') : '—'}</td>
              <td className="wrap">{study.description ?? '—'}</td>
              <td className="nowrap numeric">
                {study.num_series.toLocaleString()} / {study.num_instances.toLocaleString()}
              </td>
              <td className="actions nowrap">
                <a className="btn btn--secondary btn--small" href={studies.viewerUrl(study.study_uid)}>
                  Open<span className="visually-hidden"> {describe(study)} in the viewer</span>
                </a>
                <Button variant="danger" className="btn--small" onClick={() => onDelete(study)}>
                  Delete<span className="visually-hidden"> {describe(study)}</span>
                </Button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
