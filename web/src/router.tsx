import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";

/** Client-side routes. The node serves index.html for any non-API path, so each is also a real URL. */
export type Route =
  | { page: "home" }
  | { page: "block"; id: string }
  | { page: "record"; id: string }
  | { page: "author"; key: string }
  | { page: "missing"; path: string };

export function parseRoute(path: string): Route {
  if (path === "/" || path === "") return { page: "home" };
  const m = /^\/block\/([^/]+)\/?$/.exec(path);
  if (m) return { page: "block", id: decodeURIComponent(m[1]!) };
  const r = /^\/record\/([^/]+)\/?$/.exec(path);
  if (r) return { page: "record", id: decodeURIComponent(r[1]!) };
  const a = /^\/author\/([^/]+)\/?$/.exec(path);
  if (a) return { page: "author", key: decodeURIComponent(a[1]!) };
  return { page: "missing", path };
}

const NAVIGATE = "jbc:navigate";

export function navigate(to: string): void {
  if (to === location.pathname) return;
  history.pushState(null, "", to);
  window.dispatchEvent(new Event(NAVIGATE));
  window.scrollTo(0, 0);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = (): void => setRoute(parseRoute(location.pathname));
    window.addEventListener("popstate", update);
    window.addEventListener(NAVIGATE, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(NAVIGATE, update);
    };
  }, []);
  return route;
}

/** Whether a click should be left to the browser (new tab, download, …). */
function browserHandles(e: MouseEvent): boolean {
  return e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || e.defaultPrevented;
}

export function Link(props: { href: string; children: ComponentChildren; class?: string; title?: string }) {
  const { href, children } = props;
  return (
    <a
      class={props.class}
      title={props.title}
      href={href}
      onClick={(e) => {
        if (browserHandles(e)) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

/** Makes a click on an SVG element (or anything without an <a>) navigate like a link. */
export function linkHandler(href: string): (e: MouseEvent) => void {
  return (e) => {
    if (browserHandles(e)) return;
    e.preventDefault();
    navigate(href);
  };
}

export const blockHref = (hashOrHeight: string | number): string => `/block/${hashOrHeight}`;
export const recordHref = (id: string): string => `/record/${id}`;
export const authorHref = (key: string): string => `/author/${key}`;
