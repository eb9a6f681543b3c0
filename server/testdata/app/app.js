// The test application's page: it runs the WebAuthn ceremonies keydesk's
// API begins and finishes, through the application's own backend.
"use strict";

const statusLine = document.getElementById("status");
let lastFinish = null;

function show(state, text) {
  statusLine.textContent = text;
  statusLine.dataset.done = state;
}

async function post(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const answer = await r.json();
  if (!r.ok) {
    throw new Error("keydesk answered " + r.status + ": " + JSON.stringify(answer));
  }
  return answer;
}

const value = (id) => document.getElementById(id).value;

function credentialJSON(c) {
  const j = c.toJSON();
  j.clientExtensionResults = c.getClientExtensionResults();
  return j;
}

async function register() {
  const user = value("username");
  const begin = await post("/register/begin", { user });
  const options = PublicKeyCredential.parseCreationOptionsFromJSON(begin.publicKey);
  const credential = await navigator.credentials.create({ publicKey: options });
  const done = await post("/register/finish", { user, transaction: begin.transaction, credential: credentialJSON(credential) });
  show("ok", "Registered key #" + done.key.id + " for " + done.key.user);
}

async function finish(transaction, assertion) {
  lastFinish = { transaction, credential: credentialJSON(assertion) };
  const done = await post("/login/finish", lastFinish);
  show(done.result, done.result + ": " + done.reason_code + ": " + done.reason);
}

async function signIn() {
  const begin = await post("/login/begin", { username: value("username") });
  if (!begin.transaction) {
    show(begin.result, begin.result + ": " + begin.reason_code + ": " + begin.reason);
    return;
  }
  const options = PublicKeyCredential.parseRequestOptionsFromJSON(begin.publicKey);
  await finish(begin.transaction, await navigator.credentials.get({ publicKey: options }));
}

async function replay() {
  const done = await post("/login/finish", lastFinish);
  show(done.result, done.result + ": " + done.reason_code + ": " + done.reason);
}

// cross signs the user's challenge with the other user's key: keydesk
// must see that the key is not the user's.
async function cross() {
  const mine = await post("/login/begin", { username: value("username") });
  const theirs = await post("/login/begin", { username: value("other") });
  const options = PublicKeyCredential.parseRequestOptionsFromJSON(theirs.publicKey);
  options.challenge = PublicKeyCredential.parseRequestOptionsFromJSON(mine.publicKey).challenge;
  await finish(mine.transaction, await navigator.credentials.get({ publicKey: options }));
}

function guard(ceremony) {
  return async () => {
    show("", "Working…");
    delete statusLine.dataset.done;
    try {
      await ceremony();
    } catch (e) {
      show("failed", "Failed: " + e.name + ": " + e.message);
    }
  };
}

document.getElementById("register").addEventListener("click", guard(register));
document.getElementById("signin").addEventListener("click", guard(signIn));
document.getElementById("replay").addEventListener("click", guard(replay));
document.getElementById("cross").addEventListener("click", guard(cross));
