// A sender office in the browser: its signing key made and kept here, and messages
// signed here before they leave (RFC 9421 HTTP Message Signatures, Ed25519, as
// `pouch send` signs them; the server checks both the same way).
//
// The key is WebCrypto's, made not extractable: its private half cannot be read out
// of the browser, by this page or anyone's script; IndexedDB keeps the key object
// itself, under the key's name. Only the public half is ever sent.
(function () {
  "use strict";

  const STORE = "pouch-signing-keys";

  function keystore() {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open(STORE, 1);
      open.onupgradeneeded = () => open.result.createObjectStore("keys");
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }

  async function withStore(mode, act) {
    const db = await keystore();
    return new Promise((resolve, reject) => {
      const tx = db.transaction("keys", mode);
      const request = act(tx.objectStore("keys"));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
    });
  }

  const saveKey = (keyId, pair) => withStore("readwrite", (keys) => keys.put(pair, keyId));
  const loadKey = (keyId) => withStore("readonly", (keys) => keys.get(keyId));
  const keptKeys = () => withStore("readonly", (keys) => keys.getAllKeys());

  function base64(bytes) {
    let text = "";
    for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
    return btoa(text);
  }
  const base64url = (bytes) => base64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  // The account page: make a key here, keep it, send its public half for approval.
  async function makeKey(button) {
    const form = button.closest("form");
    const name = form.querySelector("[name=key_id]");
    if (!name.reportValidity()) return;
    button.disabled = true;
    try {
      const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
      const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
      await saveKey(name.value.trim(), pair);
      form.querySelector("[name=public_key]").value = base64url(raw);
      form.submit();
    } catch (error) {
      button.disabled = false;
      const said = document.createElement("p");
      said.className = "notice is-error";
      said.setAttribute("role", "alert");
      said.textContent = `This browser could not make an Ed25519 key (${error.name || error}).`;
      form.prepend(said);
    }
  }

  async function markKeptKeys() {
    const kept = new Set(await keptKeys());
    for (const item of document.querySelectorAll("[data-key]")) {
      const here = item.querySelector("[data-key-here]");
      if (here) here.hidden = !kept.has(item.dataset.key);
    }
    return kept;
  }

  // The compose page: a short-lived token for this session (the signature covers it,
  // so that neither the token nor the signature alone can send), the body's digest,
  // the signature base of RFC 9421 §2.5, the Ed25519 signature, and the request.
  function signatureParams(keyId, created, nonce) {
    const covered = '("@method" "@target-uri" "content-digest" "authorization")';
    return `${covered};created=${created};expires=${created + 300};nonce="${nonce}";keyid="${keyId}";alg="ed25519"`;
  }

  async function signedRequest(url, body, token, keyId, key) {
    const bytes = new TextEncoder().encode(body);
    const digest = `sha-256=:${base64(await crypto.subtle.digest("SHA-256", bytes))}:`;
    const authorization = `Bearer ${token}`;
    const created = Math.floor(Date.now() / 1000);
    const nonce = base64url(crypto.getRandomValues(new Uint8Array(18)));
    const params = signatureParams(keyId, created, nonce);
    const base = [
      `"@method": POST`,
      `"@target-uri": ${url}`,
      `"content-digest": ${digest}`,
      `"authorization": ${authorization}`,
      `"@signature-params": ${params}`,
    ].join("\n");
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, key, new TextEncoder().encode(base));
    return {
      method: "POST",
      credentials: "omit",
      headers: {
        "Content-Type": "application/json",
        "Authorization": authorization,
        "Content-Digest": digest,
        "Signature-Input": `sig1=${params}`,
        "Signature": `sig1=:${base64(signature)}:`,
        "Idempotency-Key": `browser-${nonce}`,
      },
      body: bytes,
    };
  }

  function say(outcome, text, link) {
    const box = document.querySelector("[data-compose-outcome]");
    box.hidden = false;
    box.dataset.outcome = outcome;
    box.className = outcome === "sent" ? "notice" : "notice is-error";
    box.textContent = text;
    if (link) {
      const a = document.createElement("a");
      a.href = link;
      a.textContent = " Follow it on the tracking page.";
      box.append(a);
    }
    box.focus();
  }

  // The page's token, kept for this tab until two minutes before it expires.
  async function sessionToken(form) {
    const office = form.querySelector("[name=sender_office_id]").value;
    const slot = `pouch.compose-token.${office}`;
    const kept = JSON.parse(sessionStorage.getItem(slot) || "null");
    if (kept && Date.parse(kept.expires_at) - Date.now() > 120000) return kept.token;
    const minted = await fetch("/compose/token", {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "X-CSRF-Token": form.querySelector("[name=csrf_token]").value,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ office_id: office }),
    });
    const said = await minted.json();
    if (!minted.ok) {
      say("failed", `Not sent: ${said.detail || minted.status}`);
      return null;
    }
    sessionStorage.setItem(slot, JSON.stringify(said));
    return said.token;
  }

  async function send(form) {
    const keyId = form.querySelector("[name=key]").value;
    const pair = keyId ? await loadKey(keyId) : undefined;
    if (!pair) {
      say("failed", "No signing key of your office is kept in this browser: make one on your account page.");
      return;
    }
    const token = await sessionToken(form);
    if (!token) return;
    const value = (name) => form.querySelector(`[name=${name}]`).value;
    const message = {
      sender_office_id: Number(value("sender_office_id")),
      addressee_office_id: Number(value("addressee_office_id")),
      subject: value("subject"),
      body: value("body"),
      precedence: value("precedence"),
    };
    if (value("language")) message.language = value("language");
    const url = new URL("/api/messages", window.location.origin).href;
    const answer = await fetch(url, await signedRequest(url, JSON.stringify(message), token, keyId, pair.privateKey));
    const said = await answer.json();
    if (answer.ok) {
      form.reset();
      say("sent", `Accepted as ${said.id}, number ${said.office_sequence} of its addressee, signed with ${keyId}.`, `/track/${said.id}`);
    } else {
      say("failed", `Not sent: ${said.detail || said.title || answer.status}`);
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("[data-make-key]") : null;
    if (button) makeKey(button);
  });
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-compose")) return;
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    send(form).catch((error) => say("failed", `Not sent: ${error.message || error}`))
      .finally(() => { button.disabled = false; });
  });
  document.addEventListener("DOMContentLoaded", async () => {
    if (!window.indexedDB || !window.crypto || !crypto.subtle) return;
    for (const button of document.querySelectorAll("[data-make-key]")) button.hidden = false;
    const kept = await markKeptKeys();
    // The compose page offers the office's active keys that this browser keeps.
    for (const select of document.querySelectorAll("select[data-signing-keys]")) {
      for (const option of [...select.options]) {
        if (option.value && !kept.has(option.value)) option.remove();
      }
      select.dataset.ready = String(select.options.length);
      const none = document.querySelector("[data-no-key-here]");
      if (none) none.hidden = select.options.length > 0;
    }
  });
})();
