// The page's only script: WebAuthn ceremonies with options from the server,
// in the JSON forms of WebAuthn Level 3 (§5.1.9, §5.1.10, §5.1.8).
"use strict";

const statusLine = document.getElementById("status");

// show tells how a ceremony ended; data-done marks the end for the test.
function show(state, text) {
  statusLine.textContent = text;
  statusLine.className = state;
  statusLine.dataset.done = state;
}

function working() {
  statusLine.textContent = "Working…";
  statusLine.className = "";
  delete statusLine.dataset.done;
}

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await r.json();
  if (!r.ok) {
    throw new Error("server: " + answer.error);
  }
  return answer;
}

function username() {
  return document.getElementById("username").value;
}

async function register() {
  const begin = await post("/register/begin", { username: username() });
  const options = PublicKeyCredential.parseCreationOptionsFromJSON(begin.publicKey);
  const credential = await navigator.credentials.create({ publicKey: options });
  const done = await post("/register/finish", credential.toJSON());
  show("ok", "Registered: " + done.format + " credential " + done.id);
}

async function signIn() {
  const begin = await post("/login/begin", { username: username() });
  const options = PublicKeyCredential.parseRequestOptionsFromJSON(begin.publicKey);
  const assertion = await navigator.credentials.get({ publicKey: options });
  const body = assertion.toJSON();
  // toJSON leaves out client extension results it does not know; appid is
  // the one this test is about, so it is sent as the browser gave it.
  body.clientExtensionResults = assertion.getClientExtensionResults();
  const done = await post("/login/finish", body);
  show("ok", "Signed in: counter " + done.counter + ", appid " + done.appid);
}

function guard(ceremony) {
  return async () => {
    working();
    try {
      await ceremony();
    } catch (e) {
      show("failed", "Failed: " + e.name + ": " + e.message);
    }
  };
}

document.getElementById("register").addEventListener("click", guard(register));
document.getElementById("signin").addEventListener("click", guard(signIn));
