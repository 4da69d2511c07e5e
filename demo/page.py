"""What the page itself carries: the theme (label and help-text colours at WCAG AA contrast), the CSS of the result
lists (fewer columns on narrow screens, tabs that fit a phone) and the small scripts the components run.

Scripts (each a `js_on_load` of one gr.HTML, so they run where the component lives and nowhere else):
- PLAYERS_JS: a list of tracks / songs, each row with its own Play button and <audio>; one plays at a time across
  the page (any <audio> that starts pauses the others); a click on an item of the list's "pick" buttons triggers
  a gradio "click" event with the item's id.
- map_click_js(plot): a click on a point of the Plotly map in `plot` triggers a "click" event with the point's id
  (gradio 6.31's gr.Plot has no click event); the reply plays it.
"""
from __future__ import annotations

import gradio as gr

# Soft's label / help text colours are grey-400/500 on tinted fills (2.4-3.6 : 1); these are grey-700 / grey-600:
# 10.3 : 1 and 7.6 : 1 on white, >= 6.3 : 1 on the palest fills used.
TEXT_STRONG = "#374151"
TEXT_HELP = "#4b5563"


def theme() -> gr.themes.Base:
    return gr.themes.Soft().set(
        block_label_text_color=TEXT_STRONG, block_label_text_color_dark="#e5e7eb",
        block_title_text_color=TEXT_STRONG, block_info_text_color=TEXT_HELP, block_info_text_color_dark="#d1d5db",
        body_text_color_subdued=TEXT_HELP, body_text_color_subdued_dark="#d1d5db",
        block_label_background_fill="#ffffff", checkbox_label_text_color=TEXT_STRONG,
        input_placeholder_color="#6b7280",
        # the primary buttons: white on indigo-700 (7.9 : 1); Soft's indigo-500 is 4.47 : 1
        button_primary_background_fill="#4338ca", button_primary_background_fill_hover="#3730a3",
        button_primary_text_color="#ffffff",
    )


CSS = """
/* the selected tab: Soft's indigo-500 is 4.47 : 1 on white; indigo-700 is 7.9 : 1 */
.tab-container button.selected { color: #4338ca !important; }
.prose a, .esmr-note a { color: #4338ca; }
.esmr-list { display: flex; flex-direction: column; gap: 6px; margin: 4px 0; }
.esmr-row { display: grid; grid-template-columns: 2.6em 1fr auto; align-items: center; gap: 8px;
            border: 1px solid #d1d5db; border-radius: 8px; padding: 6px 10px; background: #fff; }
.esmr-row.playing { border-color: #4338ca; box-shadow: 0 0 0 2px #c7d2fe; }
.esmr-row .esmr-play { width: 2.4em; height: 2.4em; border-radius: 50%; border: none; background: #4338ca;
                        color: #fff; font-size: 15px; cursor: pointer; }
.esmr-row .esmr-play:focus-visible { outline: 3px solid #111827; outline-offset: 2px; }
.esmr-row .esmr-title { font-weight: 600; color: #111827; }
.esmr-row .esmr-sub { color: #374151; font-size: 0.9em; }
.esmr-row .esmr-score { color: #374151; font-size: 0.85em; text-align: right; white-space: nowrap; }
.esmr-row .esmr-time { color: #374151; font-size: 0.8em; }
.esmr-mood { display: inline-block; padding: 0 6px; border-radius: 9px; color: #111827; font-size: 0.85em; }
.esmr-note { color: #374151; font-size: 0.92em; margin: 6px 0; }
.esmr-summary { font-size: 1.2em; font-weight: 600; color: #111827; margin: 4px 0 8px; }
.esmr-error { border: 2px solid #b91c1c; background: #fef2f2; color: #7f1d1d; border-radius: 8px; padding: 10px 12px; }
.esmr-placeholder { color: #374151; border: 1px dashed #9ca3af; border-radius: 8px; padding: 14px; }
.esmr-songs .esmr-row { grid-template-columns: 2em 1fr auto; }
.esmr-songs .esmr-reasons { margin: 4px 0 0 0; padding-left: 1.1em; color: #374151; font-size: 0.9em; }
.esmr-pick { border: 1px solid #4338ca; color: #312e81; background: #eef2ff; border-radius: 6px; padding: 4px 8px;
             cursor: pointer; font-size: 0.9em; }
.esmr-pick[aria-pressed=true] { background: #4338ca; color: #fff; }
.esmr-players { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 8px; }
.esmr-players .esmr-row { grid-template-columns: 2.6em 1fr; }
.esmr-table { border-collapse: collapse; width: 100%; font-size: 0.92em; color: #111827; }
.esmr-table th, .esmr-table td { border-bottom: 1px solid #e5e7eb; padding: 4px 6px; text-align: left; }
@media (max-width: 640px) {
  .esmr-wide { display: none; }
  .esmr-row { grid-template-columns: 2.6em 1fr; }
  .esmr-row .esmr-score { grid-column: 2; text-align: left; }
  .esmr-songs .esmr-row { grid-template-columns: 2em 1fr; }
  .esmr-songs .esmr-row .esmr-pick { grid-column: 2; justify-self: start; }
  /* the Timeline's sections table: without the arousal, valence and artist columns (the section's text has them) */
  #tl-sections [data-testid="header-4"], #tl-sections [data-testid="header-5"], #tl-sections [data-testid="header-7"],
  #tl-sections [role=gridcell][data-testid$="-4"], #tl-sections [role=gridcell][data-testid$="-5"],
  #tl-sections [role=gridcell][data-testid$="-7"] {
      display: none !important; }
  /* all tabs on one line of a phone: gradio moves the tabs that do not fit into a "..." menu */
  .tab-container button { padding: 4px 3px !important; font-size: 12px !important; min-width: 0 !important;
      letter-spacing: -0.02em; flex-shrink: 0 !important; white-space: nowrap !important; }
}
"""

