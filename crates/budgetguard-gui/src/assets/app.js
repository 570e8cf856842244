// BudgetGuard TechOps GUI: the live parts of the pages, in plain JavaScript.
// Every request carries this run's token; the server renders everything
// else, including the outcome of a job (inserted as it comes).
'use strict';

(() => {
  const token = document.body.dataset.token;
  const byId = (id) => document.getElementById(id);

  /** POSTs `body` as JSON; resolves to '' on success, else the server's words. */
  async function post(path, body) {
    try {
      const response = await fetch(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-BudgetGuard-Token': token },
        body: JSON.stringify(body),
      });
      if (response.ok) return '';
      return (await response.text()) || `The server answered ${response.status}.`;
    } catch (error) {
      return `The GUI server does not answer (${error.message}); is budgetguard-techops gui still running?`;
    }
  }

  /** Copies the text of the element a `data-copy` button names. */
  document.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-copy]');
    if (!button) return;
    const text = byId(button.dataset.copy).textContent;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Select and copy';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  });

  // ---------------------------------------------------------------- Nodes

  const boxes = [...document.querySelectorAll('input[name="node"]')];
  const selected = () => boxes.filter((box) => box.checked);

  /** Port clashes and GPU contention among the selected nodes. */
  function selectionWarnings(nodes) {
    const warnings = [];
    const byPort = new Map();
    for (const box of nodes) {
      byPort.set(box.dataset.port, [...(byPort.get(box.dataset.port) || []), box.value]);
    }
    for (const [port, names] of byPort) {
      if (names.length > 1) {
        warnings.push(`${list(names)} all want host port ${port}: only one of them can run on a workstation.`);
      }
    }
    const gpu = nodes.filter((box) => box.dataset.gpu === 'true').map((box) => box.value);
    if (gpu.length > 1) {
      warnings.push(`${list(gpu)} need a GPU each: on a workstation with one GPU, only one of them can run at a time.`);
    }
    return warnings;
  }

  function list(names) {
    return names.length === 2 ? `${names[0]} and ${names[1]}`
      : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  }

  /** Why the selected nodes cannot be deployed here; empty when they can. */
  function deployReasons(nodes) {
    const form = byId('deploy-form');
    if (form.dataset.blocker) return [form.dataset.blocker];
    if (nodes.length === 0) return ['Select the nodes to deploy.'];
    return nodes.map((box) => box.dataset.blocker).filter(Boolean);
  }

  function fillList(element, items) {
    element.replaceChildren(...items.map((text) => {
      const item = document.createElement('li');
      item.textContent = text;
      return item;
    }));
  }

  function selectionChanged() {
    const nodes = selected();
    byId('selection-count').textContent = nodes.length === 0 ? 'No node selected'
      : `${nodes.length} of ${boxes.length} selected`;
    fillList(byId('selection-warnings'), selectionWarnings(nodes));
    const reasons = deployReasons(nodes);
    fillList(byId('deploy-reasons'), reasons);
    byId('deploy-button').disabled = reasons.length > 0;
  }

  function setUpNodes() {
    for (const box of boxes) box.addEventListener('change', selectionChanged);
    // A click anywhere on a row toggles its node.
    document.querySelector('table.nodes tbody').addEventListener('click', (event) => {
      if (event.target.closest('input, label, a, button')) return;
      const box = event.target.closest('tr')?.querySelector('input[name="node"]');
      if (!box) return;
      box.checked = !box.checked;
      selectionChanged();
    });
    selectionChanged();

    const createForm = byId('create-form');
    createForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const message = byId('create-message');
      const nodes = selected().map((box) => box.value);
      if (nodes.length === 0) {
        message.textContent = 'Select at least one node in the table.';
        return;
      }
      const form = new FormData(createForm);
      message.textContent = await post('/api/package', {
        nodes,
        output: form.get('output'),
        compression: form.get('compression'),
        force: form.has('force'),
        no_pull: form.has('no_pull'),
      });
      if (!message.textContent) jobStarted('Creating install package');
    });

    const deployForm = byId('deploy-form');
    deployForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const message = byId('deploy-message');
      message.textContent = await post('/api/deploy', {
        nodes: selected().map((box) => box.value),
        start: new FormData(deployForm).has('start'),
      });
      if (!message.textContent) jobStarted('Deploying on this workstation');
    });

    byId('cancel-button').addEventListener('click', async () => {
      const error = await post('/api/cancel', {});
      if (error) byId('create-message').textContent = error;
    });

    const events = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
    events.addEventListener('progress', (event) => {
      const data = JSON.parse(event.data);
      showJob(data.title, true);
      showProgress(data.progress);
    });
    events.addEventListener('finished', (event) => {
      const data = JSON.parse(event.data);
      // A refusal while the job ran no longer applies.
      byId('create-message').textContent = '';
      byId('deploy-message').textContent = '';
      showJob(data.title, false);
      byId('job-progress').hidden = !data.ok;
      if (data.ok) showProgress({ step: 'Done', percent: 100, bytes: '', notes: [] });
      if (byId('job-outcome').dataset.html !== data.html) {
        byId('job-outcome').innerHTML = data.html;
        byId('job-outcome').dataset.html = data.html;
      }
    });
  }

  /** Shows the job card for a job that just started, before its first event. */
  function jobStarted(title) {
    showJob(title, true);
    byId('job-outcome').replaceChildren();
    delete byId('job-outcome').dataset.html;
    showProgress({ step: 'Preparing', percent: null, bytes: '', notes: [] });
    byId('job').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }

  function showJob(title, running) {
    byId('job').hidden = false;
    byId('job-title').textContent = title;
    byId('cancel-button').hidden = !running;
    if (running) {
      byId('job-progress').hidden = false;
      byId('job-outcome').replaceChildren();
      delete byId('job-outcome').dataset.html;
    }
  }

  function showProgress(progress) {
    const bar = byId('job-bar');
    const known = progress.percent !== null && progress.percent !== undefined;
    byId('job-step').textContent = progress.step;
    bar.classList.toggle('bar-busy', !known);
    if (known) {
      bar.setAttribute('aria-valuenow', progress.percent);
      bar.firstElementChild.style.width = `${progress.percent}%`;
      byId('job-percent').textContent = `${progress.percent}%`;
    } else {
      bar.removeAttribute('aria-valuenow');
      byId('job-percent').textContent = '';
    }
    byId('job-bytes').textContent = progress.bytes || '';
    byId('job-rate').textContent = progress.rate || '';
    byId('job-eta').textContent = progress.eta || '';
    fillList(byId('job-notes'), progress.notes || []);
  }

  // ------------------------------------------------------- Installed nodes

  /** Fetches the table again; keeps the focus on the same button. */
  async function refreshInstalled(container) {
    try {
      const response = await fetch(container.dataset.refresh, { headers: { 'X-BudgetGuard-Token': token } });
      if (!response.ok) return;
      const html = await response.text();
      if (html === container.dataset.html) return;
      const focused = document.activeElement?.id;
      container.innerHTML = html;
      container.dataset.html = html;
      if (focused) byId(focused)?.focus();
    } catch {
      // The next refresh tries again.
    }
  }

  function setUpInstalled(container) {
    container.addEventListener('click', async (event) => {
      const button = event.target.closest('button[data-action]');
      if (!button) return;
      button.disabled = true;
      button.firstChild.textContent = button.dataset.action === 'start' ? 'Starting…' : 'Stopping…';
      byId('installed-message').textContent =
        await post(`/api/installed/${button.dataset.action}`, { node: button.dataset.node });
      await refreshInstalled(container);
    });
    setInterval(() => refreshInstalled(container), 3000);
  }

  if (boxes.length > 0) setUpNodes();
  const installed = byId('installed');
  if (installed) setUpInstalled(installed);
})();
