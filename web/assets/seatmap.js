// CineBook seat map: pick seats, hold them, count down, pay; live updates over a WebSocket.
(function () {
  "use strict";
  var script = document.getElementById("seatmap-script");
  var showId = script.getAttribute("data-show");
  var picked = new Set();
  var hold = null;          // the hold this page placed (the API's hold JSON)
  var timer = null;
  var renewing = false;
  var status = document.getElementById("status");

  function say(text) { status.textContent = text; }
  function seatEl(id) { return document.querySelector('.seat[data-id="' + id + '"]'); }
  function mine(id) { return hold !== null && hold.seats.indexOf(id) >= 0; }

  function setState(id, state) {
    var el = seatEl(id);
    if (!el) return;
    if (state === "held" && mine(id)) state = "mine";
    el.setAttribute("data-state", state);
    var label = el.getAttribute("aria-label").replace(/, [a-z]+$/, ", " + (state === "mine" ? "yours" : state));
    el.setAttribute("aria-label", label);
    if (state !== "free") { picked.delete(id); el.classList.remove("picked"); }
  }

  function toggle(el) {
    var id = Number(el.getAttribute("data-id"));
    if (el.getAttribute("data-state") !== "free") { say("Seat " + el.getAttribute("aria-label").split(",")[0] + " is not free."); return; }
    if (picked.has(id)) { picked.delete(id); el.classList.remove("picked"); }
    else { picked.add(id); el.classList.add("picked"); }
    say(picked.size + " seat(s) selected.");
  }

  document.querySelectorAll(".seat").forEach(function (el) {
    el.addEventListener("click", function () { toggle(el); });
    el.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(el); }
    });
  });

  function api(method, path, body) {
    var init = { method: method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) { init.headers["content-type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (r) {
      if (r.status === 204) return null;
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.error ? j.error.message : "Something went wrong.");
        return j;
      });
    });
  }

  function showCart() {
    var cart = document.getElementById("cart");
    cart.hidden = hold === null;
    if (hold === null) return;
    hold.seats.forEach(function (id) { setState(id, "held"); });
    document.getElementById("cart-seats").textContent = hold.labels.join(", ");
    var t = hold.total;
    document.getElementById("cart-total").textContent = (t.amount_minor / 100).toFixed(2) + " " + t.currency;
    if (timer) clearInterval(timer);
    timer = setInterval(tick, 1000);
    tick();
  }

  function tick() {
    if (hold === null) return;
    var left = Math.max(0, Math.round((hold.expires_at_ms - Date.now()) / 1000));
    document.getElementById("countdown").textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
    if (left === 0) { say("Your hold expired; the seats were released."); dropHold(); }
    else if (left < 60 && !renewing) {
      renewing = true;
      api("POST", "/api/holds/" + hold.hold_id + "/renew").then(function (h) { hold = h; renewing = false; })
        .catch(function () { renewing = false; });
    }
  }

  function dropHold() {
    if (timer) clearInterval(timer);
    var old = hold; hold = null;
    if (old) old.seats.forEach(function (id) { var el = seatEl(id); if (el && el.getAttribute("data-state") === "mine") setState(id, "free"); });
    showCart();
  }

  function place(body) {
    if (hold !== null) { say("Give your held seats back first, or pay for them."); return; }
    body.show_id = Number(showId);
    api("POST", "/api/holds", body).then(function (h) {
      hold = h; picked.clear();
      document.querySelectorAll(".seat.picked").forEach(function (el) { el.classList.remove("picked"); });
      say("Held " + h.labels.join(", ") + ".");
      showCart();
    }).catch(function (e) { say(e.message); });
  }

  document.getElementById("hold").addEventListener("click", function () {
    if (picked.size === 0) { say("Choose seats on the map first."); return; }
    place({ seats: Array.from(picked) });
  });
  document.getElementById("best").addEventListener("submit", function (e) {
    e.preventDefault();
    place({ best: { count: Number(document.getElementById("best-count").value) } });
  });
  document.getElementById("release").addEventListener("click", function () {
    if (hold === null) return;
    api("DELETE", "/api/holds/" + hold.hold_id).then(function () { say("Seats given back."); dropHold(); })
      .catch(function (e) { say(e.message); });
  });
  document.getElementById("checkout").addEventListener("submit", function (e) {
    e.preventDefault();
    if (hold === null) return;
    api("POST", "/api/holds/" + hold.hold_id + "/checkout", {
      name: document.getElementById("name").value,
      email: document.getElementById("email").value
    }).then(function (o) {
      if (o.checkout_url) window.location.href = o.checkout_url;
      else say("The payment page is not ready yet; please press Pay again in a moment.");
    }).catch(function (e) { say(e.message); });
  });

  function applyMap(map) {
    map.seats.forEach(function (s) { setState(s.id, s.state); });
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/api/shows/" + showId + "/live");
    ws.onmessage = function (ev) {
      var m = JSON.parse(ev.data);
      if (m.type === "snapshot") applyMap(m.map);
      else if (m.type === "changes") m.changes.forEach(function (c) { setState(c.seat_id, c.state); });
    };
    // A reconnect starts with a fresh snapshot, so nothing is missed.
    ws.onclose = function () { setTimeout(connect, 1000); };
  }
  // After a reload: the hold the session cookie names on this show (the server checked it).
  var saved = script.getAttribute("data-hold");
  if (saved) {
    try { hold = JSON.parse(saved); } catch (e) { hold = null; }
    if (hold !== null) { say("Your seats " + hold.labels.join(", ") + " are still held."); showCart(); }
  }
  connect();
})();
