"""About: five plain lines first (what, how, trained on what, the limits, the papers), then the model cards folded
(their YAML front matter is metadata, not shown), then the credits."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from esmr_core.paths import checkpoints_dir

SUMMARY = """
1. **What it does:** you speak, it hears the emotion in your voice and answers with music of that emotion from its
   catalogue of 336 game and film excerpts; you sing, it finds songs that suit your range, in the key to sing them in.
2. **How:** a model places voices and music in one shared space where nearby means "same emotion" (contrastive
   learning); the music nearest your voice is the answer. A second model (MATE) reads voice and words for comparison.
3. **Trained on:** synthetic speech (text-to-speech sentences) and real voices made emotional by rule, not on
   recordings of real emotion; the singing models on synthetic singers. Everything runs on this machine.
4. **Limits:** treat a reading as a guess. The voice alone often misreads real acted emotion, speech recognition
   is English only and unreliable on emotional speech, and the catalogue has far more sad and tender music than happy.
5. **Papers:** [Doh, Won, Choi & Nam, *Textless Speech-to-Music Retrieval Using Emotion Similarity*, ICASSP 2023](https://arxiv.org/abs/2303.10539)
   ([their demo](https://seungheondoh.github.io/speech-to-music-demo/)); [Yakura, Watanabe & Goto, *Self-Supervised
   Contrastive Learning for Singing Voices*, IEEE/ACM TASLP 2022](https://dblp.org/search?q=Self-Supervised+Contrastive+Learning+for+Singing+Voices);
   MATE after Hong, Kim, Lee & Kim (KAIST); the song recommender after Lee, Jang, Kim, Kim & Kim (D&A Conference 2022).
""".strip()


def strip_front_matter(text: str) -> str:
    """A model card without its leading YAML block (--- ... ---), which Markdown would show as a heading."""
    lines = text.lstrip("\ufeff").splitlines()
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() == "---":
                return "\n".join(lines[i + 1:]).lstrip("\n")
    return text


TITLES = {"esmr-default": "Voice → music: the shared speech-music space (esmr-default)",
          "mate-default": "MATE: emotion from the voice and the words (mate-default)",
          "sscl-timbre": "Singing: voice-colour encoder (sscl-timbre)",
          "sscl-expression": "Singing: way-of-singing encoder (sscl-expression)",
          "tjae": "Singing: overall-sound encoder (tjae)"}


def card_heading(text: str) -> str | None:
    return next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), None)


def model_cards(svc) -> list[tuple[str, str]]:
    """(title, Markdown) of each checkpoint's model card: the retrieval model and MATE first."""
    folders = [svc.config.checkpoint, svc.config.mate_checkpoint,
               *sorted(p for p in checkpoints_dir().iterdir() if p.is_dir())]
    seen: set[Path] = set()
    out = []
    for folder in folders:
        card = Path(folder) / "README.md"
        if card.is_file() and Path(folder).resolve() not in seen:
            seen.add(Path(folder).resolve())
            text = strip_front_matter(card.read_text(encoding="utf-8"))
            heading = card_heading(text)
            body = "\n".join(line for line in text.splitlines() if line.strip() != f"# {heading}").strip()
            name = Path(folder).name
            out.append((TITLES.get(name, (heading or name).replace("`", "")), body))
    return out


def credits_markdown(svc) -> str:
    """The credits section of the service's About text (its last part)."""
    return svc.about_markdown().split("\n\n---\n\n")[-1]


def about_tab(svc) -> None:
    gr.Markdown("## In five lines\n\n" + SUMMARY, elem_id="about-md")
    gr.Markdown("### The models (their cards, folded)")
    for title, text in model_cards(svc):
        with gr.Accordion(title, open=False):
            gr.Markdown(text)
    with gr.Accordion("Music, songs and credits", open=False):
        gr.Markdown(credits_markdown(svc), elem_id="about-credits")
