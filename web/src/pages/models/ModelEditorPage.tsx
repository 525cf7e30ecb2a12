import { useEffect, useMemo, useState } from 'react';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router-dom';
import * as models from '../../api/models';
import type { ModelVersion, Problem } from '../../api/models';
import { Alert } from '../../components/Alert';
import { CodeEditor, type Reveal } from '../../components/editor/CodeEditor';
import { problemCounts } from '../../components/editor/diagnostics';
import { FileList } from '../../components/editor/FileList';
import { sortedPaths } from '../../components/editor/files';
import { Button, FormError } from '../../components/form';
import { Loading } from '../../components/Loading';
import { Section } from '../../components/Section';
import { noticeState } from '../../lib/notice';
import { useAction } from '../../lib/useAction';
import { useLoad } from '../../lib/useLoad';
import { useTitle } from '../../lib/useTitle';
import { loadEditorStart, type EditorStart } from './editor/editorStart';
import { ImportArchive } from './editor/ImportArchive';
import { weightRefs } from './editor/weights';
import { WeightsSection } from './editor/WeightsSection';
import { RefusedBundle } from './ProblemList';
import { TextAreaField } from './TextAreaField';
import { modelUploads } from './upload/resumableUpload';
import { useUploads } from './upload/useUploads';
import './models.css';

/** The file to open first: the code rather than the manifest. */
function firstFile(files: Readonly<Record<string, string>>): string {
  return Object.hasOwn(files, 'app.py') ? 'app.py' : (sortedPaths(files)[0] ?? '');
}

/** `/models/:modelId/edit`: write a new version in the browser, or import an archive, and publish it. */
export function ModelEditorPage() {
  const { modelId = '' } = useParams();
  const [params] = useSearchParams();
  const template = params.get('template');
  const start = useLoad(() => loadEditorStart(modelId, template), [modelId, template]);
  useTitle(start.data ? `New version of ${start.data.model.name}` : 'Model editor');
  if (!start.data) {
    return (
      <div className="stack">
        <p><Link to={`/models/${encodeURIComponent(modelId)}`}>Back to the model</Link></p>
        {start.error ? <FormError error={start.error} /> : <Loading label="Opening the editor…" />}
      </div>
    );
  }
  return <ModelEditor key={modelId} start={start.data} />;
}

function ModelEditor({ start }: { start: EditorStart }) {
  const { model } = start;
  const navigate = useNavigate();
  const [files, setFiles] = useState(start.files);
  const [active, setActive] = useState(() => firstFile(start.files));
  const [reused, setReused] = useState(start.weights);
  const [notes, setNotes] = useState('');
  const [problems, setProblems] = useState<Problem[]>([]);
  /** Which way of publishing the problems are about: the editor's files or an imported archive. */
  const [refusedFrom, setRefusedFrom] = useState<'editor' | 'archive'>('editor');
  const [reveal, setReveal] = useState<Reveal | null>(null);
  const [blocked, setBlocked] = useState<string | null>(null);
  const transport = useMemo(() => modelUploads(model.id), [model.id]);
  const weights = useUploads(transport);
  const archive = useUploads(transport);
  const publish = useAction();
  const counts = useMemo(() => problemCounts(problems), [problems]);
  const uploading = [...Object.values(weights.entries), ...Object.values(archive.entries)].some((e) => e.state === 'uploading');

  // Leaving the page would drop the uploads still running: let the browser ask first.
  useEffect(() => {
    if (!uploading) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [uploading]);

  function openProblem(problem: Problem) {
    if (!problem.file) return;
    setActive(problem.file);
    setReveal({ path: problem.file, line: problem.line ?? 1, column: problem.column, key: Date.now() });
  }

  function published(version: ModelVersion) {
    navigate(`/models/${encodeURIComponent(model.id)}`,
      noticeState(`Version ${version.version} was published and is being validated.`));
  }

  async function submit() {
    const outcome = weightRefs(reused, weights.entries);
    setBlocked(outcome.ok ? null : outcome.message);
    if (!outcome.ok) return;
    setProblems([]);
    setRefusedFrom('editor');
    const result = await publish.run(() =>
      models.publishVersion(model.id, { files, weights: outcome.weights, notes: notes.trim() || undefined }));
    if (result.ok) published(result.value);
    else if (result.error instanceof models.InvalidBundle) setProblems(result.error.problems);
  }

  const refused = publish.error instanceof models.InvalidBundle || (refusedFrom === 'editor' && problems.length > 0);
  const canOpen = (problem: Problem) => problem.file !== null && Object.hasOwn(files, problem.file);
  return (
    <div className="stack">
      <p><Link to={`/models/${encodeURIComponent(model.id)}`}>Back to {model.name}</Link></p>
      <header className="page-header">
        <h1>New version of {model.name}</h1>
        <p className="muted">
          {'version' in start.origin
            ? `Starting from version ${start.origin.version}: its weights are kept unless you replace or remove them.`
            : `Starting from the template ${start.origin.template ?? '(none)'}, with this model's information in manifest.json.`}
        </p>
      </header>
      <Section title="Code">
        <p className="field-hint">Tab indents; press Escape, then Tab, to leave the code.</p>
        <div className="editor-layout">
          <FileList files={files} active={active} problemCounts={counts} onOpen={setActive}
            onChange={(next, open) => { setFiles(next); setActive(open); }} />
          {active ? (
            <CodeEditor files={files} path={active} problems={problems} reveal={reveal}
              onChange={(path, text) => setFiles((all) => ({ ...all, [path]: text }))} />
          ) : (
            <p className="empty">No files: add one.</p>
          )}
        </div>
      </Section>
      <WeightsSection reused={reused} onReusedChange={setReused} uploads={weights} disabled={publish.busy} />
      <Section title="Publish">
        <TextAreaField label="Version notes" value={notes} onValueChange={setNotes}
          hint="What changed in this version, for the people who use it." />
        {refused && <RefusedBundle problems={problems} onOpen={openProblem} canOpen={canOpen} />}
        {blocked && <Alert tone="warning">{blocked}</Alert>}
        {!refused && <FormError error={publish.error} />}
        <div className="button-row">
          <Button busy={publish.busy} disabled={uploading} onClick={() => void submit()}>Publish</Button>
        </div>
      </Section>
      <ImportArchive modelId={model.id} notes={notes} uploads={archive} disabled={publish.busy}
        onPublished={published} onRefused={(found) => { setRefusedFrom('archive'); setProblems(found); }}>
        {refusedFrom === 'archive' && problems.length > 0 && <RefusedBundle problems={problems} />}
      </ImportArchive>
    </div>
  );
}
