import { useState, type FormEvent } from "react";
import { api, credentials } from "../api";
import type { Me, Session } from "../models";
import { ErrorNote } from "../components/ErrorNote";

export function SignIn({ onSignedIn }: { onSignedIn(me: Me): void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await api.post<Session>("/api/v1/sessions", { email, password });
      credentials.setToken(session.token);
      onSignedIn(await api.get<Me>("/api/v1/me"));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="signin panel" onSubmit={submit} data-testid="sign-in">
      <h1>Alto</h1>
      <label>
        Email
        <input type="email" autoComplete="username" value={email} onChange={(event) => setEmail(event.target.value)}
          required data-testid="email" />
      </label>
      <label>
        Password
        <input type="password" autoComplete="current-password" value={password}
          onChange={(event) => setPassword(event.target.value)} required data-testid="password" />
      </label>
      <button type="submit" disabled={busy} data-testid="sign-in-submit">
        Sign in
      </button>
      <ErrorNote error={error} />
    </form>
  );
}
