"""The Timeline view driven as a person would (headless Debian chromium, playwright; recipe as in test_browser.py).

Uploads a synthesised calm -> angry -> happy recording with its script, watches the progress, then checks that
the page shows the sections the service computes, plays an utterance clicked in the strip and a section with its
music, and offers the cue sheet for download. The screenshot (test-artifacts/tab-timeline.png) is the README's.
"""
from __future__ import annotations

import types

import pytest
import soundfile as sf

from esmr_core import timeline as T

from conftest import ARTIFACTS, chromium, request_host, upload

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SLOW = 180_000   # ms: a timeline on a busy 2-core machine


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    from esmr_core.data.passages import SR, synth_passages

    rec = synth_passages(seed=0, exact=True)
    path = tmp_path_factory.mktemp("tl-browser") / "three-passages.wav"
    sf.write(path, rec.samples, SR, subtype="PCM_16")
    return types.SimpleNamespace(path=path, joins=rec.joins, script=rec.script)


@pytest.fixture(scope="module")
def page(app_url):
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        pg = context.new_page()
        hosts: set[str] = set()
        pg.on("request", lambda req: hosts.add(request_host(req.url)))
        pg.goto(app_url, wait_until="load")
        pg.get_by_role("tab", name="Timeline").click()
        pg.locator("#tl-btn").wait_for(timeout=60_000)
        yield types.SimpleNamespace(page=pg, hosts=hosts)


def test_timeline_view_shows_plays_and_offers_the_cue_sheet(page, svc, recording):
    pg = page.page
    upload(pg, "tl-audio", recording.path)
    pg.locator("#tl-script textarea").fill(recording.script)
    expected = svc.analyze_timeline(str(recording.path), script=recording.script)
    # progress while it works: the per-utterance messages of the analysis. A watcher installed before the click
    # records whether one was ever on the page (waiting for it to be visible races a fast run)
    pg.evaluate("""() => { window.__sawProgress = false;
        new MutationObserver(() => { if ((document.body.textContent || '').includes('reading utterance'))
            window.__sawProgress = true; }).observe(document.body, {subtree: true, childList: true,
                                                                  characterData: true}); }""")
    pg.locator("#tl-btn").click()
    n = len(expected["sections"])
    pg.locator(f"#tl-sections [data-testid='cell-{n - 1}-3']").wait_for(timeout=SLOW)
    assert pg.evaluate("window.__sawProgress"), "no progress message was shown while the recording was analysed"
    shown = [[pg.locator(f"#tl-sections [data-testid='cell-{r}-{c}']").inner_text().strip() for c in (3, 6)]
             for r in range(n)]
    assert shown == [[s["emotion"], s["track"]["title"]] for s in expected["sections"]]
    assert n == 3
    assert f"{n} sections" in pg.locator("#tl-summary").inner_text()
    pg.locator("#tl-plot .js-plotly-plot").wait_for(timeout=30_000)
    # the strip: one box per utterance, in the section's colour band; a click plays that utterance
    segs = pg.locator("#tl-strip [data-seg]")
    assert segs.count() == len(expected["segments"])
    segs.nth(5).click()
    pg.locator("#tl-segment-player [data-testid='download-link']").wait_for(state="attached", timeout=30_000)
    assert "Utterance 6" in pg.locator("#tl-segment-info").inner_text()
    # a section with its music, and its track alone (the first section is preselected: choose the last)
    pg.locator("#tl-section-pick input").click()
    pg.locator("ul[role=listbox] li").nth(n - 1).click()
    pg.locator("#tl-mix-player [data-testid='download-link']").wait_for(state="attached", timeout=30_000)
    pg.locator("#tl-track-player [data-testid='download-link']").wait_for(state="attached", timeout=30_000)
    pg.get_by_text(f"Section {n}", exact=False).first.wait_for(timeout=30_000)
    # the cue sheet files: the CSV holds the sections the service computed
    link = pg.locator("#tl-cues a[href*='cue-sheet.csv']").first
    link.wait_for(state="attached", timeout=30_000)
    cues = T.read_cue_csv(pg.request.get(link.get_attribute("href")).text())
    keys = ("section", "start_s", "end_s", "emotion", "track", "track_id")
    assert [{k: c[k] for k in keys} for c in cues] == [{k: c[k] for k in keys} for c in expected["cues"]]
    assert all(c["file"].startswith("media/music/") for c in cues)   # a URL of the app, not a server path
    assert "Traceback" not in pg.locator("body").inner_text()
    pg.screenshot(path=str(ARTIFACTS / "tab-timeline.png"), full_page=True)


def test_timeline_error_is_readable(page, tmp_path):
    pg = page.page
    bad = tmp_path / "minutes.wav"
    bad.write_text("minutes of the meeting, not a recording\n" * 20)
    upload(pg, "tl-audio", bad, attached=False)
    pg.locator("#tl-btn").click()
    pg.get_by_text("is not an audio file", exact=False).first.wait_for(timeout=SLOW)
    assert "Traceback" not in pg.locator("body").inner_text()
    # under the button, the previous result cleared, and still there after gradio's toasts are gone
    assert "is not an audio file" in pg.locator("#tl-error").inner_text()
    pg.wait_for_function("() => !document.querySelector('#tl-summary').innerText.trim()", timeout=30_000)
    cells = pg.locator("#tl-sections [data-testid='cell-0-3']")   # an empty table keeps one blank row
    assert cells.count() == 0 or not cells.first.inner_text().strip(), cells.first.inner_text()
    assert not pg.locator("#tl-summary").inner_text().strip()
    pg.wait_for_timeout(10_500)
    assert "is not an audio file" in pg.locator("#tl-error").inner_text()


def test_timeline_page_requests_nothing_outside_loopback(page):
    assert page.hosts and page.hosts <= {"127.0.0.1"}, sorted(page.hosts - {"127.0.0.1"})
