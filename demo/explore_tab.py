"""Explore: the shared speech-music space as a map you can click. A click on a point plays it and rings it;
the filters redraw the map on the same axes; nothing is preselected."""
from __future__ import annotations

import gradio as gr

from demo import page
from demo.guard import Media, user_errors
from demo.players import fixed_axes, map_coords, ring_trace, single_player


def explore_tab(svc, media: Media, tab: gr.Tab) -> None:
    """The map is drawn here but sent when the tab is opened: in the page's config gradio would copy it (and
    the choices) into every session's state (Limits.sessions)."""
    items = list(svc.map_items.values())
    labels = sorted({it["label"] for it in items})
    kinds = sorted({it["kind"] for it in items})

    def keep(it, sel_labels, sel_kinds) -> bool:
        return (not sel_labels or it["label"] in sel_labels) and (not sel_kinds or it["kind"] in sel_kinds)

    def choices(sel_labels, sel_kinds):   # only points that can play
        return [(f"{it['name']} [{it['kind']}: {it['label']}]", it["id"]) for it in items
                if keep(it, sel_labels, sel_kinds) and it.get("path")]

    def figure(sel_labels=None, sel_kinds=None, chosen: str | None = None):
        fig = svc.map_figure(labels=sel_labels or None, kinds=sel_kinds or None)
        xy = map_coords(svc.map, chosen) if chosen else None
        if xy is not None:
            it = svc.map_items.get(chosen, {})
            fig.add_trace(ring_trace([{"x": xy[0], "y": xy[1], "id": chosen, "name": it.get("name", chosen)}],
                                     "chosen", color="#b91c1c", size=24, width=4))
        return fixed_axes(fig, svc.map.coords_)

    gr.Markdown("The space the model shares between speech and music, flattened with UMAP: music (circles) and "
                "reference voices (stars), coloured by mood or emotion. **Click a point to hear it.** "
                "The filters keep the same axes; an empty filter shows everything.")
    with gr.Row():
        f_labels = gr.CheckboxGroup(labels, label="Emotion / mood", elem_id="explore-labels")
        f_kinds = gr.CheckboxGroup(kinds, label="Music or speech", elem_id="explore-kinds")
    plot = gr.Plot(label="Map of the shared space", elem_id="explore-plot")
    player = gr.HTML('<div class="esmr-note">Click a point of the map to hear it here.</div>',
                     js_on_load=page.map_click_js("explore-plot"), elem_id="explore-player")
    pick = gr.Dropdown(choices=[], value=None, label="Or choose a point from the list", elem_id="explore-pick",
                       allow_custom_value=True)   # hear() checks the id

    @user_errors
    def refilter(sel_labels, sel_kinds):
        return figure(sel_labels, sel_kinds), gr.update(choices=choices(sel_labels, sel_kinds), value=None)

    @user_errors
    def hear(item_id, sel_labels, sel_kinds):
        if not isinstance(item_id, str) or not item_id:
            return gr.skip(), gr.skip()
        it = svc.map_point(item_id)
        return single_player(it, media.url(it.get("path"))), figure(sel_labels, sel_kinds, chosen=it["id"])

    @user_errors
    def clicked(sel_labels, sel_kinds, evt: gr.EventData):
        return hear(getattr(evt, "item", None), sel_labels, sel_kinds)

    for f in (f_labels, f_kinds):
        f.change(refilter, [f_labels, f_kinds], [plot, pick], api_visibility="private", show_progress="minimal")
    tab.select(refilter, [f_labels, f_kinds], [plot, pick], api_visibility="private", show_progress="minimal")
    player.click(clicked, [f_labels, f_kinds], [player, plot], api_visibility="private", show_progress="hidden")
    pick.input(hear, [pick, f_labels, f_kinds], [player, plot], api_visibility="private", show_progress="hidden")
    presets = [[["happy", "exciting", "funny"], []], [["sad", "calm", "tender"], []], [[], ["speech"]]]
    presets = [[[lab for lab in ls if lab in labels], ks] for ls, ks in presets]
    gr.Examples(presets, inputs=[f_labels, f_kinds], label="Views")
