// Passkeys (docs/passkeys.md): the "Sign in with a passkey" and "Add a
// passkey" forms, and the "Use a passkey" buttons of forms that ask a
// signed-in person for their second factor again. Each form posts like
// any other; this script only fills in its two hidden fields first: it
// asks this server for a challenge (with the page's CSRF token in a
// header), lets the browser's WebAuthn dialog answer it, and puts the
// answer (JSON) in the form. Without JavaScript or WebAuthn the forms and
// buttons stay hidden.
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) {
      return null;
    }
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) {
      raw += String.fromCharCode(bytes[i]);
    }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(options) {
    var key = options.publicKey;
    key.challenge = toBytes(key.challenge);
    key.user.id = toBytes(key.user.id);
    (key.excludeCredentials || []).forEach(function (c) {
      c.id = toBytes(c.id);
    });
    return { publicKey: key };
  }

  function requestOptions(options) {
    var key = options.publicKey;
    key.challenge = toBytes(key.challenge);
    (key.allowCredentials || []).forEach(function (c) {
      c.id = toBytes(c.id);
    });
    return { publicKey: key };
  }

  function registration(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toText(response.attestationObject),
        clientDataJSON: toText(response.clientDataJSON),
        transports: response.getTransports ? response.getTransports() : undefined
      },
      extensions: {}
    };
  }

  function assertion(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toText(response.authenticatorData),
        clientDataJSON: toText(response.clientDataJSON),
        signature: toText(response.signature),
        userHandle: toText(response.userHandle)
      },
      extensions: {}
    };
  }

  function say(form, text) {
    var box = form.querySelector("[data-passkey-error]");
    if (box) {
      box.textContent = text;
      box.hidden = !text;
    }
  }

  function field(form, name) {
    return form.querySelector("input[name='" + name + "']");
  }

  function challenge(form, url) {
    var register = url === "/account/passkeys/challenge";
    var name = field(form, "name");
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRF-Token": field(form, "csrf_token").value
      },
      body: JSON.stringify(register ? { name: name ? name.value : "" } : {})
    }).then(function (answer) {
      return answer.json().then(function (body) {
        if (!answer.ok) {
          throw new Error(body.detail || "The server refused to start a passkey request.");
        }
        return body;
      });
    });
  }

  function failed(form) {
    return function (error) {
      say(form, error && error.name === "NotAllowedError"
        ? "The passkey request was cancelled or timed out."
        : (error && error.message) || "The passkey request failed.");
    };
  }

  function run(form) {
    var register = form.getAttribute("data-passkey") === "register";
    var url = register ? "/account/passkeys/challenge" : "/auth/passkey/challenge";
    say(form, "");
    challenge(form, url)
      .then(function (body) {
        field(form, "passkey_ceremony").value = body.ceremony;
        return register
          ? navigator.credentials.create(creationOptions(body.options))
          : navigator.credentials.get(requestOptions(body.options));
      })
      .then(function (credential) {
        var answer = register ? registration(credential) : assertion(credential);
        field(form, "passkey_response").value = JSON.stringify(answer);
        form.submit();
      })
      .catch(failed(form));
  }

  // A signed-in person confirming it is them: the challenge names only
  // their passkeys, and the answer goes with whatever the form does.
  function confirmWith(button) {
    var form = button.form;
    say(form, "");
    challenge(form, "/account/passkeys/confirm")
      .then(function (body) {
        field(form, "passkey_ceremony").value = body.ceremony;
        return navigator.credentials.get(requestOptions(body.options));
      })
      .then(function (credential) {
        field(form, "passkey_response").value = JSON.stringify(assertion(credential));
        form.submit();
      })
      .catch(failed(form));
  }

  function start() {
    var forms = document.querySelectorAll("form[data-passkey]");
    Array.prototype.forEach.call(forms, function (form) {
      var section = form.closest("[data-passkey-section]");
      if (section) {
        section.hidden = false;
      }
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        run(form);
      });
    });
    var buttons = document.querySelectorAll("button[data-passkey-confirm]");
    Array.prototype.forEach.call(buttons, function (button) {
      var section = button.closest("[data-passkey-section]");
      if (section) {
        section.hidden = false;
      }
      button.addEventListener("click", function () {
        confirmWith(button);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
