import { studies } from '../../api';
import { Alert } from '../../components/Alert';
import { formatDate, formatPersonName, plural } from '../../lib/format';
import { useLoad } from '../../lib/useLoad';
import type { UploadReport } from './uploadJob';

const MAX_STUDY_ROWS = 50;

/** One study the upload stored into, named by its patient once the server says who that is. */
function StoredStudy({ studyUid, count }: { studyUid: string; count: number }) {
  const { data } = useLoad(() => studies.getStudy(studyUid), [studyUid]);
  const name = data ? formatPersonName(data.patient_name) : null;
  return (
    <tr>
      <td>
        {data ? (
          <>
            <span className="strong">{name}</span>
            <span className="muted"> · {[formatDate(data.study_date), data.modalities.join(', '), data.description].filter(Boolean).join(' · ')}</span>
          </>
        ) : (
          <code className="uid">{studyUid}</code>
        )}
      </td>
      <td className="nowrap numeric">{count.toLocaleString()}</td>
      <td className="actions">
        <a className="btn btn--secondary btn--small" href={studies.viewerUrl(studyUid)}>
          Open<span className="visually-hidden"> {name ? `study of ${name}` : 'study'} in the viewer</span>
        </a>
      </td>
    </tr>
  );
}

export type UploadEnd = 'running' | 'finished' | 'stopped' | 'cancelled';

/** What the server stored, per study, and every file it did not store with its reason. */
export function UploadSummary({ report, end }: { report: UploadReport; end: UploadEnd }) {
  const entries = Array.from(report.studies.entries());
  const failed = report.failures.length;
  const headline = `${plural(report.stored, 'instance', 'instances')} stored in ${plural(entries.length, 'study', 'studies')}`;
  return (
    <div className="upload-summary" data-testid="upload-summary">
      {end === 'stopped' && (
        <Alert tone="warning" title="Upload stopped">
          <p>{headline} before it stopped{failed > 0 && `; ${plural(failed, 'file', 'files')} not stored`}.</p>
        </Alert>
      )}
      {end === 'cancelled' && (
        <Alert tone="info" title="Upload cancelled">
          <p>{headline} before you cancelled. What the server had already stored stays stored: the study list shows it.</p>
        </Alert>
      )}
      {end === 'finished' && (
        <Alert tone={failed > 0 ? 'warning' : 'success'} title={failed > 0 ? 'Upload finished with problems' : 'Upload finished'}>
          <p>
            {headline}
            {failed > 0 && `; ${plural(failed, 'file', 'files')} not stored`}.
          </p>
        </Alert>
      )}
      {entries.length > 0 && (
        <div className="table-wrap">
          <table className="table table--dense">
            <caption className="visually-hidden">Studies stored by this upload</caption>
            <thead>
              <tr>
                <th scope="col">Study</th>
                <th scope="col">Instances stored</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {entries.slice(0, MAX_STUDY_ROWS).map(([studyUid, count]) => (
                <StoredStudy key={studyUid} studyUid={studyUid} count={count} />
              ))}
              {entries.length > MAX_STUDY_ROWS && (
                <tr><td colSpan={3} className="muted">and {plural(entries.length - MAX_STUDY_ROWS, 'more study', 'more studies')}</td></tr>
              )}
            </tbody>
          </table>
        </div>
      )}
      {failed > 0 && (
        <div className="stack-sm">
          <h3 className="subheading">Not stored ({failed.toLocaleString()})</h3>
          <div className="table-wrap">
            <table className="table table--dense">
              <caption className="visually-hidden">Files that were not stored, with the reason</caption>
              <thead>
                <tr>
                  <th scope="col">File</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {report.failures.map((failure, index) => (
                  <tr key={`${index}-${failure.file}`}>
                    <td className="wrap">{failure.file}</td>
                    <td>
                      {failure.reason}
                      {failure.comment && <span className="muted"> — {failure.comment}</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </div>
  );
}
