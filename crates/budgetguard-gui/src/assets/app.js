// BudgetGuard TechOps GUI: the live parts of the pages, in plain JavaScript.
// Every request carries this run's token. The server renders the HTML
// fragments (escaping everything a package says); data that comes as JSON is
// only ever set as text (textContent), never as markup.
'use strict';

(() => {
  const token = document.body.dataset.token;
  const byId = (id) => document.getElementById(id);
  const headers = { 'Content-Type': 'application/json', 'X-BudgetGuard-Token': token };

  /** How many job events (progress, finished) the page has received. */
  let jobEvents = 0;

  /** The number of the newest job that ended the page has heard of. */
  let newestSeen = 0;

  /**
   * POSTs `body` as JSON. Resolves to `{ ok, response, message, seen }`: on
   * a refusal, `message` is the server's `{ text, lines, field }`; `seen` is
   * the count of job events when the request was sent.
   */
  async function post(path, body) {
    const seen = jobEvents;
    let response;
    try {
      response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
    } catch (error) {
      serverGone();
      return {
        ok: false,
        message: { text: `The GUI server does not answer (${error.message}): start “budgetguard-techops gui” again and open the address it prints.`, lines: [], field: null },
      };
    }
    if (response.ok) return { ok: true, response, message: null, seen };
    const text = await response.text();
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      message = { text: text || `The server answered ${response.status}.`, lines: [], field: null };
    }
    return { ok: false, response, message, seen };
  }

  /** Puts a message (its text, then its lines) into `element`, as text. */
  function showMessage(element, message) {
    if (!element) return;
    if (!message) {
      element.replaceChildren();
      return;
    }
    const parts = [document.createTextNode(message.text)];
    if (message.lines && message.lines.length > 0) {
      const list = document.createElement('ul');
      for (const line of message.lines) {
        const item = document.createElement('li');
        item.textContent = line;
        list.append(item);
      }
      parts.push(list);
    }
    element.replaceChildren(...parts);
  }

  /** Shows `text` beside the field with id `field` (or clears it). */
  function fieldError(field, text) {
    const input = byId(field);
    const slot = byId(`${field}-error`);
    if (slot) slot.textContent = text || '';
    // A problem under "More options" opens the fold: it is never hidden.
    const fold = slot?.closest('details');
    if (text && fold) fold.open = true;
    if (input) {
      if (text) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
  }

  /** A refusal: beside its field when it names one, else in `fallback`. */
  function refusal(message, fallback) {
    hideFinishedJob();
    if (message.field && byId(`${message.field}-error`)) {
      fieldError(message.field, message.text);
      showMessage(fallback, null);
    } else {
      showMessage(fallback, message);
    }
  }

  function fillList(element, items) {
    element.replaceChildren(...items.map((text) => {
      const item = document.createElement('li');
      item.textContent = text;
      return item;
    }));
  }

  function debounce(work, wait) {
    let timer;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => work(...args), wait);
    };
  }

  /** Copies the text of the element a `data-copy` button names. */
  document.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-copy]');
    if (!button) return;
    const text = byId(button.dataset.copy).textContent.trim();
    const label = button.firstChild;
    try {
      await navigator.clipboard.writeText(text);
      label.textContent = 'Copied';
    } catch {
      // No clipboard (a page not on localhost): select the text instead.
      const range = document.createRange();
      range.selectNodeContents(byId(button.dataset.copy));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      label.textContent = 'Selected: press Ctrl+C';
    }
    setTimeout(() => { label.textContent = 'Copy'; }, 2000);
  });

  // ------------------------------------------------------ The file chooser

  /** What each kind of field offers, said at the top of the chooser. */
  const OFFERS = {
    package: 'Packages: .zip files, or the first part (.zip.001) of a package in parts.',
    'public-key': 'Public keys: .pub files, as TechOps sends them.',
    'secret-key': 'Secret keys: .key files, as “Make a key pair” or budgetguard-techops keygen writes them.',
    folder: 'Choose the folder to save the package in; the packages already there are shown.',
  };

  const chooser = {
    dialog: byId('chooser'),
    field: null,
    wanted: 'package',
    folder: '',
  };

  /** Sets `field` to `path` as if typed, and tells the server the folder
   * was used (a recent folder). */
  function choose(field, path) {
    field.value = path;
    field.dispatchEvent(new Event('input', { bubbles: true }));
    post('/api/files/chosen', { path });
    if (field.id === 'package-path') byId('inspect-button').click();
    field.focus();
  }

  function chooserButton(text, onClick, extra) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = text;
    if (extra) button.append(...extra);
    button.addEventListener('click', onClick);
    return button;
  }

  /** Lists `folder` in the chooser. */
  async function openFolder(folder) {
    const answer = await post('/api/files', { folder, wanted: chooser.wanted });
    if (!answer.ok) {
      showMessage(byId('chooser-message'), answer.message);
      return;
    }
    showMessage(byId('chooser-message'), null);
    const listing = await answer.response.json();
    chooser.folder = listing.folder;
    byId('chooser-folder').textContent = listing.folder;
    byId('chooser-up').disabled = !listing.parent;
    byId('chooser-up').dataset.folder = listing.parent || '';
    byId('chooser-places').replaceChildren(...listing.shortcuts.map((place) => {
      const item = document.createElement('li');
      item.append(chooserButton(place.label, () => openFolder(place.path)));
      return item;
    }));
    const items = listing.entries.map((entry) => {
      const item = document.createElement('li');
      const kind = document.createElement('span');
      kind.className = 'entry-kind';
      kind.textContent = entry.folder ? 'folder' : entry.size;
      const extra = [kind];
      if (entry.link) {
        const link = document.createElement('span');
        link.className = 'entry-link';
        link.textContent = entry.link;
        extra.push(link);
      }
      const button = chooserButton(entry.folder ? `${entry.name}/` : entry.name, () => {
        if (entry.folder) {
          openFolder(entry.path);
        } else {
          chooser.dialog.close();
          choose(chooser.field, entry.path);
        }
      }, extra);
      button.dataset.entry = entry.name;
      item.append(button);
      return item;
    });
    if (items.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'muted';
      empty.textContent = 'Nothing to choose here: no folder, and no file of the kind this field takes.';
      items.push(empty);
    }
    byId('chooser-entries').replaceChildren(...items);
    const note = byId('chooser-note');
    note.textContent = listing.note || '';
    note.hidden = !listing.note;
  }

  document.addEventListener('click', (event) => {
    const button = event.target.closest('[data-choose]');
    if (!button) return;
    chooser.field = byId(button.dataset.choose);
    chooser.wanted = button.dataset.wanted;
    byId('chooser-title').textContent = chooser.wanted === 'folder' ? 'Choose a folder' : 'Choose a file';
    byId('chooser-offers').textContent = OFFERS[chooser.wanted];
    byId('chooser-use-folder').hidden = chooser.wanted !== 'folder';
    byId('chooser-use-folder').textContent = chooser.field.id === 'install-dir' ? 'Use this folder' : 'Save in this folder';
    chooser.dialog.showModal();
    openFolder(chooser.field.value.trim());
  });
  byId('chooser-up').addEventListener('click', (event) => openFolder(event.currentTarget.dataset.folder));
  byId('chooser-close').addEventListener('click', () => chooser.dialog.close());
  byId('chooser-use-folder').addEventListener('click', () => {
    chooser.dialog.close();
    if (chooser.field.id === 'install-dir' || chooser.field.id === 'new-key') {
      const name = chooser.field.id === 'new-key'
        ? `/${chooser.field.value.trim().split(/[/\\]/).pop() || 'techops.key'}` : '';
      choose(chooser.field, `${chooser.folder.replace(/\/$/, '')}${name}`);
      return;
    }
    // The file name stays; the folder is the one shown.
    const name = chooser.field.value.trim().split(/[/\\]/).pop() || 'install-package.zip';
    choose(chooser.field, `${chooser.folder.replace(/\/$/, '')}/${name}`);
  });

  // -------------------------------------------------------------- The job

  let jobRunning = !byId('cancel-button').hidden;
  const jobListeners = [];
  const onJobChange = (listener) => jobListeners.push(listener);
  const jobChanged = (finished) => jobListeners.forEach((listener) => listener(finished));

  function hideFinishedJob() {
    if (!jobRunning) byId('job').hidden = true;
  }

  /** Shows the job card for a job that `answer` started, unless its events
   * came first (a short job may end before its request's answer). */
  function jobStarted(title, answer) {
    if (answer.seen !== jobEvents) return;
    jobRunning = true;
    showJob(title, true);
    showMessage(byId('job-message'), null);
    showProgress({ step: 'Preparing', percent: null, bytes: '', notes: [] });
    focusJob();
    refreshJobs();
    jobChanged(null);
  }

  /** Brings the job card into view and moves the focus to it. */
  function focusJob() {
    const card = byId('job');
    card.focus({ preventScroll: true });
    card.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  /** Fetches the job list again (the server renders it). */
  async function refreshJobs() {
    try {
      const response = await fetch('/api/jobs', { headers: { 'X-BudgetGuard-Token': token } });
      if (!response.ok) return;
      // Rendered by the server, every value escaped.
      byId('job-list').innerHTML = await response.text();
      markShownJob();
    } catch {
      // The next job's start or end fetches it again.
    }
  }

  /** Marks the list's entry of the job the card shows. */
  function markShownJob() {
    const shown = byId('job').dataset.id;
    document.querySelectorAll('#job-list .job-entry').forEach((entry) => {
      if (entry.dataset.job === shown) entry.setAttribute('aria-current', 'true');
      else entry.removeAttribute('aria-current');
    });
  }

  /** Shows a job that ended (`data` as the `finished` event gives it) in
   * the card. */
  function showEnded(data) {
    showJob(data.title, false);
    byId('job-progress').hidden = !data.ok;
    if (data.ok) showProgress({ step: 'Done', percent: 100, bytes: '', notes: [] });
    // Rendered by the server, every value escaped.
    byId('job-outcome').innerHTML = data.html;
    byId('job-outcome').dataset.html = data.html;
    byId('job').dataset.id = String(data.id);
    markShownJob();
  }

  byId('job-list').addEventListener('click', async (event) => {
    const button = event.target.closest('[data-show-job]');
    if (!button) return;
    try {
      const response = await fetch(`/api/jobs/show?id=${encodeURIComponent(button.dataset.showJob)}`,
        { headers: { 'X-BudgetGuard-Token': token } });
      if (response.ok) {
        showEnded(await response.json());
        showMessage(byId('job-message'), null);
      } else {
        showMessage(byId('job-message'), await response.json());
        byId('job').hidden = false;
      }
      focusJob();
    } catch (error) {
      serverGone(error);
    }
  });

  // Copy to a folder or USB stick: a job of its own, from a Create's card.
  document.addEventListener('click', async (event) => {
    if (!event.target.closest('#copy-button')) return;
    fieldError('copy-folder', '');
    const answer = await post('/api/copy', {
      job: Number(byId('job').dataset.id),
      folder: byId('copy-folder').value,
    });
    if (answer.ok) jobStarted('Copying to the folder', answer);
    else if (answer.message.field === 'copy-folder') fieldError('copy-folder', answer.message.text);
    else showMessage(byId('job-message'), answer.message);
  });

  /** Says that a job ended: a notice in the corner, read out by screen
   * readers (a polite live region), with a button to its card. */
  let toastTimer;
  function announce(data) {
    const toast = byId('toast');
    byId('toast-text').textContent = data.ok ? `${data.title}.` : `${data.title}: see why in its card.`;
    toast.dataset.id = String(data.id);
    toast.classList.toggle('toast-bad', !data.ok);
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toast.hidden = true; }, 10000);
  }
  byId('toast-show').addEventListener('click', async () => {
    const toast = byId('toast');
    toast.hidden = true;
    if (byId('job').dataset.id !== toast.dataset.id) {
      const button = document.querySelector(`[data-show-job="${toast.dataset.id}"]`);
      if (button) button.click();
      return;
    }
    focusJob();
  });
  byId('toast-close').addEventListener('click', () => { byId('toast').hidden = true; });

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

  byId('cancel-button').addEventListener('click', async () => {
    const answer = await post('/api/cancel', {});
    showMessage(byId('job-message'), answer.ok ? null : answer.message);
  });

  /** Says, at the top of the page, that the GUI server no longer answers. */
  function serverGone() {
    byId('server-gone').hidden = false;
    document.querySelectorAll('button[type="submit"]').forEach((button) => { button.disabled = true; });
  }

  const events = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
  // The stream ends when the server stops: ask once whether it still
  // answers (the browser retries the stream meanwhile).
  events.addEventListener('error', async () => {
    try {
      const response = await fetch('/assets/app.css', { method: 'HEAD', cache: 'no-store' });
      if (!response.ok) serverGone();
    } catch {
      serverGone();
    }
  });
  events.addEventListener('open', () => { byId('server-gone').hidden = true; });
  events.addEventListener('progress', (event) => {
    jobEvents += 1;
    const data = JSON.parse(event.data);
    const was = jobRunning;
    jobRunning = true;
    showJob(data.title, true);
    delete byId('job').dataset.id;
    showProgress(data.progress);
    if (!was) {
      refreshJobs();
      jobChanged(null);
    }
  });
  events.addEventListener('finished', (event) => {
    jobEvents += 1;
    const data = JSON.parse(event.data);
    const was = jobRunning;
    jobRunning = false;
    // A refusal while the job ran no longer applies.
    document.querySelectorAll('form .message').forEach((element) => showMessage(element, null));
    showMessage(byId('job-message'), null);
    // A job the user looks at in the card stays, unless a newer one ended
    // (started here, in another tab, or too short to report progress).
    const newer = data.id > newestSeen;
    const fresh = newer && newestSeen > 0;
    newestSeen = Math.max(newestSeen, data.id);
    const other = byId('job').dataset.id && byId('job').dataset.id !== String(data.id);
    if (was || newer || (!other && byId('job-outcome').dataset.html !== data.html)) {
      showEnded(data);
      const text = byId('result-error')?.textContent.trim();
      if (data.field && byId(`${data.field}-error`)) fieldError(data.field, text);
    }
    if (was || fresh) {
      refreshJobs();
      announce(data);
      jobChanged(data);
    }
  });
  events.addEventListener('idle', () => {
    jobRunning = false;
    jobChanged(null);
  });

  // ------------------------------------------------- States that stay true

  /** GETs `path` as JSON with the token; `undefined` when the server does
   * not answer (the page then says it stopped). */
  async function getJson(path) {
    try {
      const response = await fetch(path, { headers: { 'X-BudgetGuard-Token': token } });
      return response.ok ? await response.json() : undefined;
    } catch {
      serverGone();
      return undefined;
    }
  }

  /** The engine badge and banner, and the forms' blockers, as Docker is
   * now: a banner goes once its cause does. */
  async function followEngine() {
    const engine = await getJson('/api/engine');
    if (!engine) return;
    const badge = byId('engine-status');
    badge.className = `engine engine-${engine.class}`;
    badge.lastChild.textContent = engine.text;
    const banner = byId('engine-detail');
    banner.className = `banner banner-${engine.class}`;
    banner.textContent = engine.detail;
    banner.hidden = engine.class === 'ok';
    let changed = false;
    for (const form of [byId('deploy-form'), byId('install-form')]) {
      if (!form || (form.dataset.blocker || null) === engine.blocker) continue;
      if (engine.blocker) form.dataset.blocker = engine.blocker;
      else delete form.dataset.blocker;
      changed = true;
    }
    if (changed) document.dispatchEvent(new Event('engine-changed'));
  }

  /** The node states a deploy's or an install's card shows, as they are
   * now (started, stopped or removed since). */
  async function followNodes() {
    const pills = [...document.querySelectorAll('#job-outcome [data-node-state]')];
    if (pills.length === 0) return;
    const states = await getJson('/api/installed/states');
    if (!states) return;
    for (const pill of pills) {
      const [word, tone] = states[pill.dataset.nodeState] || ['Removed', 'idle'];
      pill.textContent = word;
      pill.className = `state state-${tone}`;
    }
  }

  setInterval(() => {
    if (!byId('server-gone').hidden) return;
    followEngine();
    followNodes();
  }, 4000);

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
    const reasons = [];
    if (jobRunning) reasons.push('A job is running: wait for it to finish, or cancel it.');
    return reasons;
  }

  const zipName = (path) => /[^/\\]\.zip$/i.test(path.trim());
  const NOT_ZIP = 'The file name must end in .zip: a package is one ZIP file.';
  // An address (`scheme://…`) is the server's to check, as the library reads it.
  const isAddress = (text) => /^[a-z][a-z0-9+.-]*:\/\//i.test(text.trim());
  /** A package published to a registry: read with Docker's logins, so the
   * package server's options do not apply. */
  const isOci = (text) => /^oci:\/\//i.test(text.trim());
  const packageName = (path) => isAddress(path) || /[^/\\]\.zip(\.\d{3})?$/i.test(path.trim());
  const NOT_PACKAGE = 'The file name must end in .zip, or .zip.001 for a package in parts.';

  function setUpNodes() {
    const createForm = byId('create-form');
    const output = byId('output');
    const fromRegistry = byId('from_registry');
    const since = byId('since');
    let estimateBlocker = null;
    let estimateFor = '';

    // The key's password is no setting: it goes with the Create request
    // only, and is never saved.
    function createSettings() {
      const form = new FormData(createForm);
      return {
        output: output.value,
        compression: form.get('compression'),
        force: form.has('force'),
        no_pull: form.has('no_pull'),
        start_after_install: form.has('start_after_install'),
        models: byId('models').checked,
        profiles: byId('profiles').value,
        sign_key: byId('sign_key').value,
        from_registry: fromRegistry.checked,
        platform: byId('platform').value,
        // Not a number: refused at the field.
        jobs: Number.parseInt(byId('jobs').value, 10) || 0,
        since: since.value,
        split: splitSize(form),
      };
    }

    /** The part size the Split choice stands for; empty for one file. */
    function splitSize(form) {
      switch (form.get('split_choice')) {
        case 'fat32': return '4095MiB';
        case 'custom': return byId('split_size').value;
        default: return '';
      }
    }

    /** The fields whose problems the estimate reports. */
    const ESTIMATED_FIELDS = ['profiles', 'sign_key', 'platform', 'jobs', 'since', 'split_size'];

    /** Whether each node's image can be had, as the server last said. */
    let availability = {};

    /** Why a selected node's image cannot be had now, with one fix; null
     * when it can. */
    function unavailable(box) {
      const found = availability[box.value];
      if (!found) return null;
      if (found.reason) return `“${box.value}”: ${found.reason}; or untick ${box.value}.`;
      if (found.state === 'pullable' && byId('no_pull').checked && !fromRegistry.checked) {
        return `“${box.value}” is not in Docker, and “Use only images already in Docker, never pull” is ticked: untick that option, or untick ${box.value}.`;
      }
      return null;
    }

    /** Asks again whether each node's image can be had, and says it in the
     * table. */
    async function refreshAvailability() {
      const found = await getJson('/api/nodes/availability');
      if (!found) return;
      availability = found;
      for (const box of boxes) {
        const node = found[box.value];
        const row = box.closest('tr');
        const tag = row.querySelector('.image-source');
        if (!node || !tag) continue;
        tag.textContent = node.word;
        tag.className = `tag tag-${node.class} image-source`;
        tag.title = node.reason || '';
        const size = row.querySelector('.image-size');
        if (size && node.size) size.textContent = node.size;
      }
      updateButtons();
      showPulls();
    }

    /** The images Create would pull, and about how much that downloads. */
    function showPulls() {
      const pulls = selected()
        .map((box) => [box.value, availability[box.value]])
        .filter(([, found]) => found && found.state === 'pullable')
        .map(([name, found]) => `${name} (${found.size})`);
      const line = byId('estimate-pull');
      line.textContent = pulls.length > 0 && !fromRegistry.checked
        ? `Not in Docker yet, pulled at Create: ${pulls.join(', ')}.` : '';
      line.hidden = !line.textContent;
    }

    /** Why Create cannot work now; empty when it can. Whether it needs
     * Docker, and whether Docker answers, the estimate says. */
    function createReasons(nodes) {
      const reasons = [];
      if (nodes.length === 0) reasons.push('Select the nodes to package.');
      for (const box of nodes) {
        const why = unavailable(box);
        if (why) reasons.push(why);
      }
      if (!zipName(output.value)) reasons.push(NOT_ZIP);
      if (jobRunning) reasons.push('A job is running: wait for it to finish, or cancel it.');
      if (estimateBlocker && nodes.length > 0) reasons.push(estimateBlocker);
      return reasons;
    }

    function updateButtons() {
      const nodes = selected();
      const reasons = deployReasons(nodes);
      fillList(byId('deploy-reasons'), reasons);
      byId('deploy-button').disabled = reasons.length > 0;
      const create = createReasons(nodes);
      fillList(byId('create-reasons'), create);
      byId('create-button').disabled = create.length > 0;
    }

    const estimate = debounce(async () => {
      const nodes = selected().map((box) => box.value);
      const request = { nodes, ...createSettings() };
      const key = JSON.stringify(request);
      estimateFor = key;
      if (!zipName(output.value)) {
        fieldError('output', output.value.trim() ? NOT_ZIP : 'Enter the output file.');
        estimateBlocker = null;
        updateButtons();
        return;
      }
      const answer = await post('/api/package/estimate', request);
      if (estimateFor !== key) return;
      if (!answer.ok) {
        fieldError('output', answer.message.text);
        estimateBlocker = answer.message.text;
        updateButtons();
        return;
      }
      const data = await answer.response.json();
      if (estimateFor !== key) return;
      byId('estimate-size').textContent = nodes.length === 0 ? 'Select nodes to see it' : data.size;
      byId('estimate-models').textContent = nodes.length === 0 ? '—' : data.models;
      byId('estimate-signature').textContent = data.signature;
      byId('estimate-space').textContent = data.space;
      for (const field of ESTIMATED_FIELDS) {
        const problem = data.problems.find((message) => message.field === field);
        fieldError(field, problem ? problem.text : '');
      }
      const warning = byId('estimate-warning');
      warning.textContent = nodes.length > 0 && data.warning ? data.warning : '';
      warning.hidden = !warning.textContent;
      fieldError('output', data.output ? data.output.text : '');
      estimateBlocker = data.blocker;
      updateButtons();
    }, 200);

    const saveSettings = debounce(() => post('/api/package/settings', createSettings()), 300);

    function selectionChanged() {
      const nodes = selected();
      byId('selection-count').textContent = nodes.length === 0 ? 'No node selected'
        : `${nodes.length} of ${boxes.length} selected`;
      fillList(byId('selection-warnings'), selectionWarnings(nodes));
      updateButtons();
      showPulls();
      estimate();
    }

    for (const box of boxes) box.addEventListener('change', selectionChanged);
    // A click anywhere on a row toggles its node.
    document.querySelector('table.nodes tbody').addEventListener('click', (event) => {
      if (event.target.closest('input, label, a, button')) return;
      const box = event.target.closest('tr')?.querySelector('input[name="node"]');
      if (!box) return;
      box.checked = !box.checked;
      selectionChanged();
    });

    const refreshPackages = debounce(async () => {
      const answer = await post('/api/packages', { output: output.value });
      if (answer.ok) {
        // Rendered by the server, every value escaped.
        byId('packages').innerHTML = await answer.response.text();
      } else {
        showMessage(byId('packages'), answer.message);
      }
    }, 300);

    output.addEventListener('input', () => {
      fieldError('output', zipName(output.value) || !output.value.trim() ? '' : NOT_ZIP);
      updateButtons();
      estimate();
      saveSettings();
      refreshPackages();
    });
    const profiles = byId('profiles');
    const models = byId('models');
    models.addEventListener('change', () => {
      profiles.disabled = !models.checked;
      fieldError('models', '');
    });
    for (const field of [profiles, byId('sign_key'), byId('platform'), byId('jobs'), since, byId('split_size')]) {
      field.addEventListener('input', () => {
        estimate();
        saveSettings();
      });
    }
    fromRegistry.addEventListener('change', () => {
      byId('platform').disabled = !fromRegistry.checked;
      byId('jobs').disabled = !fromRegistry.checked;
      fieldError('from_registry', '');
    });
    byId('key_password').addEventListener('input', () => fieldError('key_password', ''));
    // A key pair made here: the new secret key signs from now on.
    byId('keygen-button').addEventListener('click', async () => {
      fieldError('new-key', '');
      fieldError('new-key-repeat', '');
      const answer = await post('/api/keys/generate', {
        path: byId('new-key').value,
        password: byId('new-key-password').value,
        repeated: byId('new-key-repeat').value,
      });
      byId('new-key-password').value = '';
      byId('new-key-repeat').value = '';
      if (!answer.ok) {
        refusal(answer.message, byId('create-message'));
        return;
      }
      const made = await answer.response.json();
      byId('keygen-result').textContent = `Made key ${made.key_id}: the secret key is ${made.secret} (it now signs this form's packages); send ${made.public} to the workstations.`;
      choose(byId('sign_key'), made.secret);
    });
    createForm.addEventListener('change', (event) => {
      if (event.target.name === 'node' || event.target.id === 'key_password') return;
      if (event.target.id === 'no_pull') fieldError('no_pull', '');
      if (event.target.id === 'no_pull' || event.target.id === 'from_registry') {
        updateButtons();
        refreshAvailability();
      }
      estimate();
      saveSettings();
    });

    createForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const message = byId('create-message');
      const nodes = selected().map((box) => box.value);
      if (createReasons(nodes).length > 0) return;
      for (const field of ['output', 'no_pull', 'models', 'key_password', 'from_registry']) fieldError(field, '');
      const password = byId('key_password');
      const answer = await post('/api/package', { nodes, ...createSettings(), password: password.value });
      if (answer.ok) {
        // The key is open: the password is not kept in the page either.
        password.value = '';
        showMessage(message, null);
        jobStarted('Creating install package', answer);
      } else {
        refusal(answer.message, message);
      }
    });

    const deployForm = byId('deploy-form');
    deployForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const answer = await post('/api/deploy', {
        nodes: selected().map((box) => box.value),
        start: new FormData(deployForm).has('start'),
      });
      if (answer.ok) {
        showMessage(byId('deploy-message'), null);
        jobStarted('Deploying on this workstation', answer);
      } else {
        refusal(answer.message, byId('deploy-message'));
      }
    });

    byId('packages-refresh').addEventListener('click', refreshPackages);
    byId('packages').addEventListener('click', async (event) => {
      const inspect = event.target.closest('[data-inspect]');
      const verify = event.target.closest('[data-verify]');
      const base = event.target.closest('[data-base]');
      if (base) {
        // The next package is an update of this one.
        since.value = base.dataset.base;
        fieldError('since', '');
        estimate();
        saveSettings();
        since.focus();
        since.scrollIntoView({ behavior: 'smooth', block: 'center' });
      } else if (inspect) {
        const answer = await post('/api/inspect', { path: inspect.dataset.inspect, install: false });
        const panel = byId('inspection');
        if (answer.ok) {
          panel.innerHTML = await answer.response.text();
        } else {
          const error = document.createElement('p');
          error.className = 'error-text';
          showMessage(error, answer.message);
          panel.replaceChildren(error);
        }
        panel.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
      } else if (verify) {
        const answer = await post('/api/verify', { path: verify.dataset.verify });
        if (answer.ok) {
          showMessage(byId('job-message'), null);
          jobStarted('Verifying package', answer);
        } else {
          showMessage(byId('job-message'), answer.message);
          byId('job').hidden = false;
        }
      }
    });

    // Publish to registry, from a package's Inspect view: a job of its own.
    async function publish() {
      const button = byId('publish-button');
      fieldError('publish-to', '');
      const answer = await post('/api/publish', { path: button.dataset.publish, to: byId('publish-to').value });
      if (answer.ok) {
        showMessage(byId('job-message'), null);
        jobStarted('Publishing to the registry', answer);
      } else if (answer.message.field === 'publish-to') {
        fieldError('publish-to', answer.message.text);
      } else {
        showMessage(byId('job-message'), answer.message);
        byId('job').hidden = false;
      }
    }
    byId('inspection').addEventListener('click', (event) => {
      if (event.target.closest('#publish-button')) publish();
    });
    byId('inspection').addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && event.target.id === 'publish-to') {
        event.preventDefault();
        publish();
      }
    });

    /** What this machine holds of each node's model cache, once a Create
     * may have filled one: set as text. */
    async function refreshModels() {
      try {
        const response = await fetch('/api/models', { headers: { 'X-BudgetGuard-Token': token } });
        if (!response.ok) return;
        const models = await response.json();
        for (const box of boxes) {
          const model = models[box.value];
          const cell = box.closest('tr').querySelector('.model-held');
          if (!model || !cell) continue;
          cell.textContent = model.text;
          cell.classList.toggle('muted', !model.held);
        }
      } catch {
        // The next Create refreshes it again.
      }
    }

    document.addEventListener('engine-changed', () => {
      updateButtons();
      estimate();
    });
    onJobChange((finished) => {
      updateButtons();
      if (finished && (finished.kind === 'package' || finished.kind === 'verify')) {
        refreshPackages();
        estimate();
      }
      if (finished && finished.kind === 'package') refreshModels();
    });
    selectionChanged();
    refreshPackages();
    refreshAvailability();
  }

  // -------------------------------------------------------------- Install

  function setUpInstall() {
    const form = byId('install-form');
    const path = byId('package-path');
    const allowHttp = byId('allow-http');
    const tokenFile = byId('token-file');
    let inspected = null;

    // The package as asked for: the path, and for an address how it is read
    // (the token file's path goes with each request, never kept).
    function asked() {
      const address = isAddress(path.value) && !isOci(path.value);
      return {
        path: path.value.trim(),
        allow_http: address && allowHttp.checked,
        token_file: address ? tokenFile.value : '',
      };
    }
    const askedKey = () => JSON.stringify(asked());
    function showServerOptions() {
      byId('server-options').hidden = !isAddress(path.value) || isOci(path.value);
    }

    function reasons() {
      if (form.dataset.blocker) return [form.dataset.blocker];
      const list = [];
      if (!packageName(path.value)) list.push(path.value.trim() ? NOT_PACKAGE : 'Enter the path of the package file.');
      else if (inspected !== askedKey()) list.push('Inspect the package first.');
      else if (byId('inspected')?.dataset.refusal) list.push(byId('inspected').dataset.refusal);
      if (inspected === askedKey() && byId('inspected')?.dataset.noRoom) list.push(byId('inspected').dataset.noRoom);
      if (jobRunning) list.push('A job is running: wait for it to finish, or cancel it.');
      return list;
    }

    function update() {
      const list = reasons();
      fillList(byId('install-reasons'), list);
      byId('install-button').disabled = list.length > 0;
    }

    async function inspect() {
      fieldError('package-path', '');
      showMessage(byId('install-message'), null);
      if (!packageName(path.value)) {
        fieldError('package-path', path.value.trim() ? NOT_ZIP : 'Enter the path of the package file.');
        return;
      }
      const key = askedKey();
      const answer = await post('/api/inspect', { ...asked(), install: true });
      const panel = byId('inspection');
      if (answer.ok) {
        panel.innerHTML = await answer.response.text();
        inspected = key;
        const starts = byId('inspected').dataset.start === 'true';
        byId('start-as-package').textContent = starts ? '(the nodes start)' : '(the nodes stay stopped)';
      } else {
        panel.replaceChildren();
        inspected = null;
        refusal(answer.message, byId('install-message'));
      }
      update();
    }

    function changed() {
      showServerOptions();
      if (inspected !== askedKey()) byId('inspection').replaceChildren();
      update();
    }
    path.addEventListener('input', () => {
      fieldError('package-path', packageName(path.value) || !path.value.trim() ? '' : NOT_PACKAGE);
      changed();
    });
    allowHttp.addEventListener('change', changed);
    tokenFile.addEventListener('input', changed);
    path.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        inspect();
      }
    });
    byId('inspect-button').addEventListener('click', inspect);
    // Packages on removable drives: Use one, or look again.
    byId('media').addEventListener('click', (event) => {
      const use = event.target.closest('[data-use-package]');
      if (use) choose(path, use.dataset.usePackage);
    });
    byId('media-refresh').addEventListener('click', async () => {
      try {
        const response = await fetch('/api/files/media', { headers: { 'X-BudgetGuard-Token': token } });
        // Rendered by the server, every value escaped.
        if (response.ok) byId('media').innerHTML = await response.text();
      } catch {
        serverGone();
      }
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (reasons().length > 0) return;
      const answer = await post('/api/install', {
        ...asked(),
        start: new FormData(form).get('start'),
        publish: byId('publish').checked,
      });
      if (answer.ok) {
        showMessage(byId('install-message'), null);
        jobStarted('Installing package', answer);
      } else {
        refusal(answer.message, byId('install-message'));
      }
    });
    document.addEventListener('engine-changed', update);
    onJobChange((finished) => {
      update();
      if (finished && finished.kind === 'install' && inspected) inspect();
    });

    // Trusted keys: add from a .pub file, remove; the box comes back
    // rendered by the server, and an inspected package's signer is read
    // again.
    const trustPath = byId('trust-path');
    async function trusted(path, body) {
      const answer = await post(path, body);
      if (answer.ok) {
        // Rendered by the server, every value escaped.
        byId('trusted-keys').innerHTML = await answer.response.text();
        showMessage(byId('trust-message'), null);
        if (inspected) inspect();
      } else {
        refusal(answer.message, byId('trust-message'));
      }
      return answer.ok;
    }
    trustPath.addEventListener('input', () => fieldError('trust-path', ''));

    // The install folder: changed, the page loads again (the trusted keys
    // and what is installed are the new folder's).
    byId('install-dir').addEventListener('input', () => fieldError('install-dir', ''));
    byId('folder-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const answer = await post('/api/install-dir', { path: byId('install-dir').value });
      if (answer.ok) {
        window.location.reload();
      } else {
        refusal(answer.message, byId('trust-message'));
      }
    });
    byId('trust-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      fieldError('trust-path', '');
      if (await trusted('/api/trust/add', { path: trustPath.value })) trustPath.value = '';
    });
    // Removing a key asks first, and says what changes.
    let distrusted = null;
    byId('trusted-keys').addEventListener('click', (event) => {
      const button = event.target.closest('[data-distrust]');
      if (!button) return;
      distrusted = button.dataset.distrust;
      const last = document.querySelectorAll('#trusted-keys [data-distrust]').length === 1;
      byId('distrust-key').textContent = distrusted;
      byId('distrust-effect').textContent = last
        ? 'It is the only trusted key: this workstation will again install unsigned packages, and packages signed by any key, with only a warning.'
        : 'Packages signed by this key alone will no longer install here; the other trusted keys stay.';
      byId('distrust-panel').hidden = false;
      byId('distrust-keep').focus();
    });
    byId('distrust-keep').addEventListener('click', () => {
      byId('distrust-panel').hidden = true;
      distrusted = null;
    });
    byId('distrust-confirm').addEventListener('click', async () => {
      byId('distrust-panel').hidden = true;
      if (distrusted) await trusted('/api/trust/remove', { id: distrusted });
      distrusted = null;
    });
    showServerOptions();
    update();
    if (path.value.trim()) inspect();
  }

  // ------------------------------------------------------- Installed nodes

  /** Fetches the table again; keeps the focus on the same button. Returns
   * whether the table answered. */
  async function refreshInstalled(container) {
    try {
      const response = await fetch(container.dataset.refresh, { headers: { 'X-BudgetGuard-Token': token } });
      if (!response.ok) return true;
      const html = await response.text();
      if (html === container.dataset.html) return true;
      const focused = document.activeElement?.id;
      // Rendered by the server, every value escaped.
      container.innerHTML = html;
      container.dataset.html = html;
      if (focused) byId(focused)?.focus();
      return true;
    } catch {
      serverGone();
      return false;
    }
  }

  function setUpInstalled(container) {
    let logNode = null;
    let uninstallNode = null;
    let tryNode = null;

    /** Whether the table still lists the node `name`. */
    const listed = (name) => [...container.querySelectorAll('tr[data-node]')]
      .some((row) => row.dataset.node === name);

    /** Closes the panels of a node that is no longer installed. */
    function closeRemoved() {
      if (logNode && !listed(logNode)) {
        byId('log-panel').hidden = true;
        logNode = null;
      }
      if (tryNode && !listed(tryNode)) {
        byId('try-panel').hidden = true;
        tryNode = null;
      }
      if (uninstallNode && !listed(uninstallNode)) {
        byId('uninstall-panel').hidden = true;
        uninstallNode = null;
      }
    }

    async function refresh() {
      await refreshInstalled(container);
      closeRemoved();
      // The log follows live while it is open.
      if (logNode && !byId('log-panel').hidden) await showLog(logNode, true);
    }

    byId('try-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const button = byId('try-button');
      button.disabled = true;
      showMessage(byId('try-message'), null);
      byId('try-status').textContent = `Sent to ${tryNode}: waiting for its picture…`;
      const answer = await post('/api/installed/try', { node: tryNode, prompt: byId('try-prompt').value });
      button.disabled = false;
      if (answer.ok) {
        const tried = await answer.response.json();
        const image = byId('try-image');
        image.src = tried.image;
        image.alt = `The picture ${tryNode} made for “${byId('try-prompt').value.trim()}”`;
        image.hidden = false;
        byId('try-status').textContent = `${tryNode} answered in ${tried.took}${tried.seed === null ? '' : ` (seed ${tried.seed})`}: it works.`;
      } else {
        byId('try-status').textContent = '';
        showMessage(byId('try-message'), answer.message);
      }
    });
    byId('try-close').addEventListener('click', () => {
      byId('try-panel').hidden = true;
      tryNode = null;
    });

    /** Shows the node's log; `follow`: read again by the live refresh,
     * which keeps the reader's place unless they were at the end. */
    async function showLog(node, follow) {
      const lines = byId('log-lines');
      const atEnd = lines.scrollTop + lines.clientHeight >= lines.scrollHeight - 4;
      logNode = node;
      byId('log-panel').hidden = false;
      byId('log-node').textContent = node;
      const answer = await post('/api/installed/logs', { node });
      if (!answer.ok) {
        showMessage(lines, answer.message);
      } else {
        const log = await answer.response.json();
        if (log.lines === null) lines.textContent = 'This node has no container: install it again.';
        else if (log.lines.length === 0) lines.textContent = 'The log is empty.';
        else lines.textContent = log.lines.join('\n');
      }
      if (!follow || atEnd) lines.scrollTop = lines.scrollHeight;
    }

    container.addEventListener('click', async (event) => {
      const action = event.target.closest('button[data-action]');
      const log = event.target.closest('button[data-log]');
      const uninstall = event.target.closest('button[data-uninstall]');
      const tryIt = event.target.closest('button[data-try]');
      if (tryIt) {
        if (tryNode !== tryIt.dataset.try) {
          byId('try-image').hidden = true;
          byId('try-status').textContent = '';
          showMessage(byId('try-message'), null);
        }
        tryNode = tryIt.dataset.try;
        byId('try-node').textContent = tryNode;
        byId('try-panel').hidden = false;
        byId('try-panel').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
        byId('try-prompt').focus();
      } else if (action) {
        action.disabled = true;
        const words = { start: 'Starting…', stop: 'Stopping…', restart: 'Restarting…' };
        action.firstChild.textContent = words[action.dataset.action];
        const answer = await post(`/api/installed/${action.dataset.action}`, { node: action.dataset.node });
        showMessage(byId('installed-message'), answer.ok ? null : answer.message);
        // Redraw even if nothing changed: the button must come back.
        delete container.dataset.html;
        await refresh();
      } else if (log) {
        await showLog(log.dataset.log);
        byId('log-panel').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
      } else if (uninstall) {
        uninstallNode = uninstall.dataset.uninstall;
        byId('uninstall-node').textContent = uninstallNode;
        byId('uninstall-purge').checked = false;
        byId('uninstall-panel').hidden = false;
        byId('uninstall-panel').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
        byId('uninstall-keep').focus();
      }
    });
    byId('log-refresh').addEventListener('click', () => logNode && showLog(logNode));
    byId('log-close').addEventListener('click', () => {
      byId('log-panel').hidden = true;
      logNode = null;
    });
    byId('uninstall-keep').addEventListener('click', () => {
      byId('uninstall-panel').hidden = true;
    });
    byId('uninstall-confirm').addEventListener('click', async () => {
      const answer = await post('/api/installed/uninstall', {
        node: uninstallNode,
        purge_cache: byId('uninstall-purge').checked,
      });
      byId('uninstall-panel').hidden = true;
      if (answer.ok) {
        showMessage(byId('installed-message'), null);
        jobStarted('Uninstalling', answer);
      } else {
        refusal(answer.message, byId('installed-message'));
      }
    });
    onJobChange((finished) => {
      if (finished) refresh();
    });
    setInterval(refresh, 3000);
  }

  if (byId('create-form')) setUpNodes();
  if (byId('install-form')) setUpInstall();
  const installed = byId('installed');
  if (installed) setUpInstalled(installed);
})();
