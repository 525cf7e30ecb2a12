import { useEffect, useState, type FormEvent } from 'react';
import { auth, type AdminUserQuery, type Role, type User, type UserStatus } from '../../api';
import { Button, FormError, SelectField, TextField, type SelectOption } from '../../components/form';
import { Loading } from '../../components/Loading';
import { Pagination } from '../../components/Pagination';
import { ROLE_LABELS, STATUS_LABELS } from '../../lib/labels';
import { useAction } from '../../lib/useAction';
import { useLoad } from '../../lib/useLoad';
import { AdminPage } from './AdminPage';
import { AdminProblem } from './AdminProblem';
import { UserRow } from './UserRow';

const LIMIT = 20;
const SEARCH_DELAY_MS = 300;
const ROLE_OPTIONS: readonly SelectOption<Role | ''>[] = [
  { value: '', label: 'All roles' },
  ...(Object.entries(ROLE_LABELS) as [Role, string][]).map(([value, label]) => ({ value, label })),
];
const STATUS_OPTIONS: readonly SelectOption<UserStatus | ''>[] = [
  { value: '', label: 'All statuses' },
  ...(Object.entries(STATUS_LABELS) as [UserStatus, string][]).map(([value, label]) => ({ value, label })),
];

export function UsersPage() {
  const [search, setSearch] = useState('');
  const [query, setQuery] = useState<AdminUserQuery>({ q: '', role: '', status: '', offset: 0, limit: LIMIT });
  const { data, error, loading, reload } = useLoad(() => auth.adminUsers(query), [query]);
  const [updated, setUpdated] = useState<ReadonlyMap<string, User>>(new Map());
  const action = useAction();

  const applySearch = (text: string) =>
    setQuery((q) => (q.q === text.trim() ? q : { ...q, q: text.trim(), offset: 0 }));

  // Search as the admin types, once typing pauses; Enter searches at once.
  useEffect(() => {
    const timer = setTimeout(() => applySearch(search), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [search]);

  function submitSearch(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    applySearch(search);
  }

  async function setActive(user: User, active: boolean) {
    const result = await action.run(() => (active ? auth.reactivateUser(user.id) : auth.deactivateUser(user.id)));
    if (result.ok) setUpdated((map) => new Map(map).set(user.id, result.value));
  }

  if (error && !data) return <AdminPage title="Users"><AdminProblem error={error} /></AdminPage>;
  const users = (data?.items ?? []).map((user) => updated.get(user.id) ?? user);
  return (
    <AdminPage title="Users">
      <form className="filters" role="search" aria-label="Filter users" onSubmit={submitSearch}>
        <TextField label="Search users" type="search" placeholder="Name or email" value={search} onValueChange={setSearch} />
        <SelectField label="Role" value={query.role ?? ''} options={ROLE_OPTIONS}
          onChange={(role) => setQuery((q) => ({ ...q, role, offset: 0 }))} />
        <SelectField label="Status" value={query.status ?? ''} options={STATUS_OPTIONS}
          onChange={(status) => setQuery((q) => ({ ...q, status, offset: 0 }))} />
      </form>
      <FormError error={action.error} />
      {error && <AdminProblem error={error} />}
      {loading && !data ? (
        <Loading />
      ) : (
        <div className="table-wrap" aria-busy={loading}>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">2FA</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {users.map((user) => (
                <UserRow key={user.id} user={user} busy={action.busy} onSetActive={(active) => void setActive(user, active)} />
              ))}
              {users.length === 0 && (
                <tr><td colSpan={6} className="empty">No users match these filters.</td></tr>
              )}
            </tbody>
          </table>
        </div>
      )}
      {data && (
        <Pagination offset={query.offset ?? 0} limit={LIMIT} total={data.total}
          onOffsetChange={(offset) => { setUpdated(new Map()); setQuery((q) => ({ ...q, offset })); }} />
      )}
      {error && data && <Button variant="secondary" onClick={reload}>Try again</Button>}
    </AdminPage>
  );
}
