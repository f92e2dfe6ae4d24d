import { useEffect, useState } from "react";

/// The page and its parameters from the location's hash (`#/jobs/<id>?state=failed`): hash routing needs no
/// server support and no router library.
export interface Route {
  page: string;
  parts: string[];
  query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#\/?/, "");
  const [path, search] = text.split("?", 2);
  const parts = (path ?? "").split("/").filter((part) => part.length > 0).map(decodeURIComponent);
  return { page: parts[0] ?? "overview", parts: parts.slice(1), query: new URLSearchParams(search ?? "") };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

export function href(...parts: string[]): string {
  return "#/" + parts.map(encodeURIComponent).join("/");
}

export function navigate(...parts: string[]) {
  window.location.hash = href(...parts);
}
