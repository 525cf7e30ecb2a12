import { useState } from 'react';
import { Link, useLocation, useSearchParams } from 'react-router-dom';
import type { Model, ModelScope } from '../../api/models';
import * as models from '../../api/models';
import { Alert } from '../../components/Alert';
import { Button, FormError, RadioGroup, type RadioOption } from '../../components/form';
import { Loading } from '../../components/Loading';
import { readNotice } from '../../lib/notice';
import { isAccountRefusal } from '../../lib/roles';
import { useLoad } from '../../lib/useLoad';
import { useTitle } from '../../lib/useTitle';
import { useUser } from '../../session/context';
import { ACCESS_LABELS, SCOPE_LABELS, statusText, TASK_LABELS } from './labels';
import './models.css';

const SCOPES: readonly ModelScope[] = ['all', 'mine', 'shared', 'published'];
const SCOPE_OPTIONS: RadioOption<ModelScope>[] = SCOPES.map((value) => ({ value, label: SCOPE_LABELS[value] }));

function scopeOf(value: string | null): ModelScope {
  return SCOPES.find((scope) => scope === value) ?? 'all';
}

function ModelTable({ items, busy }: { items: readonly Model[]; busy: boolean }) {
  return (
    <div className="table-wrap" aria-busy={busy}>
      <table className="table">
        <caption className="visually-hidden">Models</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Task</th>
            <th scope="col">Modality</th>
            <th scope="col">Owner</th>
            <th scope="col">Access</th>
            <th scope="col">Active version</th>
            <th scope="col">Published version</th>
            <th scope="col">Latest version</th>
          </tr>
        </thead>
        <tbody>
          {items.map((model) => (
            <tr key={model.id}>
              <td className="strong"><Link to={`/models/${encodeURIComponent(model.id)}`}>{model.name}</Link></td>
              <td>{TASK_LABELS[model.task] ?? model.task}</td>
              <td>{model.modality}</td>
              <td>{model.owner.name}</td>
              <td><span className="badge badge--access">{ACCESS_LABELS[model.access] ?? model.access}</span></td>
              <td className="numeric">{model.active_version ?? '—'}</td>
              <td className="numeric">{model.published_version ?? '—'}</td>
              <td>
                {model.latest_version
                  ? <>{model.latest_version.version}: {statusText(model.latest_version.status, model.latest_version.stage)}</>
                  : '—'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** `/models`: the models I can see — mine, shared with me, published — and "Add a model" for researchers. */
export function ModelsPage() {
  useTitle('Models');
  const user = useUser();
  const location = useLocation();
  const [params, setParams] = useSearchParams();
  const scope = scopeOf(params.get('scope'));
  const [notice] = useState(readNotice(location.state));
  const { data, error, loading, reload } = useLoad(() => models.listModels(scope), [scope]);

  const header = (
    <header className="page-header page-header--row">
      <div>
        <h1>Models</h1>
        <p className="muted">AI models you own, models shared with you or your groups, and models published for health professionals.</p>
      </div>
      {user.role === 'researcher' && <Link className="btn btn--primary" to="/models/new">Add a model</Link>}
    </header>
  );
  if (error && isAccountRefusal(error)) {
    return <div className="stack">{header}<Alert tone="warning" title="Models are not available"><p>{error.detail}</p></Alert></div>;
  }
  return (
    <div className="stack">
      {header}
      {notice && <Alert tone="success">{notice}</Alert>}
      <RadioGroup legend="Show" name="scope" inline options={SCOPE_OPTIONS} value={scope}
        onChange={(next) => setParams(next === 'all' ? {} : { scope: next })} />
      {error && (
        <>
          <FormError error={error} />
          <div><Button variant="secondary" onClick={reload}>Try again</Button></div>
        </>
      )}
      {loading && !data ? (
        <Loading label="Loading models…" />
      ) : (
        data && !error && (data.items.length > 0 ? (
          <ModelTable items={data.items} busy={loading} />
        ) : (
          <p className="empty card">No models here yet.</p>
        ))
      )}
    </div>
  );
}
