// Passkeys (WebAuthn) in Pouch's pages: enrol one ("Your passkeys"), log in with one,
// and confirm an officer's decision with one. No inline script: the pages mark what
// this file acts on with data- attributes.
//
// - form[data-passkey-enrol]: POST /api/passkey-options, navigator.credentials.create,
//   POST /api/passkeys.
// - button[data-passkey-login]: POST /api/login/passkey/options,
//   navigator.credentials.get, POST /login/passkey.
// - form[data-decision]: before the form is sent, POST /api/decision-challenges with
//   the decision (data-decision, data-message, data-hold, and the form's reason,
//   minutes, attachment); when the answer says to sign, navigator.credentials.get over
//   its challenge, and the form goes with the assertion in its "assertion" field.
//
// Under the demo's software authenticator (POUCH_DEMO_AUTHENTICATOR, localhost only)
// decisions are signed with the officer's demo key from GET /demo/authenticator.
(function () {
  "use strict";

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let text = "";
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromBase64url(text) {
    const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const raw = atob(padded);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function credentialToJSON(credential) {
    const response = credential.response;
    const out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
      clientExtensionResults: credential.getClientExtensionResults
        ? credential.getClientExtensionResults() : {},
    };
    if (credential.authenticatorAttachment) {
      out.authenticatorAttachment = credential.authenticatorAttachment;
    }
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) out.response.transports = response.getTransports();
    } else {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      if (response.userHandle) out.response.userHandle = toBase64url(response.userHandle);
    }
    return out;
  }

  function creationOptions(options) {
    const publicKey = Object.assign({}, options);
    publicKey.challenge = fromBase64url(options.challenge);
    publicKey.user = Object.assign({}, options.user, { id: fromBase64url(options.user.id) });
    publicKey.excludeCredentials = (options.excludeCredentials || []).map(
      (c) => Object.assign({}, c, { id: fromBase64url(c.id) }));
    return { publicKey };
  }

  function requestOptions(options) {
    const publicKey = Object.assign({}, options);
    publicKey.challenge = fromBase64url(options.challenge);
    publicKey.allowCredentials = (options.allowCredentials || []).map(
      (c) => Object.assign({}, c, { id: fromBase64url(c.id) }));
    return { publicKey };
  }

  async function postJSON(url, body, csrf) {
    const headers = { "Content-Type": "application/json", "Accept": "application/json" };
    if (csrf) headers["X-CSRF-Token"] = csrf;
    const response = await fetch(url, {
      method: "POST", headers, body: JSON.stringify(body || {}), credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.detail || answer.title || `HTTP ${response.status}`);
    return answer;
  }

  function csrfOf(form) {
    const field = form.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  function say(target, text) {
    const place = target.querySelector("[data-passkey-status]") || document.querySelector("[data-passkey-status]");
    if (place) { place.textContent = text; place.hidden = !text; }
  }

  // --- the demo's software authenticator ---------------------------------------

  function derSignature(raw) {
    // WebCrypto gives r || s; WebAuthn carries ECDSA signatures as DER.
    function integer(bytes) {
      let i = 0;
      while (i < bytes.length - 1 && bytes[i] === 0) i++;
      let body = bytes.slice(i);
      if (body[0] & 0x80) body = Uint8Array.of(0, ...body);
      return Uint8Array.of(0x02, body.length, ...body);
    }
    const sig = new Uint8Array(raw);
    const r = integer(sig.slice(0, 32));
    const s = integer(sig.slice(32));
    return Uint8Array.of(0x30, r.length + s.length, ...r, ...s).buffer;
  }

  async function demoAssertion(challenge) {
    const response = await fetch("/demo/authenticator", { credentials: "same-origin" });
    if (!response.ok) throw new Error("the demo made no key for you");
    const demo = await response.json();
    const key = await crypto.subtle.importKey(
      "jwk", demo.jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const rpHash = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(demo.rp_id)));
    // User present and verified (the person logged in as this officer); no counter.
    const authenticatorData = Uint8Array.of(...rpHash, 0x05, 0, 0, 0, 0);
    const clientData = new TextEncoder().encode(JSON.stringify({
      type: "webauthn.get", challenge, origin: location.origin, crossOrigin: false,
    }));
    const clientHash = new Uint8Array(await crypto.subtle.digest("SHA-256", clientData));
    const signed = Uint8Array.of(...authenticatorData, ...clientHash);
    const raw = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, signed);
    return {
      id: demo.credential_id,
      rawId: demo.credential_id,
      type: "public-key",
      response: {
        clientDataJSON: toBase64url(clientData),
        authenticatorData: toBase64url(authenticatorData),
        signature: toBase64url(derSignature(raw)),
      },
      clientExtensionResults: {},
    };
  }

  // --- enrolment ---------------------------------------------------------------

  async function enrol(form) {
    const csrf = csrfOf(form);
    say(form, "Follow your browser's prompt…");
    const options = await postJSON("/api/passkey-options", {}, csrf);
    const credential = await navigator.credentials.create(creationOptions(options));
    const nameField = form.querySelector("input[name=name]");
    await postJSON("/api/passkeys", {
      credential: credentialToJSON(credential),
      name: nameField && nameField.value.trim() ? nameField.value.trim() : "passkey",
    }, csrf);
    location.assign("/passkeys?notice=passkey-added");
  }

  // --- login -------------------------------------------------------------------

  async function login(button) {
    const form = button.closest("form") || document;
    const csrf = csrfOf(form);
    const next = form.querySelector("input[name=next]");
    say(form, "Follow your browser's prompt…");
    const options = await postJSON("/api/login/passkey/options", {});
    const credential = await navigator.credentials.get(requestOptions(options));
    const answer = await postJSON("/login/passkey", {
      credential: credentialToJSON(credential), next: next ? next.value : "/",
    }, csrf);
    location.assign(answer.next || "/");
  }

  // --- signed decisions --------------------------------------------------------

  function decisionOf(form) {
    const fields = {};
    for (const name of ["reason", "minutes", "attachment"]) {
      const field = form.elements.namedItem(name);
      if (field && "value" in field) fields[name] = field.value;
    }
    return {
      action: form.dataset.decision,
      message: form.dataset.message,
      hold: form.dataset.hold ? Number(form.dataset.hold) : null,
      fields,
    };
  }

  async function sign(form) {
    const answer = await postJSON("/api/decision-challenges", decisionOf(form), csrfOf(form));
    if (!answer.sign) return null;
    say(form, "Confirm with your passkey…");
    if (answer.demo) return demoAssertion(answer.challenge);
    const credential = await navigator.credentials.get(requestOptions(answer.options));
    return credentialToJSON(credential);
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.matches("[data-passkey-enrol]")) {
      event.preventDefault();
      enrol(form).catch((error) => say(form, `The passkey was not added: ${error.message}`));
      return;
    }
    if (!form.matches("[data-decision]") || form.dataset.signed === "1") return;
    if (!form.reportValidity()) return;
    event.preventDefault();
    sign(form).then((assertion) => {
      let field = form.querySelector("input[name=assertion]");
      if (!field) {
        field = document.createElement("input");
        field.type = "hidden";
        field.name = "assertion";
        form.append(field);
      }
      field.value = assertion ? JSON.stringify(assertion) : "";
      form.dataset.signed = "1";
      form.submit();
    }).catch((error) => say(form, `Not confirmed: ${error.message}`));
  }, true);

  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element && event.target.closest("[data-passkey-login]");
    if (!button) return;
    event.preventDefault();
    login(button).catch((error) => say(document, `Passkey login failed: ${error.message}`));
  });
})();
