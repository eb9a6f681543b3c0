// The portal's only script: WebAuthn ceremonies (add a key, sign in with
// one, test one), with options from the server in the JSON forms of
// WebAuthn Level 3 (§5.1.9, §5.1.10, §5.1.8). Everything else works
// without it.
"use strict";

const base = document.body.dataset.base;
const csrf = document.querySelector('meta[name="csrf-token"]').content;

// Security keys need a browser with WebAuthn's JSON helpers; without
// them the key buttons stay hidden.
const keysWork = window.PublicKeyCredential &&
  typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function" &&
  typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function";

async function post(path, body) {
  const r = await fetch(base + path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body || {}),
  });
  let answer;
  try {
    answer = await r.json();
  } catch {
    throw new Error("the server's answer could not be read");
  }
  if (!r.ok) {
    throw new Error(answer.error ? answer.error.message : "the server refused (" + r.status + ")");
  }
  return answer;
}

// say shows how a ceremony is going; data-done marks its end for tests.
function say(el, state, text) {
  el.textContent = text;
  el.className = "status " + state;
  if (state === "working") {
    delete el.dataset.done;
  } else {
    el.dataset.done = state;
  }
}

// credentialJSON is what the server reads. toJSON leaves out the client
// extension results it does not know, appid among them, so they are sent
// as the browser gave them.
function credentialJSON(c) {
  const j = c.toJSON();
  j.clientExtensionResults = c.getClientExtensionResults();
  return j;
}

function words(e) {
  switch (e.name) {
    case "NotAllowedError":
      return "The key did not answer, or the request was cancelled. Try again, and touch the key when it blinks.";
    case "InvalidStateError":
      return "This key is registered already.";
    case "SecurityError":
      return "This page may not use security keys (" + e.message + ").";
  }
  return "That did not work: " + e.message;
}

function guard(status, ceremony) {
  return async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    say(status, "working", "Touch your security key when it blinks…");
    try {
      await ceremony(button);
    } catch (e) {
      say(status, "failed", words(e));
    } finally {
      button.disabled = false;
    }
  };
}

async function get(begin) {
  const options = PublicKeyCredential.parseRequestOptionsFromJSON(begin.publicKey);
  return credentialJSON(await navigator.credentials.get({ publicKey: options }));
}

async function signIn(status) {
  const username = document.getElementById("username").value.trim();
  if (username === "") {
    say(status, "failed", "Type your user name first.");
    return;
  }
  const begin = await post("keys/signin/begin", { username });
  if (begin.result === "deny") {
    say(status, "failed", begin.message);
    return;
  }
  const done = await post("keys/signin/finish", { transaction: begin.transaction, credential: await get(begin) });
  if (done.result !== "allow") {
    say(status, "failed", done.message);
    return;
  }
  say(status, "ok", "Signed in.");
  location.assign(done.next);
}

async function addKey(status) {
  const field = document.getElementById("key-name");
  const begin = await post("keys/register/begin", {});
  const options = PublicKeyCredential.parseCreationOptionsFromJSON(begin.publicKey);
  const credential = await navigator.credentials.create({ publicKey: options });
  const done = await post("keys/register/finish", {
    transaction: begin.transaction,
    credential: credentialJSON(credential),
    name: field ? field.value.trim() : "",
  });
  if (done.result !== "ok") {
    say(status, "failed", done.message);
    return;
  }
  say(status, "ok", done.message);
  location.assign(done.next);
}

async function testKey(button, status) {
  const begin = await post("keys/" + button.dataset.testKey + "/test", {});
  if (begin.result === "deny") {
    say(status, "failed", begin.message);
    return;
  }
  const done = await post("keys/test/finish", { transaction: begin.transaction, credential: await get(begin) });
  say(status, done.result === "allow" ? "ok" : "failed", done.message);
}

if (keysWork) {
  for (const el of document.querySelectorAll("[data-needs-keys]")) {
    el.hidden = false;
  }
  const status = document.getElementById("key-status");
  const signInButton = document.getElementById("key-signin");
  if (signInButton) {
    signInButton.addEventListener("click", guard(status, () => signIn(status)));
  }
  const addButton = document.getElementById("add-key");
  if (addButton) {
    addButton.addEventListener("click", guard(status, () => addKey(status)));
  }
  for (const b of document.querySelectorAll("[data-test-key]")) {
    const own = document.getElementById("key-status-" + b.dataset.testKey);
    b.addEventListener("click", guard(own, (button) => testKey(button, own)));
  }
}
