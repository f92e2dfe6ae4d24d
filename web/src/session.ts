import { createContext, useContext } from "react";
import type { Me } from "./models";

/// The signed-in principal and what its role may do. Pages hide what `can` refuses; the API still decides, and a
/// refusal it gives anyway is shown as its error.
export interface SessionState {
  me: Me;
  can(permission: string): boolean;
  signOut(): void;
  /// The tenant the pages show: the principal's own, or the one a super admin picked.
  tenant: string | null;
}

export const SessionContext = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in page");
  return session;
}
