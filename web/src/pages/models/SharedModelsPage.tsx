import { sharing, type SharedModel } from '../../api';
import { Alert } from '../../components/Alert';
import { Button, FormError } from '../../components/form';
import { Loading } from '../../components/Loading';
import { isAccountRefusal } from '../../lib/roles';
import { useLoad } from '../../lib/useLoad';
import { useTitle } from '../../lib/useTitle';

const ACCESS_HINTS: Readonly<Record<SharedModel['access'], string>> = {
  use: 'You may run it.',
  edit: 'You may run it and change its information and code.',
  published: 'Published for every health professional: you may run its published version.',
};

function ModelTable({ models, busy }: { models: readonly SharedModel[]; busy: boolean }) {
  return (
    <div className="table-wrap" aria-busy={busy}>
      <table className="table">
        <caption className="visually-hidden">Models shared with me</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Owner</th>
            <th scope="col">Access</th>
            <th scope="col">Published version</th>
          </tr>
        </thead>
        <tbody>
          {models.map((model) => (
            <tr key={model.id}>
              <td className="strong">{model.name}</td>
              <td>{model.owner.name}</td>
              <td><span className="badge badge--access" title={ACCESS_HINTS[model.access]}>{model.access}</span></td>
              <td className="numeric">{model.published_version ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Models other researchers shared with me, or published for health professionals. */
export function SharedModelsPage() {
  useTitle('Models shared with me');
  const { data, error, loading, reload } = useLoad(sharing.sharedModels, []);
  const header = (
    <header className="page-header">
      <h1>Models shared with me</h1>
      <p className="muted">AI models other researchers shared with you or your groups, and models published for health professionals.</p>
    </header>
  );
  if (error && isAccountRefusal(error)) {
    return <div className="stack">{header}<Alert tone="warning" title="Models are not available"><p>{error.detail}</p></Alert></div>;
  }
  return (
    <div className="stack">
      {header}
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
          <ModelTable models={data.items} busy={loading} />
        ) : (
          <p className="empty card">No models are shared with you yet.</p>
        ))
      )}
    </div>
  );
}
