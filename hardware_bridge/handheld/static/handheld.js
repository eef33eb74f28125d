// The handheld checking page. Talks ONLY to the bridge that served it (same origin), so it
// works with the hub down. Everything shown is set with textContent: nothing from a scan,
// a name or the server is ever parsed as HTML.
"use strict";
(function () {
  const TOKEN = "tickethub.handheld.token";
  const $ = (id) => document.getElementById(id);
  const ID_NUMBER = /^\d{17}[\dXx]$/;
  const ERRORS = {
    WRONG_PIN: "口令错误",
    TOO_MANY_TRIES: "尝试次数过多，请稍候",
    HANDHELD_OFF: "检票页未开启",
    UNAUTHORIZED: "请重新登录",
    INVALID_REQUEST: "输入有误",
  };
  let busy = false;
  let stream = null;
  let hideTimer = null;

  function token() { return sessionStorage.getItem(TOKEN) || ""; }

  async function call(method, path, body) {
    const headers = {"Accept": "application/json"};
    if (token()) headers["Authorization"] = "Bearer " + token();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store"});
    let data = {};
    try { data = await resp.json(); } catch (e) { data = {}; }
    if (resp.status === 401 && path !== "/handheld/api/session") { signOut(); }
    if (!resp.ok) {
      const zh = ERRORS[data.code];
      throw new Error((zh ? zh + " · " : "") + (data.message || ("HTTP " + resp.status)));
    }
    return data;
  }

  // -- the verdict ---------------------------------------------------------------------
  function show(d) {
    const box = $("result");
    box.className = d.allow ? "allow" : "deny";
    $("result-zh").textContent = d.zh || (d.allow ? "通过" : "拒绝");
    $("result-en").textContent = d.en || "";
    const more = [];
    if (d.entries_left !== undefined && d.entries_left !== null) more.push("剩余次数 entries left: " + d.entries_left);
    if (d.count) more.push("人数 people: " + d.count);
    if (d.offline) more.push("离线判定 decided offline");
    $("result-more").textContent = more.join(" · ");
    box.dataset.code = d.code || "";
    box.hidden = false;
    clearTimeout(hideTimer);
    hideTimer = setTimeout(hide, d.allow ? 2500 : 5000);
    if (navigator.vibrate) navigator.vibrate(d.allow ? 80 : [200, 100, 200]);
    refresh();
  }

  function hide() {
    $("result").hidden = true;
    $("scan").focus();
  }

  function problem(where, err) { $(where).textContent = String(err.message || err); }

  async function check(value, medium) {
    value = (value || "").trim();
    if (!value || busy) return;
    busy = true;
    $("desk-error").textContent = "";
    try {
      show(await call("POST", "/handheld/api/check", {value, medium}));
    } catch (err) {
      problem("desk-error", err);
    } finally {
      busy = false;
    }
  }

  // -- keyboard wedge: the scanner types the code and Enter into the focused field -----
  function onScanKey(ev) {
    if (ev.key !== "Enter") return;
    ev.preventDefault();
    const value = $("scan").value;
    $("scan").value = "";
    // a scanner reading an ID card's number types it like any code
    check(value, ID_NUMBER.test(value.trim()) ? "id_card" : "qr");
  }

  function checkId() {
    const value = $("idno").value;
    $("idno").value = "";
    check(value, "id_card");
  }

  // -- camera: jsQR decodes frames (or a photo) in the page -----------------------------
  function decode(imageData) {
    const found = window.jsQR(imageData.data, imageData.width, imageData.height, {inversionAttempts: "attemptBoth"});
    return found ? found.data : null;
  }

  function frameOf(source, width, height) {
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext("2d", {willReadFrequently: true});
    ctx.drawImage(source, 0, 0, width, height);
    return ctx.getImageData(0, 0, width, height);
  }

  // decode an image (URL or blob URL) — the photo path, and what tests call
  function decodeImage(url) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => {
        const scale = Math.min(1, 1280 / Math.max(img.naturalWidth, img.naturalHeight));
        resolve(decode(frameOf(img, Math.round(img.naturalWidth * scale), Math.round(img.naturalHeight * scale))));
      };
      img.onerror = () => reject(new Error("图片无法读取 image unreadable"));
      img.src = url;
    });
  }

  async function onPhoto(ev) {
    const file = ev.target.files && ev.target.files[0];
    ev.target.value = "";
    if (!file) return;
    const url = URL.createObjectURL(file);
    try {
      const text = await decodeImage(url);
      if (text) check(text, "qr");
      else $("desk-error").textContent = "未识别到二维码 · no QR code found";
    } catch (err) {
      problem("desk-error", err);
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  async function camera() {
    if (stream) { stopCamera(); return; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      $("desk-error").textContent = "此连接不能直接用摄像头（需 HTTPS），请用“拍照识别” · live camera needs HTTPS here: use Photo";
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}});
    } catch (err) {
      problem("desk-error", err);
      return;
    }
    const video = $("video");
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const tick = () => {
      if (!stream) return;
      if (video.readyState >= 2 && !busy && $("result").hidden) {
        const text = decode(frameOf(video, video.videoWidth, video.videoHeight));
        if (text) check(text, "qr");
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("video").hidden = true;
  }

  // -- manual admission ----------------------------------------------------------------
  async function admit() {
    const reason = $("reason").value.trim();
    const count = parseInt($("count").value, 10) || 1;
    if (!reason) { $("desk-error").textContent = "请填写放行原因 · a reason is required"; return; }
    try {
      show(await call("POST", "/handheld/api/admit", {reason, count}));
      $("reason").value = "";
      $("count").value = "1";
    } catch (err) {
      problem("desk-error", err);
    }
  }

  // -- session -------------------------------------------------------------------------
  async function signIn(ev) {
    ev.preventDefault();
    $("login-error").textContent = "";
    try {
      const s = await call("POST", "/handheld/api/session", {staff: $("staff").value.trim(), gate: $("gate").value.trim(), pin: $("pin").value});
      sessionStorage.setItem(TOKEN, s.token);
      $("pin").value = "";
      enter(s.staff);
    } catch (err) {
      problem("login-error", err);
    }
  }

  function enter(name) {
    $("login").hidden = true;
    $("desk").hidden = false;
    $("who").textContent = name;
    $("scan").focus();
    refresh();
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN);
    stopCamera();
    $("desk").hidden = true;
    $("login").hidden = false;
  }

  async function refresh() {
    if (!token()) return;
    try {
      const s = await call("GET", "/handheld/api/status");
      $("link").textContent = s.online ? "在线 online" : "离线 offline";
      $("link").className = s.online ? "online" : "offline";
      $("admitted").textContent = String(s.admitted_today);
      $("who").textContent = s.staff;
      $("desk").hidden = false;
      $("login").hidden = true;
    } catch (err) { /* signed out, or the bridge restarted: the login form is shown */ }
  }

  window.handheld = {decode, decodeImage, check};

  document.addEventListener("DOMContentLoaded", () => {
    if (!$("login-form")) return;  // the page is off (no PIN on this bridge)
    $("login-form").addEventListener("submit", signIn);
    $("scan").addEventListener("keydown", onScanKey);
    $("idno").addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); checkId(); } });
    $("check-id").addEventListener("click", checkId);
    $("camera").addEventListener("click", camera);
    $("photo").addEventListener("change", onPhoto);
    $("admit").addEventListener("click", admit);
    $("logout").addEventListener("click", signOut);
    $("result").addEventListener("click", hide);
    if (token()) refresh().then(() => { if (!$("desk").hidden) $("scan").focus(); });
    setInterval(refresh, 10000);
  });
})();
