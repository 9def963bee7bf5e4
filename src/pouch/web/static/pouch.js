// Pouch's few lines of page behaviour. Everything works without them: they add
// the viewer's local time beside each UTC time, tick countdowns between the
// watch floor's refreshes, and tell htmx when a refresh would disturb someone.
(function () {
  "use strict";

  const localFormat = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });

  // Same wording as pouch.web.format.countdown.
  function countdown(deadline, now) {
    const seconds = Math.trunc((deadline - now) / 1000);
    const span = Math.abs(seconds);
    const hours = Math.floor(span / 3600);
    const minutes = Math.floor((span % 3600) / 60);
    const secs = span % 60;
    const pad = (n) => String(n).padStart(2, "0");
    let text;
    if (hours) text = `${hours} h ${pad(minutes)} min`;
    else if (minutes) text = `${minutes} min ${pad(secs)} s`;
    else text = `${secs} s`;
    return seconds >= 0 ? `${text} left` : `overdue by ${text}`;
  }

  // A viewer whose own zone is UTC is shown each time once, not "in UTC and UTC".
  const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const viewerInUtc = !viewerZone || /^(Etc\/)?(UTC|UCT|GMT|Universal|Zulu)$/.test(viewerZone);

  function addLocalTimes(root) {
    if (viewerInUtc) return;
    for (const time of root.querySelectorAll("time[datetime]:not([data-local])")) {
      const instant = new Date(time.getAttribute("datetime"));
      if (Number.isNaN(instant.getTime())) continue;
      time.dataset.local = "1";
      const local = document.createElement("span");
      local.className = "local-time";
      local.textContent = ` (${localFormat.format(instant)})`;
      time.after(local);
    }
  }

  function tick() {
    const now = Date.now();
    for (const el of document.querySelectorAll(".countdown[data-deadline]")) {
      const deadline = Date.parse(el.dataset.deadline);
      if (Number.isNaN(deadline)) continue;
      el.textContent = countdown(deadline, now);
      el.classList.toggle("is-late", deadline < now);
    }
    addLocalTimes(document);
  }

  // htmx polls the queue only when nobody is in the middle of something there.
  // (A trigger filter in the markup would need eval, which the CSP forbids.)
  function mayRefresh() {
    const region = document.getElementById("queue-region");
    if (!region) return false;
    if (region.querySelector("details[open]")) return false;
    const active = document.activeElement;
    return !(active && active !== document.body && region.contains(active));
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    const source = event.detail.elt;
    if (source && source.id === "queue-region" && !mayRefresh()) event.preventDefault();
  });

  // The watch floor's live feed (messages.live): each new step refreshes the queue at
  // once; a FLASH or overdue message raises a notification (once the officer allowed
  // them), a count in the title until the officer next touches the page, and a tone
  // when sound is on. A lost connection says so; the browser reconnects by itself and
  // the server resumes after the last step received (Last-Event-ID).
  // A page may follow several feeds (the watch floor: the messages' steps and the
  // call desk's); each refreshes its own regions, they share the banner and the title.
  let unseen = 0;
  const lost = new Set();  // the feeds whose connection is down: the banner shows
  function startLive(source) {
    if (!window.EventSource) return;
    const banner = document.querySelector("[data-live-banner]");
    const sound = source.querySelector("[data-live-sound]");
    const optIn = source.querySelector("[data-live-notify]");
    const baseTitle = document.title.replace(/^\(\d+\) /, "");
    let refreshing = null;

    const showCount = () => {
      document.title = unseen ? `(${unseen}) ${baseTitle}` : baseTitle;
    };
    const seen = () => { if (unseen) { unseen = 0; showCount(); } };
    document.addEventListener("pointerdown", seen);
    document.addEventListener("keydown", seen);

    if (sound) {
      sound.checked = localStorage.getItem("pouch.sound") === "on";
      sound.addEventListener("change", () => {
        localStorage.setItem("pouch.sound", sound.checked ? "on" : "off");
      });
    }
    if (optIn && "Notification" in window) {
      const offer = () => { optIn.hidden = Notification.permission !== "default"; };
      offer();
      optIn.addEventListener("click", () => { Notification.requestPermission().then(offer); });
    }

    function tone() {
      try {
        const audio = new AudioContext();
        const oscillator = audio.createOscillator();
        oscillator.frequency.value = 880;
        oscillator.connect(audio.destination);
        oscillator.start();
        oscillator.stop(audio.currentTime + 0.3);
      } catch (error) { /* no audio here: the title and notification remain */ }
    }

    function raise(step) {
      unseen += 1;
      showCount();
      const what = step.kind === "overdue" ? "Overdue" : "FLASH";
      if ("Notification" in window && Notification.permission === "granted") {
        new Notification(`${what}: ${step.subject}`, { tag: step.message });
      }
      if (sound && sound.checked) tone();
    }

    // A burst of steps makes one refresh; none while the officer is inside the queue
    // (the next poll brings it then).
    function refreshQueue() {
      if (refreshing) return;
      refreshing = setTimeout(() => {
        refreshing = null;
        const region = document.getElementById("queue-region");
        if (region && mayRefresh() && window.htmx) {
          // The page of the queue the officer is on (hx-get carries its cursor).
          const url = region.getAttribute("hx-get") || "/watch/queue";
          window.htmx.ajax("GET", url, { target: "#queue-region", swap: "outerHTML" });
        }
      }, 150);
    }

    // An inbox or a tracking page reads itself again (a GET changes nothing) and swaps
    // in its live regions, unless the reader is typing or has a detail open there.
    const regionIds = (source.dataset.liveRefresh || "").split(" ").filter(Boolean);
    let missed = false;
    function busy(region) {
      const active = document.activeElement;
      const inside = active && active !== document.body && region.contains(active);
      return inside || region.querySelector("details[open]") !== null;
    }
    function refreshRegions() {
      if (refreshing) return;
      refreshing = setTimeout(async () => {
        refreshing = null;
        const regions = regionIds.map((id) => document.getElementById(id)).filter(Boolean);
        if (regions.some(busy)) { missed = true; return; }
        missed = false;
        try {
          const response = await fetch(window.location.href, { credentials: "same-origin" });
          if (!response.ok) return;
          const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
          for (const region of regions) {
            const replacement = fresh.getElementById(region.id);
            if (replacement) region.replaceWith(replacement);
          }
          source.dataset.liveRefreshed = String(Number(source.dataset.liveRefreshed || 0) + 1);
          tick();
        } catch (error) { missed = true; /* offline: the banner says so */ }
      }, 150);
    }
    // What was skipped while the reader was busy comes when they leave the region.
    document.addEventListener("focusout", () => { if (missed) refreshRegions(); });
    const counted = (source.dataset.liveCount || "").split(" ").filter(Boolean);

    const events = new EventSource(source.dataset.liveSource);
    events.addEventListener("open", () => {
      lost.delete(source);
      if (banner) banner.hidden = lost.size === 0;
      source.dataset.liveState = "open";
    });
    events.addEventListener("error", () => {
      lost.add(source);
      if (banner) banner.hidden = false;
      source.dataset.liveState = "lost";
    });
    events.addEventListener("step", (event) => {
      const step = JSON.parse(event.data);
      if (regionIds.length) refreshRegions(); else refreshQueue();
      if (step.alert) raise(step);
      else if (counted.includes(step.kind)) { unseen += 1; showCount(); }
    });
  }

  // The precedence editor: ↑ and ↓ move a leader within its tier; past the first or
  // the last of a tier it joins the tier beside. Orders are written again 1, 2, … in
  // each tier, as the saved version will number them, and the move is announced.
  function renumber(list) {
    const counts = {};
    for (const row of list.querySelectorAll(".ranking-row")) {
      const tier = row.querySelector("[data-rank-tier]").value;
      counts[tier] = (counts[tier] || 0) + 1;
      row.querySelector("[data-rank-position]").value = counts[tier];
    }
  }
  document.addEventListener("click", function (event) {
    const button = event.target instanceof Element ? event.target.closest("[data-move]") : null;
    if (!button) return;
    const row = button.closest(".ranking-row");
    const up = button.dataset.move === "up";
    const beside = up ? row.previousElementSibling : row.nextElementSibling;
    if (!beside || !beside.classList.contains("ranking-row")) return;
    const tier = row.querySelector("[data-rank-tier]");
    const theirs = beside.querySelector("[data-rank-tier]").value;
    if (theirs !== tier.value) tier.value = theirs;
    else if (up) beside.before(row);
    else beside.after(row);
    renumber(row.parentElement);
    button.focus();
    const status = document.querySelector("[data-ranking-status]");
    if (status) {
      const name = row.querySelector(".ranking-name").textContent;
      const place = row.querySelector("[data-rank-position]").value;
      status.textContent = `${name}: tier ${tier.value}, ${place} in the tier.`;
    }
  });

  // A destructive form asks first (data-confirm says what will happen). Without
  // JavaScript the form posts at once: the server's own rules still apply.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    for (const el of viewerInUtc ? [] : document.querySelectorAll("[data-viewer-zone]")) {
      const name = el.querySelector("[data-zone-name]");
      if (name) name.textContent = viewerZone;
      el.hidden = false;
    }
    for (const el of document.querySelectorAll(".js-only")) el.hidden = false;
    tick();
    setInterval(tick, 1000);
    for (const source of document.querySelectorAll("[data-live-source]")) startLive(source);
  });
  document.addEventListener("htmx:afterSettle", function () { tick(); });
})();
