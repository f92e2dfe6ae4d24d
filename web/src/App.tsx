import { useCallback, useEffect, useMemo, useState } from "react";
import { api, credentials, whenSignedOut } from "./api";
import type { Customer, Me } from "./models";
import { href, useRoute } from "./route";
import { SessionContext, type SessionState } from "./session";
import { ErrorNote } from "./components/ErrorNote";
import { SignIn } from "./pages/SignIn";
import { Overview } from "./pages/Overview";
import { Hosts } from "./pages/Hosts";
import { Rules } from "./pages/Rules";
import { Targets } from "./pages/Targets";
import { Jobs } from "./pages/Jobs";
import { Recalls } from "./pages/Recalls";
import { Findings } from "./pages/Findings";
import { Audit } from "./pages/Audit";
import { Users } from "./pages/Users";

interface Page {
  name: string;
  title: string;
  /// Shown to a role that holds one of these.
  needs: string[];
  render(): JSX.Element;
}

const pages: Page[] = [
  { name: "overview", title: "Overview", needs: ["tenant.read"], render: () => <Overview /> },
  { name: "hosts", title: "Hosts", needs: ["tenant.read"], render: () => <Hosts /> },
  { name: "rules", title: "Rules", needs: ["tenant.read"], render: () => <Rules /> },
  { name: "targets", title: "Targets", needs: ["tenant.read"], render: () => <Targets /> },
  { name: "jobs", title: "Jobs", needs: ["tenant.read"], render: () => <Jobs /> },
  { name: "recalls", title: "Recalls", needs: ["tenant.read"], render: () => <Recalls /> },
  { name: "findings", title: "Findings", needs: ["tenant.read"], render: () => <Findings /> },
  { name: "audit", title: "Audit", needs: ["audit.read"], render: () => <Audit /> },
  { name: "users", title: "Users & tokens", needs: ["users.manage", "tokens.manage"], render: () => <Users /> },
];

export function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(() => credentials.token() !== null);
  const [tenant, setTenant] = useState<string | null>(() => credentials.tenant());
  const signOut = useCallback(() => {
    credentials.setToken(null);
    credentials.setTenant(null);
    setTenant(null);
    setMe(null);
  }, []);
  useEffect(() => whenSignedOut(signOut), [signOut]);
  useEffect(() => {
    if (!checking) return;
    api.get<Me>("/api/v1/me").then(
      (principal) => {
        setMe(principal);
        setChecking(false);
      },
      () => {
        signOut();
        setChecking(false);
      },
    );
  }, [checking, signOut]);
  const session = useMemo<SessionState | null>(
    () =>
      me && {
        me,
        tenant: me.role === "super_admin" ? tenant : me.customer_id,
        can: (permission: string) => me.permissions.includes(permission),
        signOut: () => {
          api.delete("/api/v1/sessions").catch(() => undefined);
          signOut();
        },
      },
    [me, tenant, signOut],
  );
  if (checking) return <p className="muted">Checking the session…</p>;
  if (!session) return <SignIn onSignedIn={setMe} />;
  const pick = (customerID: string | null) => {
    credentials.setTenant(customerID);
    setTenant(customerID);
  };
  return (
    <SessionContext.Provider value={session}>
      <Shell session={session} onPickTenant={pick} />
    </SessionContext.Provider>
  );
}

function Shell({ session, onPickTenant }: { session: SessionState; onPickTenant(customerID: string | null): void }) {
  const route = useRoute();
  const visible = pages.filter((page) => page.needs.some((permission) => session.can(permission)));
  const page = visible.find((candidate) => candidate.name === route.page);
  const needsTenant = session.me.role === "super_admin" && !session.tenant;
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">Alto</span>
        {session.me.role === "super_admin" ? <TenantPicker current={session.tenant} onPick={onPickTenant} /> : null}
        <span className="who" data-testid="who">
          {session.me.name.replace(/^user:/, "")} · <span data-testid="role">{session.me.role}</span>
        </span>
        <button type="button" className="link" onClick={session.signOut} data-testid="sign-out">
          Sign out
        </button>
      </header>
      <nav className="sidebar" aria-label="pages">
        {visible.map((candidate) => (
          <a key={candidate.name} href={href(candidate.name)} className={candidate === page ? "current" : ""}
            data-testid={`nav-${candidate.name}`}>
            {candidate.title}
          </a>
        ))}
      </nav>
      <main className="content" key={`${session.tenant ?? ""}/${route.page}`}>
        {needsTenant ? (
          <p className="muted">Pick a tenant above to see its data.</p>
        ) : page ? (
          page.render()
        ) : (
          <ErrorNote error={new Error(`There is no page “${route.page}” for the ${session.me.role} role.`)} />
        )}
      </main>
    </div>
  );
}

function TenantPicker({ current, onPick }: { current: string | null; onPick(customerID: string | null): void }) {
  const [customers, setCustomers] = useState<Customer[]>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api.get<{ customers: Customer[] }>("/api/v1/customers").then((list) => setCustomers(list.customers), setError);
  }, []);
  return (
    <label className="tenant">
      Tenant{" "}
      <select value={current ?? ""} onChange={(event) => onPick(event.target.value || null)} data-testid="tenant">
        <option value="">—</option>
        {customers.map((customer) => (
          <option key={customer.id} value={customer.id}>
            {customer.name}
          </option>
        ))}
      </select>
      <ErrorNote error={error} />
    </label>
  );
}