# The players of one list. Each row: <button class="esmr-play" data-audio="ID"> and <audio id="ID">. Delegated
# listeners on the component's element survive its re-renders.
PLAYERS_JS = """
const label = (btn, playing) => {
  btn.textContent = playing ? '❚❚' : '▶';
  btn.setAttribute('aria-pressed', playing ? 'true' : 'false');
  const row = btn.closest('.esmr-row'); if (row) row.classList.toggle('playing', playing);
};
element.addEventListener('click', (e) => {
  const btn = e.target.closest('button.esmr-play');
  if (btn) {
    const audio = element.querySelector('audio[data-for="' + btn.dataset.audio + '"]');
    if (!audio) return;
    if (audio.paused) { audio.play().catch(() => {}); } else { audio.pause(); }
    return;
  }
  const pick = e.target.closest('button.esmr-pick');
  if (pick) { trigger('click', {item: pick.dataset.item}); }
});
element.addEventListener('play', (e) => {
  document.querySelectorAll('audio').forEach((a) => { if (a !== e.target && !a.paused) a.pause(); });
  const btn = element.querySelector('button.esmr-play[data-audio="' + e.target.dataset.for + '"]');
  if (btn) label(btn, true);
}, true);
['pause', 'ended'].forEach((name) => element.addEventListener(name, (e) => {
  const btn = element.querySelector('button.esmr-play[data-audio="' + e.target.dataset.for + '"]');
  if (btn) label(btn, false);
}, true));
element.addEventListener('timeupdate', (e) => {
  const t = element.querySelector('[data-time="' + e.target.dataset.for + '"]');
  if (t && isFinite(e.target.duration)) {
    const f = (s) => Math.floor(s / 60) + ':' + String(Math.floor(s % 60)).padStart(2, '0');
    t.textContent = f(e.target.currentTime) + ' / ' + f(e.target.duration);
  }
}, true);
"""


def map_click_js(plot_elem_id: str) -> str:
    """js_on_load of a gr.HTML: a click on a point of the Plotly figure inside #plot_elem_id triggers this
    component's "click" event with {item: the point's customdata (its id)}; re-attached when the plot is redrawn
    into a new element."""
    return PLAYERS_JS + """
const hook = () => {
  const plot = document.querySelector('#%s .js-plotly-plot');
  if (!plot || plot.__esmrClick || typeof plot.on !== 'function') return;
  plot.__esmrClick = true;
  plot.on('plotly_click', (ev) => {
    const pt = ev && ev.points && ev.points[0];
    if (pt && pt.customdata !== undefined && pt.customdata !== null && pt.customdata !== '') {
      trigger('click', {item: String(pt.customdata)});
    }
  });
};
new MutationObserver(hook).observe(document.body, {childList: true, subtree: true});
hook();
""" % plot_elem_id


# After a result: bring the list of music into view when it is not (on a phone it lies under the input).
def scroll_into_view_js(elem_id: str) -> str:
    return """() => { const el = document.getElementById('%s'); if (!el) return;
  const r = el.getBoundingClientRect();
  const want = Math.min(r.height, window.innerHeight * 0.8);
  if (r.top < 0 || r.top + want > window.innerHeight) { el.scrollIntoView({block: 'start', behavior: 'instant'}); }
}""" % elem_id
