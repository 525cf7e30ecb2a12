import { useState } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router-dom';
import { sharing } from '../../api';
import * as models from '../../api/models';
import type { ModelVersion } from '../../api/models';
import { Alert } from '../../components/Alert';
import { ConfirmButton } from '../../components/ConfirmButton';
import { Button, FormError } from '../../components/form';
import { Loading } from '../../components/Loading';
import { Section } from '../../components/Section';
import { ShareDialog } from '../../components/sharing/ShareDialog';
import { noticeState, readNotice } from '../../lib/notice';
import { isAccountRefusal } from '../../lib/roles';
import { useAction } from '../../lib/useAction';
import { useLoad } from '../../lib/useLoad';
import { useTitle } from '../../lib/useTitle';
import { ModelInfo } from './model/ModelInfo';
import { ServiceStatus } from './model/ServiceStatus';
import { usePoll } from './model/usePoll';
import { VersionsTable } from './model/VersionsTable';
import './models.css';

const BACK = <p><Link to="/models">All models</Link></p>;

/** `/models/:modelId`: a model's information, versions (followed while validating), service, and what I may do with it. */
export function ModelPage() {
  const { modelId = '' } = useParams();
  const navigate = useNavigate();
  const location = useLocation();
  const model = useLoad(() => models.getModel(modelId), [modelId]);
  const service = useLoad(() => models.getService(modelId), [modelId]);
  const action = useAction();
  const [notice, setNotice] = useState<string | null>(readNotice(location.state));
  const [sharingOpen, setSharingOpen] = useState(false);
  useTitle(model.data?.name ?? 'Model');

  const validating = model.data?.versions.some((version) => version.status === 'validating') ?? false;
  usePoll(validating && !model.error, model.reload, model.data);
  usePoll((validating || service.data?.state === 'starting') && !service.error, service.reload, service.data);

  /** Run a change; on success say what happened and read the model and its service again. */
  async function change(task: () => Promise<unknown>, done: string) {
    setNotice(null);
    if ((await action.run(task)).ok) {
      setNotice(done);
      model.reload();
      service.reload();
    }
  }

  if (model.error && isAccountRefusal(model.error)) {
    return <div className="stack">{BACK}<Alert tone="warning" title="Models are not available"><p>{model.error.detail}</p></Alert></div>;
  }
  const data = model.data;
  if (!data) {
    return <div className="stack">{BACK}{model.error ? <FormError error={model.error} /> : <Loading label="Loading the model…" />}</div>;
  }

  const activate = (version: ModelVersion) => void change(() => models.activateVersion(data.id, version.version),
    data.active_version !== null && version.version < data.active_version
      ? `Rolled back to version ${version.version}.` : `Version ${version.version} is now active.`);
  const publish = (version: ModelVersion) => void change(() => sharing.publishModel(data.id, version.version),
    `Version ${version.version} is published: every health professional may run it.`);
  const unpublish = (version: ModelVersion) => change(() => sharing.unpublishModel(data.id),
    `Version ${version.version} is no longer published.`);
  const remove = async () => {
    if ((await action.run(() => models.deleteModel(data.id))).ok) navigate('/models', noticeState(`${data.name} was deleted.`));
  };

  return (
    <div className="stack">
      {BACK}
      <header className="page-header page-header--row">
        <div>
          <h1>{data.name}</h1>
          <p className="muted">By {data.owner.name}</p>
        </div>
        <div className="page-actions">
          {data.actions.includes('edit') && <Link className="btn btn--primary" to={`/models/${encodeURIComponent(data.id)}/edit`}>New version</Link>}
          {data.actions.includes('share') && <Button variant="secondary" onClick={() => setSharingOpen(true)}>Share</Button>}
          {data.access === 'owner' && (
            <ConfirmButton label="Delete model" question={`Delete ${data.name}, its versions and its shares?`} onConfirm={remove} />
          )}
        </div>
      </header>
      {notice && <Alert tone="success">{notice}</Alert>}
      <FormError error={action.error ?? model.error} />
      <div className="grid-2">
        <ModelInfo model={data} />
        <ServiceStatus service={service.data} error={service.error} />
      </div>
      <Section title="Versions">
        {data.versions.length > 0 ? (
          <VersionsTable model={data} busy={action.busy} onActivate={activate} onPublish={publish} onUnpublish={unpublish} />
        ) : (
          <p className="empty">No version yet.{data.actions.includes('edit') && <> <Link to={`/models/${encodeURIComponent(data.id)}/edit`}>Write the first one</Link>.</>}</p>
        )}
      </Section>
      {sharingOpen && (
        <ShareDialog kind="models" resourceId={data.id} title="Share this model" subject={<span className="strong">{data.name}</span>}
          onClose={() => setSharingOpen(false)} />
      )}
    </div>
  );
}
