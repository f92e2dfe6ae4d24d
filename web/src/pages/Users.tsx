import { useState, type FormEvent } from "react";
import { api } from "../api";
import { time } from "../format";
import type { APIToken, User } from "../models";
import { useSession } from "../session";
import { ErrorNote } from "../components/ErrorNote";
import { useLoad } from "../components/useLoad";

const roles = ["admin", "operator", "support", "viewer"];

/// The tenant's people and API tokens, for admins: who may sign in with which role, and the tokens scripts use.
export function Users() {
  const session = useSession();
  return (
    <div>
      <h1>Users &amp; tokens</h1>
      {session.can("users.manage") ? <UserSection selfID={session.me.id} /> : null}
      {session.can("tokens.manage") ? <TokenSection /> : null}
    </div>
  );
}

function UserSection({ selfID }: { selfID: string }) {
  const users = useLoad(() => api.get<{ users: User[] }>("/api/v1/users").then((answer) => answer.users), []);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState("viewer");
  const [error, setError] = useState<unknown>(null);
  const change = async (what: () => Promise<unknown>) => {
    setError(null);
    try {
      await what();
      users.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  const create = (event: FormEvent) => {
    event.preventDefault();
    void change(async () => {
      await api.post("/api/v1/users", { email, password, role });
      setEmail("");
      setPassword("");
    });
  };
  return (
    <section className="panel" data-testid="users">
      <h2>Users</h2>
      <ErrorNote error={users.error ?? error} />
      <table>
        <thead><tr><th>Email</th><th>Name</th><th>Role</th><th>State</th><th /></tr></thead>
        <tbody>
          {(users.data ?? []).map((user) => (
            <tr key={user.id} data-email={user.email}>
              <td>{user.email}</td>
              <td>{user.display_name ?? ""}</td>
              <td>
                <select value={user.role} disabled={user.id === selfID || !roles.includes(user.role)}
                  onChange={(event) => change(() => api.patch(`/api/v1/users/${user.id}`, { role: event.target.value }))}>
                  {(roles.includes(user.role) ? roles : [user.role, ...roles]).map((value) => <option key={value} value={value}>{value}</option>)}
                </select>
              </td>
              <td>{user.disabled ? "disabled" : "active"}</td>
              <td className="actions">
                {user.id !== selfID ? (
                  <>
                    <button type="button" onClick={() => change(() => api.patch(`/api/v1/users/${user.id}`, { disabled: !user.disabled }))}>
                      {user.disabled ? "Enable" : "Disable"}
                    </button>
                    <button type="button" className="danger"
                      onClick={() => window.confirm(`Delete ${user.email}?`) && change(() => api.delete(`/api/v1/users/${user.id}`))}>
                      Delete
                    </button>
                  </>
                ) : <span className="muted">you</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="row" onSubmit={create} data-testid="new-user">
        <input type="email" placeholder="email" value={email} onChange={(event) => setEmail(event.target.value)} required aria-label="email" />
        <input type="password" placeholder="password (12 or more characters)" value={password} minLength={12}
          onChange={(event) => setPassword(event.target.value)} required aria-label="password" />
        <select value={role} onChange={(event) => setRole(event.target.value)} aria-label="role">
          {roles.map((value) => <option key={value} value={value}>{value}</option>)}
        </select>
        <button type="submit">Add user</button>
      </form>
    </section>
  );
}

function TokenSection() {
  const tokens = useLoad(() => api.get<{ api_tokens: APIToken[] }>("/api/v1/api-tokens").then((answer) => answer.api_tokens), []);
  const [name, setName] = useState("");
  const [role, setRole] = useState("viewer");
  const [days, setDays] = useState("90");
  const [created, setCreated] = useState<APIToken | null>(null);
  const [error, setError] = useState<unknown>(null);
  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      setCreated(await api.post<APIToken>("/api/v1/api-tokens", { name, role, expires_in_days: Number(days) }));
      setName("");
      tokens.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  const revoke = async (token: APIToken) => {
    setError(null);
    try {
      await api.delete(`/api/v1/api-tokens/${token.id}`);
      tokens.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <section className="panel" data-testid="tokens">
      <h2>API tokens</h2>
      <ErrorNote error={tokens.error ?? error} />
      {created?.token ? (
        <p className="notice">Token “{created.name}” (shown once, copy it now): <code data-testid="new-token">{created.token}</code></p>
      ) : null}
      <table>
        <thead><tr><th>Name</th><th>Role</th><th>Created</th><th>Expires</th><th>Last used</th><th /></tr></thead>
        <tbody>
          {(tokens.data ?? []).map((token) => (
            <tr key={token.id}>
              <td>{token.name}</td>
              <td>{token.role}</td>
              <td>{time(token.created_at)}{token.created_by ? ` by ${token.created_by}` : ""}</td>
              <td>{time(token.expires_at)}</td>
              <td>{time(token.last_used_at)}</td>
              <td>{token.revoked_at ? `revoked ${time(token.revoked_at)}` : (
                <button type="button" className="danger" onClick={() => revoke(token)}>Revoke</button>
              )}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="row" onSubmit={create}>
        <input placeholder="name" value={name} onChange={(event) => setName(event.target.value)} required aria-label="token name" />
        <select value={role} onChange={(event) => setRole(event.target.value)} aria-label="token role">
          {roles.map((value) => <option key={value} value={value}>{value}</option>)}
        </select>
        <input type="number" min={1} max={3650} value={days} onChange={(event) => setDays(event.target.value)} aria-label="days valid" />
        <button type="submit">Create token</button>
      </form>
    </section>
  );
}
