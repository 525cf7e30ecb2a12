import { useEffect, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { studies, type StudyScope, type StudySort, type StudySummary } from '../../api';
import { Alert } from '../../components/Alert';
import { Button, FormError, RadioGroup, SelectField, splitErrors, type RadioOption, type SelectOption } from '../../components/form';
import { Loading } from '../../components/Loading';
import { Pagination } from '../../components/Pagination';
import { ShareDialog } from '../../components/sharing/ShareDialog';
import { formatDate, formatPersonName, plural } from '../../lib/format';
import { isAccountRefusal } from '../../lib/roles';
import { useLoad } from '../../lib/useLoad';
import { useTitle } from '../../lib/useTitle';
import { DeleteStudyDialog } from './DeleteStudyDialog';
import { hasFilters, listStateToParams, PAGE_SIZE, readListState, toStudyQuery, type StudyListState } from './query';
import { StudyFilters } from './StudyFilters';
import { StudyTable } from './StudyTable';
import { UploadPanel } from './UploadPanel';
import './studies.css';

const SORT_OPTIONS: readonly SelectOption<StudySort>[] = [
  { value: 'date', label: 'Newest first' },
  { value: '-date', label: 'Oldest first' },
  { value: 'uploaded', label: 'Recently uploaded' },
];
const SCOPE_OPTIONS: readonly RadioOption<StudyScope>[] = [
  { value: 'all', label: 'All' },
  { value: 'mine', label: 'My studies' },
  { value: 'shared', label: 'Shared with me' },
];
const EMPTY_MESSAGES: Readonly<Record<StudyScope, string>> = {
  all: 'No studies yet. Upload DICOM files, a folder or a zip archive above to add your first study.',
  mine: 'No studies of yours yet. Upload DICOM files, a folder or a zip archive above to add your first study.',
  shared: 'No studies are shared with you yet.',
};
const FILTER_FIELDS = { PatientName: [], patient_name: [], patient_id: [], modality: [], date_from: [], date_to: [] };

export function StudiesPage() {
  useTitle('Studies');
  const [params, setParams] = useSearchParams();
  const search = params.toString();
  const state = readListState(params);
  const { data, error, loading, reload } = useLoad(() => studies.listStudies(toStudyQuery(state)), [search]);
  const [sharing, setSharing] = useState<StudySummary | null>(null);
  const [deleting, setDeleting] = useState<StudySummary | null>(null);
  const [deleted, setDeleted] = useState<string | null>(null);

  const go = (next: StudyListState) => {
    setDeleted(null);
    setParams(listStateToParams(next));
  };

  // A page emptied by deleting its last study: show the last page that still has studies.
  useEffect(() => {
    if (data && !loading && data.items.length === 0 && data.total > 0 && state.offset > 0) {
      go({ ...state, offset: Math.floor((data.total - 1) / PAGE_SIZE) * PAGE_SIZE });
    }
  }, [data, loading]);

  const header = (
    <header className="page-header">
      <h1>Studies</h1>
    </header>
  );

  if (error && isAccountRefusal(error)) {
    return (
      <div className="stack studies-page">
        {header}
        <Alert tone="warning" title="Studies are not available">
          <p>{error.detail}</p>
        </Alert>
      </div>
    );
  }

  const errors = splitErrors(error?.status === 422 ? error : null, FILTER_FIELDS);
  const filtered = hasFilters(state.filters);
  const total = data?.total ?? 0;
  // The list comes first: the title shares its line with a one-line upload bar; search, then the table.
  return (
    <div className="stack studies-page">
      <div className="studies-top">
        {header}
        <UploadPanel onUploaded={reload} />
      </div>
      <section className="stack-sm" aria-labelledby="find-studies">
        <h2 id="find-studies" className="visually-hidden">Find studies</h2>
        <StudyFilters key={search} initial={state.filters} errors={errors} busy={loading}
          onApply={(filters) => go({ ...state, filters, offset: 0 })} />
        <div className="results-bar">
          <RadioGroup legend="Show" name="scope" inline options={SCOPE_OPTIONS} value={state.scope}
            onChange={(scope) => go({ ...state, scope, offset: 0 })} />
          {data && !error && <p className="results-count" aria-live="polite">{data.total_exact === false ? `about ${plural(total, 'study', 'studies')}` : plural(total, 'study', 'studies')}</p>}
          <SelectField label="Sort" value={state.sort} options={SORT_OPTIONS}
            onChange={(sort) => go({ ...state, sort, offset: 0 })} />
        </div>
        {error && error.status !== 422 && (
          <>
            <FormError error={error} />
            <div><Button variant="secondary" onClick={reload}>Try again</Button></div>
          </>
        )}
        <FormError error={errors.form} />
        {deleted && <Alert tone="success">The study of {deleted} was deleted.</Alert>}
        {loading && !data ? (
          <Loading label="Loading studies…" />
        ) : (
          data && !error && (
            <>
              {data.items.length > 0 ? (
                <StudyTable items={data.items} busy={loading} onShare={setSharing} onDelete={setDeleting} />
              ) : (
                <p className="empty card">
                  {filtered ? 'No studies match these filters.' : EMPTY_MESSAGES[state.scope]}
                </p>
              )}
              {total > PAGE_SIZE && (
                <Pagination offset={state.offset} limit={PAGE_SIZE} total={total}
                  onOffsetChange={(offset) => go({ ...state, offset })} />
              )}
            </>
          )
        )}
      </section>
      {sharing && (
        <ShareDialog kind="studies" resourceId={sharing.study_uid} title="Share this study" onClose={() => setSharing(null)}
          subject={`${formatPersonName(sharing.patient_name)} · ${formatDate(sharing.study_date)}`} />
      )}
      {deleting && (
        <DeleteStudyDialog study={deleting} onCancel={() => setDeleting(null)}
          onDeleted={(study) => {
            setDeleting(null);
            setDeleted(formatPersonName(study.patient_name));
            reload();
          }} />
      )}
    </div>
  );
}
