// Receipt verification in the browser, trusting nothing but the keys the reader pinned.
//
// A Pouch receipt is JSON: {"opening": {"index", "salt", "event"[, "tags"]}, "receipt": "<tlog-proof>"}.
// The check, step by step (docs/log-format.md, c2sp.org/tlog-proof, c2sp.org/signed-note,
// c2sp.org/tlog-checkpoint, RFC 6962 / RFC 9162 section 2.1.3.2):
//   1. the verifier key "<name>+<key ID>+<base64(0x01 || Ed25519 public key)>", whose key ID
//      must be SHA-256(name || "\n" || 0x01 || key)[:4];
//   2. the log entry, recomputed from the opening: "pouch-event/v1\n<time>\n<commitment>\n",
//      commitment = base64(SHA-256("pouch-event-commitment/v1\n" || salt || JCS(event)));
//      an opening with tags is a v2 entry, "pouch-event/v2\n<time>\n<commitment>\n" and
//      one line per tag; its leaf hash is SHA-256(0x00 || entry);
//   3. the tlog-proof: its index must be the opening's;
//   4. the checkpoint note: a signature line by the key's name and ID that verifies (Ed25519,
//      WebCrypto) over the note text, and an origin equal to the key's name;
//   5. the inclusion proof, from the leaf hash to the checkpoint's root;
//   6. with a witness policy (c2sp.org/tlog-policy), the witnesses' cosignatures
//      (c2sp.org/tlog-cosignature: Ed25519 over "cosignature/v1\ntime <t>\n" and the note
//      text, key ID SHA-256(name || "\n" || 0x04 || key)[:4]) must meet the policy's quorum.
// Any failure names the first step that failed and why. The keys and the policy the reader
// pinned are kept in this browser (localStorage), so a later check does not take the keys
// from the server whose honesty it checks.
(function () {
  "use strict";

  const encoder = new TextEncoder();
  const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
  const KIND = /^[a-z][a-z0-9_.-]{0,63}$/;
  const DECIMAL = /^(0|[1-9][0-9]*)$/;
  const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

  class VerificationError extends Error {}

  function fail(message) {
    throw new VerificationError(message);
  }

  function base64Encode(bytes) {
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    return btoa(binary);
  }

  // Standard, padded base64, and only its canonical form: one value, one text.
  function base64Decode(text, what) {
    if (typeof text !== "string" || !BASE64.test(text)) fail(`${what} is not valid base64`);
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    if (base64Encode(bytes) !== text) fail(`${what} is not canonical base64`);
    return bytes;
  }

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }

  function equal(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  const leafHash = (entry) => sha256(concat(Uint8Array.of(0), entry));
  const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

  // RFC 8785 (JCS): ECMAScript number and string serialization, object keys
  // sorted by UTF-16 code units (which is what Array.prototype.sort compares).
  function canonicalize(value) {
    if (value === null || typeof value === "boolean" || typeof value === "string") {
      return JSON.stringify(value);
    }
    if (typeof value === "number") {
      if (!Number.isFinite(value)) fail("the event holds a number JSON cannot represent");
      return JSON.stringify(value);
    }
    if (Array.isArray(value)) return `[${value.map(canonicalize).join(",")}]`;
    if (typeof value === "object") {
      const keys = Object.keys(value).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalize(value[k])}`).join(",")}}`;
    }
    fail(`the event holds a ${typeof value}, which JSON cannot represent`);
  }

  async function parseVerifierKey(vkey, type = 0x01) {
    // The name has no "+", the ID is hex; the base64 key after them may hold "+".
    const text = String(vkey).trim();
    const first = text.indexOf("+");
    const second = text.indexOf("+", first + 1);
    if (first < 0 || second < 0) fail("the verifier key is not <name>+<key ID>+<key>");
    const name = text.slice(0, first);
    const idHex = text.slice(first + 1, second);
    const material = text.slice(second + 1);
    if (!name || /\s/u.test(name)) fail("the verifier key's name is empty or contains spaces");
    if (!/^[0-9a-f]{8}$/.test(idHex)) fail("the verifier key's ID is not 8 lowercase hex digits");
    const key = base64Decode(material, "the verifier key");
    if (key.length !== 33 || key[0] !== type) {
      fail(`the verifier key ${name} is not ${type === 0x01 ? "an Ed25519 log key" : "a witness cosignature key"}`);
    }
    const digest = await sha256(concat(encoder.encode(name), Uint8Array.of(0x0a), key));
    if (hex(digest.slice(0, 4)) !== idHex) {
      fail(`the verifier key's ID ${idHex} does not match its name and key`);
    }
    return { name, id: digest.slice(0, 4), publicKey: key.slice(1), text: `${name}+${idHex}` };
  }

  async function entryFromOpening(opening) {
    if (!opening || typeof opening !== "object") fail("the receipt has no opening");
    const { index, salt, event } = opening;
    if (!Number.isSafeInteger(index) || index < 0) fail("the opening's index is not an integer");
    if (!event || typeof event !== "object" || Array.isArray(event)) {
      fail("the opening's event is not an object");
    }
    if (typeof event.kind !== "string" || !KIND.test(event.kind)) fail("the event has no valid kind");
    if (typeof event.time !== "string" || !TIME.test(event.time)) fail("the event has no valid time");
    const saltBytes = base64Decode(salt, "the opening's salt");
    if (saltBytes.length !== 32) fail(`the opening's salt is ${saltBytes.length} bytes, not 32`);
    const commitment = await sha256(
      concat(encoder.encode("pouch-event-commitment/v1\n"), saltBytes, encoder.encode(canonicalize(event))),
    );
    let entry;
    if (opening.tags === undefined) {
      entry = encoder.encode(`pouch-event/v1\n${event.time}\n${base64Encode(commitment)}\n`);
    } else {
      const tags = opening.tags;
      if (!Array.isArray(tags)) fail("the opening's tags are not a list");
      tags.forEach((tag, n) => base64Decode(tag, `the opening's tag ${n + 1}`));
      const lines = tags.map((tag) => `${tag}\n`).join("");
      entry = encoder.encode(`pouch-event/v2\n${event.time}\n${base64Encode(commitment)}\n${lines}`);
    }
    return { index: BigInt(index), entry, leaf: await leafHash(entry), event };
  }

  function parseTlogProof(text) {
    if (typeof text !== "string" || !text) fail("the receipt has no tlog-proof yet (the step is not covered by a checkpoint)");
    const blank = text.indexOf("\n\n");
    if (blank < 0) fail("the tlog-proof has no blank line before its checkpoint");
    const lines = text.slice(0, blank).split("\n");
    if (lines[0] !== "c2sp.org/tlog-proof@v1") fail("the tlog-proof does not start with c2sp.org/tlog-proof@v1");
    let i = 1;
    if (lines[i] && lines[i].startsWith("extra ")) i += 1;
    const indexLine = lines[i] || "";
    const indexText = indexLine.startsWith("index ") ? indexLine.slice(6) : "";
    if (!DECIMAL.test(indexText)) fail(`tlog-proof line ${i + 1} is not "index <n>"`);
    const proof = lines.slice(i + 1).map((line, n) => {
      const h = base64Decode(line, `tlog-proof hash ${n}`);
      if (h.length !== 32) fail(`tlog-proof hash ${n} is ${h.length} bytes, not 32`);
      return h;
    });
    return { index: BigInt(indexText), proof, note: text.slice(blank + 2) };
  }

  function parseNote(note) {
    const split = note.lastIndexOf("\n\n");
    if (split < 0) fail("the checkpoint note has no blank line before its signatures");
    const text = note.slice(0, split + 1);
    const block = note.slice(split + 2);
    if (!block.endsWith("\n")) fail("the checkpoint note does not end with a newline");
    const signatures = block.slice(0, -1).split("\n").map((line, n) => {
      if (!line.startsWith("— ")) fail(`checkpoint signature line ${n + 1} does not start with "— "`);
      const rest = line.slice(2);
      const space = rest.indexOf(" ");
      if (space <= 0) fail(`checkpoint signature line ${n + 1} has no key name`);
      const raw = base64Decode(rest.slice(space + 1), `checkpoint signature line ${n + 1}`);
      if (raw.length < 5) fail(`checkpoint signature line ${n + 1} is too short`);
      return { name: rest.slice(0, space), id: raw.slice(0, 4), signature: raw.slice(4) };
    });
    return { text, signatures };
  }

  async function verifySignature(key, note) {
    if (!crypto.subtle) fail("this page is not in a secure context, so WebCrypto is unavailable");
    let publicKey;
    try {
      publicKey = await crypto.subtle.importKey("raw", key.publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (error) {
      fail(`this browser cannot check Ed25519 signatures (${error.name}); use pouch receipt verify`);
    }
    const mine = note.signatures.filter((s) => s.name === key.name && equal(s.id, key.id));
    if (!mine.length) {
      const seen = note.signatures.map((s) => `${s.name}+${hex(s.id)}`).join(", ");
      fail(`the checkpoint carries no signature by ${key.text} (it is signed by ${seen})`);
    }
    for (const s of mine) {
      const ok = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, s.signature, encoder.encode(note.text));
      if (!ok) fail(`the checkpoint's signature by ${key.text} does not verify: the checkpoint was altered`);
    }
  }

  function parseCheckpoint(text, key) {
    const lines = text.slice(0, -1).split("\n");
    if (lines.length < 3) fail("the checkpoint has fewer than three lines");
    const [origin, sizeText, rootText] = lines;
    if (origin !== key.name) fail(`the checkpoint's origin ${origin} is not the key's name ${key.name}`);
    if (!DECIMAL.test(sizeText)) fail("the checkpoint's tree size is not a decimal number");
    const root = base64Decode(rootText, "the checkpoint's root hash");
    if (root.length !== 32) fail("the checkpoint's root hash is not 32 bytes");
    return { origin, size: BigInt(sizeText), root };
  }

  // RFC 9162 section 2.1.3.2, with BigInt so that indexes past 2^32 shift correctly.
  async function rootFromProof(leaf, index, size, proof) {
    if (index >= size) fail(`entry ${index} is outside the signed tree of ${size} entries`);
    let fn = index;
    let sn = size - 1n;
    let r = leaf;
    for (const p of proof) {
      if (sn === 0n) fail(`the inclusion proof has too many hashes (${proof.length})`);
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(p, r);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) fail(`the inclusion proof has too few hashes (${proof.length})`);
    return r;
  }

  // c2sp.org/tlog-policy: log, witness, group and quorum lines; names are opaque.
  async function parsePolicy(text) {
    const logs = [];
    const witnesses = new Map();
    const groups = new Map();
    let quorum = null;
    const lines = String(text).split("\n");
    for (let n = 0; n < lines.length; n++) {
      const where = `policy line ${n + 1}`;
      if (/[\x00-\x08\x0b-\x1f\x7f]/.test(lines[n])) fail(`${where} holds a control character`);
      const line = lines[n].replace(/^[ \t]+|[ \t]+$/g, "");
      if (!line || line.startsWith("#")) continue;
      const [keyword, ...args] = line.split(/[ \t]+/);
      const defined = (name) => name === "none" || witnesses.has(name) || groups.has(name);
      if (keyword === "log") {
        if (args.length < 1 || args.length > 2) fail(`${where}: log <vkey> [<url>]`);
        logs.push(await parseVerifierKey(args[0]));
      } else if (keyword === "witness") {
        if (args.length < 2 || args.length > 3) fail(`${where}: witness <name> <vkey> [<url>]`);
        if (defined(args[0])) fail(`${where}: the name ${args[0]} is defined twice or reserved`);
        witnesses.set(args[0], await parseVerifierKey(args[1], 0x04));
      } else if (keyword === "group") {
        if (args.length < 3) fail(`${where}: group <name> all|any|<k> <member>...`);
        const [name, k, ...members] = args;
        if (defined(name)) fail(`${where}: the name ${name} is defined twice or reserved`);
        for (const m of members) {
          if (m === "none" || !defined(m)) fail(`${where}: group member ${m} is not defined above`);
        }
        if (new Set(members).size !== members.length) fail(`${where}: a member is listed twice`);
        const threshold = k === "all" ? members.length : k === "any" ? 1 : Number(k);
        if (!(k === "all" || k === "any" || DECIMAL.test(k)) || threshold < 1 || threshold > members.length) {
          fail(`${where}: threshold ${k} is not between 1 and ${members.length}`);
        }
        groups.set(name, { threshold, members });
      } else if (keyword === "quorum") {
        if (args.length !== 1 || quorum !== null) fail(`${where}: one quorum <name> line`);
        if (!defined(args[0])) fail(`${where}: quorum ${args[0]} is not defined above`);
        quorum = args[0];
      } else {
        fail(`${where}: unknown keyword ${keyword}`);
      }
    }
    if (quorum === null) fail("the policy has no quorum line");
    return { logs, witnesses, groups, quorum };
  }

  function witnessed(policy, name, cosigned) {
    if (name === "none") return true;
    const group = policy.groups.get(name);
    if (!group) return cosigned.has(name);
    return group.members.filter((m) => witnessed(policy, m, cosigned)).length >= group.threshold;
  }

  async function verifyCosignatures(policy, note) {
    const cosigned = new Set();
    for (const [name, key] of policy.witnesses) {
      const mine = note.signatures.filter((s) => s.name === key.name && equal(s.id, key.id));
      for (const s of mine) {
        if (s.signature.length !== 72) fail(`the cosignature by ${key.text} is not 8 + 64 bytes`);
        const time = new DataView(s.signature.buffer, s.signature.byteOffset, 8).getBigUint64(0);
        const message = concat(encoder.encode(`cosignature/v1\ntime ${time}\n`), encoder.encode(note.text));
        const publicKey = await crypto.subtle.importKey("raw", key.publicKey, { name: "Ed25519" }, false, ["verify"]);
        const ok = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, s.signature.slice(8), message);
        if (!ok) fail(`the cosignature by witness ${name} (${key.text}) does not verify`);
        cosigned.add(name);
      }
    }
    if (!witnessed(policy, policy.quorum, cosigned)) {
      const have = [...cosigned].join(", ") || "no witness";
      fail(`the checkpoint is cosigned by ${have}, short of the policy's quorum (${policy.quorum})`);
    }
    return [...cosigned];
  }

  async function verifyReceipt(vkey, receiptText, policyText) {
    const policy = policyText && String(policyText).trim() ? await parsePolicy(policyText) : null;
    const key = await parseVerifierKey(vkey);
    if (policy && !policy.logs.some((log) => log.text === key.text && equal(log.publicKey, key.publicKey))) {
      fail(`the policy has no log line for the key ${key.text}`);
    }
    let receipt;
    try {
      receipt = typeof receiptText === "string" ? JSON.parse(receiptText) : receiptText;
    } catch (error) {
      fail(`the receipt is not JSON (${error.message})`);
    }
    if (!receipt || typeof receipt !== "object") fail("the receipt is not a JSON object");
    const opened = await entryFromOpening(receipt.opening);
    const proof = parseTlogProof(receipt.receipt);
    if (proof.index !== opened.index) {
      fail(`the tlog-proof is for entry ${proof.index}, the opening for entry ${opened.index}`);
    }
    const note = parseNote(proof.note);
    await verifySignature(key, note);
    const witnesses = policy ? await verifyCosignatures(policy, note) : null;
    const checkpoint = parseCheckpoint(note.text, key);
    const root = await rootFromProof(opened.leaf, proof.index, checkpoint.size, proof.proof);
    if (!equal(root, checkpoint.root)) {
      fail(
        `the entry recomputed from the opening is not entry ${proof.index} of the signed tree: ` +
          `the inclusion proof leads to root ${hex(root).slice(0, 16)}…, ` +
          `the checkpoint's root is ${hex(checkpoint.root).slice(0, 16)}… ` +
          "(the opening or the proof was altered)",
      );
    }
    return {
      kind: opened.event.kind,
      time: opened.event.time,
      index: Number(proof.index),
      size: Number(checkpoint.size),
      origin: checkpoint.origin,
      key: key.text,
      leaf: hex(opened.leaf),
      witnesses,
    };
  }

  // -- the page --------------------------------------------------------------------

  function show(output, ok, heading, detail) {
    output.replaceChildren();
    output.className = `verify-result ${ok ? "is-verified" : "is-failed"}`;
    output.dataset.outcome = ok ? "verified" : "failed";
    const strong = document.createElement("strong");
    strong.textContent = heading;
    const p = document.createElement("p");
    p.textContent = detail;
    output.append(strong, p);
  }

  async function run(form, output) {
    output.dataset.outcome = "running";
    try {
      const policy = form.elements.policy ? form.elements.policy.value : "";
      const result = await verifyReceipt(form.elements.vkey.value, form.elements.receipt.value, policy);
      const cosigned = result.witnesses
        ? ` It is cosigned by the witnesses ${result.witnesses.join(", ")}, as your policy requires.`
        : " No witness policy was given: its witnesses' cosignatures were not checked.";
      show(
        output,
        true,
        "✓ Verified",
        `The ${result.kind} event of ${result.time} is entry ${result.index} of the log ` +
          `${result.origin}, in its checkpoint of ${result.size} entries signed by ${result.key}.` +
          cosigned,
      );
    } catch (error) {
      const reason = error instanceof VerificationError ? error.message : `unexpected error: ${error}`;
      show(output, false, "✗ Not verified", reason.charAt(0).toUpperCase() + reason.slice(1) + ".");
    }
  }

  // The keys the reader pinned: kept in this browser, offered in place of the server's.
  const PINNED = "pouch.verify.pinned";

  function pinned() {
    try {
      const value = JSON.parse(localStorage.getItem(PINNED) || "null");
      return value && typeof value.vkey === "string" ? value : null;
    } catch (error) {
      return null;
    }
  }

  function showPinning(form) {
    const note = document.getElementById("verify-pinned");
    if (!note) return;
    const saved = pinned();
    const stated = form.dataset.serverVkey || "";
    note.replaceChildren();
    if (!saved) {
      note.textContent =
        "No keys are pinned in this browser: the form holds what this server states. " +
        "Compare them with your office's copy, then pin them.";
      note.dataset.state = "unpinned";
      return;
    }
    form.elements.vkey.value = saved.vkey;
    if (form.elements.policy) form.elements.policy.value = saved.policy || "";
    note.textContent = `Checking with the keys pinned in this browser on ${saved.at}.`;
    note.dataset.state = "pinned";
    if (stated && stated !== saved.vkey) {
      note.textContent +=
        ` Warning: this server now states another log key (${stated}) than the one you pinned; ` +
        "a receipt signed by it will not verify.";
      note.dataset.state = "mismatch";
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.querySelector("form[data-verify]");
    const output = document.getElementById("verify-result");
    if (!form || !output) return;
    showPinning(form);
    const pin = document.getElementById("verify-pin");
    if (pin) {
      pin.addEventListener("click", async function () {
        try {
          await parseVerifierKey(form.elements.vkey.value);
          const policy = form.elements.policy ? form.elements.policy.value : "";
          if (policy.trim()) await parsePolicy(policy);
          const at = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
          localStorage.setItem(PINNED, JSON.stringify({ vkey: form.elements.vkey.value.trim(), policy, at }));
          showPinning(form);
        } catch (error) {
          show(output, false, "✗ Not pinned", error.message);
        }
      });
    }
    const forget = document.getElementById("verify-forget");
    if (forget) {
      forget.addEventListener("click", function () {
        localStorage.removeItem(PINNED);
        form.elements.vkey.value = form.dataset.serverVkey || "";
        if (form.elements.policy) form.elements.policy.value = form.dataset.serverPolicy || "";
        showPinning(form);
      });
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      run(form, output);
    });
    const file = document.getElementById("verify-file");
    file.addEventListener("change", async function () {
      if (file.files.length) {
        form.elements.receipt.value = await file.files[0].text();
        run(form, output);
      }
    });
    for (const button of document.querySelectorAll("[data-load-receipt]")) {
      button.addEventListener("click", async function () {
        // Only the receipt comes from the server; the key is whatever the form holds.
        const response = await fetch(button.dataset.loadReceipt, { credentials: "same-origin" });
        form.scrollIntoView({ block: "start" });
        if (!response.ok) {
          form.elements.receipt.value = "";
          show(output, false, "✗ Not verified", `The server did not return the receipt (HTTP ${response.status}).`);
          return;
        }
        form.elements.receipt.value = await response.text();
        run(form, output);
      });
    }
  });

  // For people who want to see the pieces (and for the tests, which check them
  // against the test vectors of docs/log-format.md).
  async function entryFor(opening) {
    const opened = await entryFromOpening(opening);
    return { entry: new TextDecoder().decode(opened.entry), leafHash: hex(opened.leaf) };
  }

  window.PouchVerify = { verifyReceipt, parsePolicy, canonicalize, entryFor, VerificationError };
})();
