/* Gatehouse admin: tabs, copy buttons, the Proxy ID preview, the guardrail side panel, the
   API key dialog and client-side search. Every feature degrades to plain links and forms. */
(function () {
  "use strict";

  /* Mirrors proxies.identifiers.slug_from_name (without the random suffix for short names). */
  function slugFromName(name) {
    return name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "")
      .slice(0, 40).replace(/^-+|-+$/g, "");
  }

  function csrfToken(root) {
    const input = (root || document).querySelector("input[name=csrfmiddlewaretoken]") ||
      document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function copyFrom(selector, button) {
    const input = document.querySelector(selector);
    if (!input) return;
    input.select();
    const done = () => {
      const label = button.textContent;
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, () => { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  }

  function setupTabs() {
    document.querySelectorAll("[data-tabs]").forEach((nav) => {
      const links = Array.from(nav.querySelectorAll("[data-tab]"));
      const names = links.map((a) => a.dataset.tab);
      const panes = Array.from(document.querySelectorAll("[class*='gh-tab-']"));
      function show(name, remember) {
        links.forEach((a) => a.classList.toggle("active", a.dataset.tab === name));
        panes.forEach((pane) => { pane.hidden = !pane.classList.contains("gh-tab-" + name); });
        const link = links.find((a) => a.dataset.tab === name);
        document.querySelectorAll(".submit-row").forEach((row) => {
          row.hidden = !(link && link.dataset.form === "1");
        });
        if (remember) history.replaceState(null, "", "#" + name);
      }
      links.forEach((a) => a.addEventListener("click", (event) => {
        event.preventDefault();
        show(a.dataset.tab, true);
      }));
      let initial = location.hash.slice(1);
      const error = document.querySelector("[class*='gh-tab-'] .errorlist, [class*='gh-tab-'] .errors");
      if (error) {
        const pane = error.closest("[class*='gh-tab-']");
        const cls = Array.from(pane.classList).find((c) => c.startsWith("gh-tab-"));
        initial = cls.slice("gh-tab-".length);
      }
      show(names.includes(initial) ? initial : names[0], false);
      window.addEventListener("hashchange", () => {
        const name = location.hash.slice(1);
        if (names.includes(name)) show(name, false);
      });
    });
  }

  function setupSlugPreview() {
    document.querySelectorAll("[data-slug-preview-for]").forEach((preview) => {
      const input = document.getElementById(preview.dataset.slugPreviewFor);
      if (!input) return;
      const row = input.closest(".form-row") || input.parentNode;
      row.appendChild(preview);
      const code = preview.querySelector("code");
      const update = () => {
        const slug = slugFromName(input.value);
        // Short names get a random four-character suffix on the server.
        code.textContent = !input.value.trim() ? "…" : slug.length < 3 ? (slug ? slug + "-" : "") + "xxxx" : slug;
      };
      input.addEventListener("input", update);
      update();
    });
  }

  function setupInvokeSelect() {
    document.querySelectorAll("[data-invoke-select]").forEach((select) => {
      select.addEventListener("change", () => {
        document.getElementById("gh-invoke-url").value = select.value;
      });
    });
  }

  function setupSearch() {
    document.addEventListener("input", (event) => {
      const box = event.target.closest("[data-filter]");
      if (!box) return;
      const needle = box.value.trim().toLowerCase();
      document.querySelectorAll(box.dataset.filter).forEach((item) => {
        item.hidden = needle !== "" && !(item.dataset.search || item.textContent).toLowerCase().includes(needle);
      });
    });
  }

  /* The guardrail side panel loads admin pages as fragments (?panel=1). */
  function setupSidePanel() {
    const panel = document.getElementById("gh-sidepanel");
    if (!panel) return;
    const content = panel.querySelector("[data-panel-content]");
    const heading = panel.querySelector("[data-panel-heading]");
    function withPanel(url) {
      return url + (url.includes("?") ? "&" : "?") + "panel=1";
    }
    function render(html) {
      content.innerHTML = html;
      const body = content.querySelector("[data-panel-title]");
      if (body) heading.textContent = body.dataset.panelTitle;
      panel.hidden = false;
      panel.classList.add("open");
      const first = content.querySelector("input:not([type=hidden]), select, textarea");
      if (first) first.focus();
    }
    async function load(url) {
      const response = await fetch(withPanel(url), { credentials: "same-origin" });
      render(await response.text());
    }
    function close() {
      panel.classList.remove("open");
      panel.hidden = true;
      content.innerHTML = "";
    }
    document.addEventListener("click", (event) => {
      const opener = event.target.closest("[data-panel-open], [data-panel-link]");
      if (opener) {
        event.preventDefault();
        load(opener.getAttribute("href"));
        return;
      }
      if (event.target.closest("[data-panel-close]") && panel.contains(event.target)) {
        event.preventDefault();
        close();
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !panel.hidden) close();
    });
    content.addEventListener("submit", async (event) => {
      const form = event.target.closest("[data-panel-form]");
      if (!form) return;
      event.preventDefault();
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(form) },
      });
      const type = response.headers.get("Content-Type") || "";
      if (type.includes("application/json")) {
        const data = await response.json();
        const target = new URL(data.redirect, window.location.href);
        if (target.pathname === window.location.pathname) {
          window.location.hash = target.hash;
          window.location.reload();
        } else {
          window.location.assign(target.href);
        }
      } else {
        render(await response.text());
      }
    });
  }

  /* Generate API key: the key comes back in the response and is shown once in the dialog. */
  function setupKeyDialog() {
    const dialog = document.getElementById("gh-key-dialog");
    if (!dialog) return;
    const form = dialog.querySelector("[data-key-form]");
    const errors = form.querySelector("[data-key-errors]");
    document.querySelectorAll("[data-key-dialog-open]").forEach((button) => {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        dialog.showModal();
      });
    });
    dialog.querySelectorAll("[data-dialog-close]").forEach((button) => {
      button.addEventListener("click", () => {
        dialog.close();
        if (button.hasAttribute("data-reload")) window.location.reload();
      });
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken(form) },
      });
      const data = await response.json();
      if (!response.ok) {
        errors.innerHTML = "";
        Object.entries(data.errors || {}).forEach(([field, list]) => {
          list.forEach((error) => {
            const li = document.createElement("li");
            li.textContent = (field === "__all__" ? "" : field + ": ") + error.message;
            errors.appendChild(li);
          });
        });
        errors.hidden = false;
        return;
      }
      form.querySelector("[data-key-step=form]").hidden = true;
      form.querySelector("[data-key-step=done]").hidden = false;
      document.getElementById("gh-new-key").value = data.key;
    });
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (button) copyFrom(button.dataset.copy, button);
  });

  document.addEventListener("DOMContentLoaded", () => {
    setupTabs();
    setupSlugPreview();
    setupInvokeSelect();
    setupSearch();
    setupSidePanel();
    setupKeyDialog();
  });
})();
