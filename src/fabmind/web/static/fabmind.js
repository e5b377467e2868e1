// fabmind dashboard: small helpers, no framework, no CDN.
async function fmPost(url, body) {
  const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
                              body: JSON.stringify(body || {}), credentials: "same-origin"});
  const data = await r.json().catch(() => ({}));
  if (!r.ok) { alert((data.title || "Error") + ": " + (data.detail || r.status)); throw new Error(data.detail); }
  return data;
}
async function fmAlarm(id, action) {
  let body = {};
  if (action === "shelve") body = {minutes: 60, reason: prompt("Reason for shelving?") || "shelved from dashboard"};
  await fmPost(`/api/alarms/${encodeURIComponent(id)}/${action}`, body);
  location.reload();
}
function fmLiveAlarms(tableId) {
  if (!window.EventSource) return;
  const es = new EventSource("/api/alarms/stream");
  es.addEventListener("alarm", (ev) => {
    const a = JSON.parse(ev.data);
    const tb = document.querySelector(`#${tableId} tbody`);
    if (!tb || document.getElementById("alarm-" + a.alarm_id)) return;
    const tr = document.createElement("tr");
    tr.id = "alarm-" + a.alarm_id;
    tr.innerHTML = `<td>${a.ts}</td><td><a href="/alarms/${encodeURIComponent(a.alarm_id)}">${a.chamber_id}</a></td>` +
      `<td>${a.source}</td><td><span class="pill p-${a.priority}">${a.priority}</span></td><td>${a.state}</td>` +
      `<td>${a.message}</td><td></td>`;
    tb.prepend(tr);
  });
}
