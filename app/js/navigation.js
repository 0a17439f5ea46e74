// Atrium's page-to-page navigation. Pages are rendered on the server; a link
// to another page of the portal fetches that page, hydrates the islands it
// brought, and swaps its <main> (and the navigation's current item) into this
// one. The frame, its islands and the loaded WASM stay, so a page change
// costs one HTML request. Anything unusual falls back to a normal page load:
// a redirect (sign-in), an error reaching the server, another build of the
// portal (its code would not match this page's), or a page without <main>.
(() => {
  const buildOf = (doc) => doc.querySelector('link[rel="modulepreload"]')?.getAttribute("href");
  const pagePath = (url) =>
    url.origin === location.origin && !/^\/(auth|api|export|pkg|healthz|readyz|signed-out)(\/|$)/.test(url.pathname);
  let latest = 0;

  async function hydrate(root) {
    for (const island of root.querySelectorAll("leptos-island")) {
      if (island.parentElement.closest("leptos-island") || island.$$hydrated) continue;
      island.$$hydrated = true;
      if (window.__hydrateIsland) await window.__hydrateIsland(island, island.dataset.component);
    }
  }

  async function go(href, push) {
    const mine = ++latest;
    let response, text;
    try {
      response = await fetch(href, { headers: { Accept: "text/html" }, redirect: "manual", credentials: "same-origin" });
      text = await response.text();
    } catch {
      location.assign(href);
      return;
    }
    if (mine !== latest) return;
    const html = (response.headers.get("content-type") || "").startsWith("text/html");
    if (response.type === "opaqueredirect" || !html) {
      location.assign(href);
      return;
    }
    const next = new DOMParser().parseFromString(text, "text/html");
    const main = next.getElementById("main");
    if (!main || buildOf(next) !== buildOf(document)) {
      location.assign(href);
      return;
    }
    // The new page's islands are made interactive before it is shown, so
    // whatever the person sees there already works.
    // Islands of the page being left stop their live streams first.
    window.dispatchEvent(new Event("atrium:leave"));
    const adopted = document.adoptNode(main);
    await hydrate(adopted);
    if (mine !== latest) return;
    document.title = next.title;
    const nav = document.querySelector('nav[data-testid="nav"]');
    const nextNav = next.querySelector('nav[data-testid="nav"]');
    if (nav && nextNav) nav.replaceWith(document.adoptNode(nextNav));
    document.getElementById("main").replaceWith(adopted);
    if (push) history.pushState(null, "", href);
    window.scrollTo(0, 0);
  }

  window.addEventListener("click", (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = ev.target instanceof Element ? ev.target.closest("a[href]") : null;
    if (!a || a.target || a.hasAttribute("download") || (a.getAttribute("rel") || "").split(/\s+/).includes("external")) return;
    const url = new URL(a.href, location.href);
    if (!pagePath(url)) return;
    if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
    ev.preventDefault();
    go(url.href, true);
  });
  // A search form (method GET, like the runs filter) opens its result the same way.
  window.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (ev.defaultPrevented || !(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "get" || form.target) return;
    const url = new URL(form.action, location.href);
    if (!pagePath(url)) return;
    url.search = new URLSearchParams(new FormData(form, ev.submitter)).toString();
    ev.preventDefault();
    go(url.href, true);
  });
  window.addEventListener("popstate", () => go(location.href, false));
  // Islands call this to change page the same way (e.g. after creating something).
  window.__atriumGo = (href) => go(new URL(href, location.href).href, true);
})();
